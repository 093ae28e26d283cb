"""The database schema's revision: the one place that runs the Alembic migrations in `core/db/migrations`.

Alembic is driven from code (no alembic.ini): `make_engine` initialises an empty database to the head revision
and refuses any other database that is not at head; `creditshare db upgrade` calls `upgrade`. A database made
before migrations existed (today's tables, no `alembic_version`) is stamped as the baseline, then upgraded, so a
live gateway keeps its outbox, index and audit log.

Every upgrade runs in one transaction under a lock (PostgreSQL: an advisory lock; SQLite: `BEGIN IMMEDIATE`), and
re-reads the revision once it holds the lock: gateway processes opening one new database at once create the
tables once. `extra_versions` adds folders of revisions (the tests' stand-in for a newer creditshare).
"""

from __future__ import annotations

import enum
import os
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, func, inspect, select

from creditshare.core.exceptions import SchemaVersionError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"
VERSION_TABLE = "alembic_version"
#: The tables of the baseline: what `create_all` made before migrations existed.
BASELINE_TABLES = frozenset(
    {
        "api_clients",
        "audit_log",
        "batches",
        "idx_blocks",
        "idx_corrections",
        "idx_disputes",
        "idx_events",
        "idx_inquiries",
        "idx_member_events",
        "idx_state",
        "locks",
        "outbox",
    }
)
#: PostgreSQL advisory lock held (for one transaction) by whoever changes the schema.
_PG_LOCK_KEY = zlib.crc32(b"creditshare.core.db.schema")
_FIX = "back it up, then run `creditshare db upgrade`"


class State(enum.Enum):
    """Where a database stands relative to this creditshare's head revision."""

    EMPTY = "empty"  # no creditshare table at all: initialised to head when first opened
    UNVERSIONED = "unversioned"  # tables from before migrations, no revision: stamped as the baseline on upgrade
    BEHIND = "behind"
    CURRENT = "current"
    UNKNOWN = "unknown"  # a revision this creditshare does not have: a newer one upgraded the database


@dataclass(frozen=True)
class Status:
    """The database's revision (None if it has none), this code's head revision, and what that means."""

    current: str | None
    head: str
    state: State

    @property
    def problem(self) -> str | None:
        """One line saying what is wrong and what to do, or None when the database can be used as is."""
        if self.state is State.CURRENT:
            return None
        needs = f"this creditshare needs {self.head}"
        if self.state is State.EMPTY:
            return f"database has no creditshare tables, {needs}: run `creditshare db upgrade`"
        if self.state is State.UNVERSIONED:
            return f"database has no schema revision (made before migrations), {needs}: {_FIX}"
        if self.state is State.BEHIND:
            return f"database at revision {self.current}, {needs}: {_FIX}"
        return (
            f"database at revision {self.current}, unknown to this creditshare (which needs {self.head}): a newer "
            "creditshare upgraded it; run that version, or restore the backup taken before the upgrade"
        )

    def check(self) -> Status:
        """This status if the database is at head, else raise `SchemaVersionError` with the one-line fix."""
        if self.problem is not None:
            raise SchemaVersionError(self.problem)
        return self


@dataclass(frozen=True)
class Revision:
    """One revision of the history: its id and the first paragraph of its docstring."""

    id: str
    message: str


@dataclass(frozen=True)
class Upgrade:
    """What `upgrade` did: the status before, the revision after and the revisions applied, oldest first."""

    before: Status
    after: str
    applied: tuple[Revision, ...]

    @property
    def stamped(self) -> bool:
        """True when tables from before migrations were stamped as the baseline (not created)."""
        return self.before.state is State.UNVERSIONED


def config(connection: Connection | None = None, extra_versions: Sequence[Path] = ()) -> Config:
    """An Alembic config pointing at the package's migrations (plus `extra_versions`), with no ini file."""
    cfg = Config()
    cfg.set_main_option("script_location", _ini_value(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    folders = [MIGRATIONS / "versions", *extra_versions]
    cfg.set_main_option("version_locations", os.pathsep.join(_ini_value(p) for p in folders))
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    cfg.attributes["connection"] = connection
    return cfg


def history(extra_versions: Sequence[Path] = ()) -> list[Revision]:
    """Every revision, oldest (the baseline) first."""
    scripts = ScriptDirectory.from_config(config(extra_versions=extra_versions)).walk_revisions()
    return [Revision(s.revision, s.doc) for s in reversed(list(scripts))]


def head_revision(extra_versions: Sequence[Path] = ()) -> str:
    """The revision this code needs (Alembic refuses a history with several heads)."""
    head = ScriptDirectory.from_config(config(extra_versions=extra_versions)).get_current_head()
    assert head is not None, f"no revisions in {MIGRATIONS / 'versions'}"
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's revision, None if it has none (empty, or made before migrations)."""
    with engine.connect() as conn:
        return _current(conn)


def status(engine: Engine, extra_versions: Sequence[Path] = ()) -> Status:
    """Where the database stands relative to this code's head revision."""
    with engine.connect() as conn:
        return _status(conn, history(extra_versions))


def check_current(engine: Engine, extra_versions: Sequence[Path] = ()) -> Status:
    """The database's status if it is at head; raise `SchemaVersionError` (one line, with the fix) otherwise."""
    return status(engine, extra_versions).check()


def upgrade(engine: Engine, revision: str = "head", extra_versions: Sequence[Path] = ()) -> Upgrade:
    """Upgrade the database to `revision` (idempotent); tables from before migrations are stamped first."""
    return _upgrade(engine, revision, extra_versions, initialise_only=False)


def prepare(engine: Engine, extra_versions: Sequence[Path] = ()) -> Status:
    """What opening a database does: initialise an empty one to head, accept one at head, refuse anything else.

    Creating the tables of a database that has none is initialisation, not a schema change, so it needs no
    operator; upgrading one that holds data does (`creditshare db upgrade`, after a backup).
    """
    found = status(engine, extra_versions)
    if found.state is State.EMPTY:
        _upgrade(engine, "head", extra_versions, initialise_only=True)
        return status(engine, extra_versions)
    return found.check()


def new_revision(
    message: str, engine: Engine, *, version_dir: Path | None = None, extra_versions: Sequence[Path] = ()
) -> Path:
    """Write the next numbered revision, autogenerated from the models against `engine` (at head): for developers.

    Read and finish the file before committing it: revisions must stay additive and work on SQLite and
    PostgreSQL. It goes into `version_dir`, by default the package's `migrations/versions`.
    """
    numbers = [int(r.id) for r in history(extra_versions) if r.id.isdigit()]
    with engine.connect() as conn:
        script = command.revision(
            config(conn, extra_versions),
            message=message,
            autogenerate=True,
            rev_id=f"{max(numbers, default=0) + 1:04d}",
            version_path=version_dir,
        )
    assert script is not None and not isinstance(script, list)
    return Path(script.path)


def _upgrade(engine: Engine, revision: str, extra_versions: Sequence[Path], *, initialise_only: bool) -> Upgrade:
    revisions = history(extra_versions)
    with _schema_transaction(engine) as conn:
        before = _status(conn, revisions)  # again, now under the lock: another process may have been first
        if before.state is State.UNKNOWN or (initialise_only and before.state is not State.EMPTY):
            before.check()
            return Upgrade(before, before.head, ())
        cfg = config(conn, extra_versions)
        if before.state is State.UNVERSIONED:
            missing = BASELINE_TABLES - set(inspect(conn).get_table_names())
            if missing:
                raise SchemaVersionError(
                    f"database has some creditshare tables but not {', '.join(sorted(missing))}, so it is not the "
                    f"baseline {BASELINE} schema: restore a complete backup, or start from an empty database"
                )
            command.stamp(cfg, BASELINE)
        command.upgrade(cfg, revision)
        after = _current(conn)
    assert after is not None
    ids = [r.id for r in revisions]
    start = ids.index(before.current or BASELINE) + 1 if before.state is not State.EMPTY else 0
    return Upgrade(before, after, tuple(revisions[start : ids.index(after) + 1]))


@contextmanager
def _schema_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that holds the schema lock; commits when the block succeeds."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            # Table rebuilds (batch mode) copy and drop tables that others reference: no foreign key checks while
            # they run. The pragma is ignored inside a transaction, hence before BEGIN, and restored after.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock now; others wait (busy timeout)
                yield conn
                dangling = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                if dangling:
                    raise SchemaVersionError(
                        f"upgrade rolled back, the database is unchanged: it would leave {len(dangling)} row(s) "
                        f"of {dangling[0][0]} pointing at rows of {dangling[0][2]} that do not exist"
                    )
                conn.commit()
            finally:
                conn.rollback()
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        else:
            if engine.dialect.name == "postgresql":
                conn.execute(select(func.pg_advisory_xact_lock(_PG_LOCK_KEY)))  # released at commit or rollback
            yield conn
            conn.commit()


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _status(conn: Connection, revisions: list[Revision]) -> Status:
    head = revisions[-1].id
    tables = set(inspect(conn).get_table_names())
    current = _current(conn) if VERSION_TABLE in tables else None
    if current is None:
        state = State.UNVERSIONED if tables & BASELINE_TABLES else State.EMPTY
    elif current == head:
        state = State.CURRENT
    elif current in {r.id for r in revisions}:
        state = State.BEHIND
    else:
        state = State.UNKNOWN
    return Status(current, head, state)


def _ini_value(path: Path) -> str:
    return str(path).replace("%", "%%")  # Alembic's config interpolates `%(name)s`
