"""Schema migrations on real SQLite files and a real PostgreSQL: a fresh database equals the models; every revision
upgrades to head with its rows intact; a database from before migrations is adopted by `creditshare db upgrade`;
a database behind (or ahead of) the code is refused with a one-line fix by `make_engine`, `db current` and doctor;
gateway processes opening one new database at once create its tables once.

"A newer creditshare" is simulated by a throwaway revision in a temporary version folder (`extra_versions`).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
import re
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from psycopg import sql
from sqlalchemy import Engine, MetaData, inspect, select

from creditshare.cli.doctor import run_checks
from creditshare.core.config import Settings
from creditshare.core.db import Base, make_engine, schema
from creditshare.core.exceptions import ConfigError, SchemaVersionError
from creditshare.devtools.devchain import free_port
from tests.conftest import PG_ADMIN_URL

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "creditshare.cli"]
REVISIONS = [r.id for r in schema.history()]
HEAD = REVISIONS[-1]
NEWER = "9001"
BEHIND = f"database at revision {HEAD}, this creditshare needs {NEWER}: back it up, then run `creditshare db upgrade`"
NEWER_REVISION = '''"""Throwaway revision of the tests: a newer creditshare's schema change."""

import sqlalchemy as sa
from alembic import op

revision = "{newer}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("newer_notes", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("note", sa.Text()))
    # NOT NULL -> NULL: a full table rebuild on SQLite, of a table the outbox references
    with op.batch_alter_table("batches") as batch:
        batch.alter_column("item_count", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    raise NotImplementedError
'''


class Databases:
    """Fresh, empty databases of one backend; every engine made here is disposed (and every extra PostgreSQL
    database dropped) at the end."""

    def __init__(self, backend: str, tmp_path: Path, pg_url: str | None) -> None:
        self.backend, self.tmp_path, self.pg_url = backend, tmp_path, pg_url
        self.engines: list[Engine] = []
        self.extra_pg: list[str] = []

    def url(self) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{self.tmp_path / f'{uuid.uuid4().hex[:8]}.db'}"
        if self.pg_url is not None:  # the shared fixture's database first
            url, self.pg_url = self.pg_url, None
            return url
        name = f"creditshare_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.extra_pg.append(name)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    def engine(self, url: str | None = None, *, check_schema: bool = False) -> Engine:
        engine = make_engine(url or self.url(), check_schema=check_schema)
        self.engines.append(engine)
        return engine

    def close(self) -> None:
        for engine in self.engines:
            engine.dispose()
        if not self.extra_pg:
            return
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            for name in self.extra_pg:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(params=["sqlite", "postgresql"])
def dbs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Databases]:
    pg_url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None  # skips without a server
    databases = Databases(request.param, tmp_path, pg_url)
    yield databases
    databases.close()


@pytest.fixture
def newer(tmp_path: Path) -> Path:
    """A version folder holding one throwaway revision after this code's head."""
    folder = tmp_path / "newer_versions"
    folder.mkdir()
    (folder / f"{NEWER}_newer.py").write_text(NEWER_REVISION.format(newer=NEWER, down=HEAD))
    return folder


def schema_of(engine: Engine) -> dict[str, Any]:
    """Every table's columns, keys, indexes and unique constraints, as the database reports them. Not the column
    order: a revision's `add_column` appends, while `create_all` follows the order of the model's attributes."""
    insp = inspect(engine)
    return {
        table: {
            "columns": sorted(
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default"))) for c in insp.get_columns(table)
            ),
            "pk": insp.get_pk_constraint(table)["constrained_columns"],
            "fks": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                for f in insp.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (str(i["name"]), tuple(map(str, i["column_names"])), bool(i["unique"])) for i in insp.get_indexes(table)
            ),
            "uniques": sorted((str(u["name"]), tuple(u["column_names"])) for u in insp.get_unique_constraints(table)),
        }
        for table in sorted(insp.get_table_names())
    }


def model_differences(engine: Engine) -> list[Any]:
    """What Alembic's autogenerate would change to make the database match the models (nothing, we hope)."""
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)


def _value(column: Any, row: int) -> Any:
    kind = column.type.python_type
    if kind is bool:
        return row % 2 == 0
    if kind is int:
        return row + 1 if column.primary_key else 100 + row
    if kind is str:
        text = f"{column.name}-{row}"
        length = getattr(column.type, "length", None)
        return text[-length:] if length else text
    if kind is bytes:
        return bytes([row + 1]) * 32
    if kind is dt.datetime:
        return dt.datetime(2026, 1, 1 + row, 12, 30, tzinfo=dt.UTC)
    if kind is dt.date:
        return dt.date(2026, 1, 1 + row)
    raise AssertionError(f"no test value for {column.table.name}.{column.name} ({column.type})")


def fill_every_table(engine: Engine, rows: int = 2) -> set[str]:
    """Insert `rows` rows into every table the database has (whatever its revision), following foreign keys:
    row i points at row i of the referenced table, and a table's own row 1 at its row 0 (a correction)."""
    meta = MetaData()
    meta.reflect(engine)
    filled: set[str] = set()
    with engine.begin() as conn:
        for table in meta.sorted_tables:
            if table.name == schema.VERSION_TABLE:
                continue
            for i in range(rows):
                values = {}
                for column in table.columns:
                    fk = next(iter(column.foreign_keys), None)
                    if fk is None:
                        values[column.name] = _value(column, i)
                    elif fk.column.table is table:
                        values[column.name] = None if i == 0 else _value(fk.column, i - 1)
                    else:
                        values[column.name] = _value(fk.column, i)
                conn.execute(table.insert().values(values))
            filled.add(table.name)
    return filled


def rows_of(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        return {
            t.name: [r._asdict() for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
            for t in meta.sorted_tables
            if t.name != schema.VERSION_TABLE
        }


def assert_rows_kept(before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]]) -> None:
    """Every row before is still there, with the same values in every column that still exists."""
    for table, old_rows in before.items():
        assert table in after, f"table {table} is gone"
        new_rows = after[table]
        assert len(new_rows) == len(old_rows) > 0, (table, len(old_rows), len(new_rows))
        for old, new in zip(old_rows, new_rows, strict=True):
            assert {k: v for k, v in old.items() if k in new} == {k: new[k] for k in old if k in new}, table


def cli(url: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m creditshare.cli ARGS` as an operator runs it, against this database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITSHARE_")}
    env |= {"CREDITSHARE_HOME": str(home), "CREDITSHARE_DATABASE_URL": url}
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_fresh_database_upgraded_to_head_matches_models(dbs: Databases) -> None:
    engine = dbs.engine()

    done = schema.upgrade(engine)

    assert done.before.state is schema.State.EMPTY and not done.stamped
    assert done.after == HEAD == schema.current_revision(engine)
    assert [r.id for r in done.applied] == REVISIONS
    assert set(inspect(engine).get_table_names()) == {*Base.metadata.tables, schema.VERSION_TABLE}
    assert model_differences(engine) == []


def test_make_engine_empty_database_initialised_then_reopened_as_is(dbs: Databases) -> None:
    url = dbs.url()

    first = dbs.engine(url, check_schema=True)
    assert schema.current_revision(first) == HEAD
    assert model_differences(first) == []
    filled = fill_every_table(first)
    before = rows_of(first)
    again = dbs.engine(url, check_schema=True)

    assert schema.check_current(again).state is schema.State.CURRENT
    assert filled == set(Base.metadata.tables)
    assert rows_of(again) == before


@pytest.mark.parametrize("revision", REVISIONS)
def test_upgrade_from_every_revision_keeps_rows_and_matches_fresh_head(dbs: Databases, revision: str) -> None:
    """Build the database at `revision`, put rows in every table it has, upgrade to head: the rows stay and the
    schema is the one a fresh database gets."""
    old = dbs.engine()
    schema.upgrade(old, revision)
    assert schema.current_revision(old) == revision
    filled = fill_every_table(old)
    assert filled >= schema.BASELINE_TABLES  # outbox, batches, locks, api_clients, idx_*, audit_log
    before = rows_of(old)

    done = schema.upgrade(old)

    assert done.after == HEAD and [r.id for r in done.applied] == REVISIONS[REVISIONS.index(revision) + 1 :]
    assert_rows_kept(before, rows_of(old))
    fresh = dbs.engine()
    schema.upgrade(fresh)
    assert schema_of(old) == schema_of(fresh)
    assert model_differences(old) == []


def pre_alembic_tables(engine: Engine) -> None:
    """The tables every database had before migrations (`create_all` of that day's models, which the baseline
    revision writes out), without `alembic_version`."""
    schema.upgrade(engine, schema.BASELINE)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE {schema.VERSION_TABLE}")


def test_db_upgrade_pre_alembic_database_stamps_baseline_and_keeps_rows(dbs: Databases, tmp_path: Path) -> None:
    """Tables from `create_all` (how every database was made before migrations), rows in them, no
    `alembic_version`: refused when opened, adopted by `creditshare db upgrade`."""
    url = dbs.url()
    old = dbs.engine(url)
    pre_alembic_tables(old)
    fill_every_table(old)
    before = rows_of(old)
    with pytest.raises(SchemaVersionError, match=r"no schema revision \(made before migrations\)"):
        make_engine(url)

    result = cli(url, tmp_path, "db", "upgrade")

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"stamped {schema.BASELINE}" in result.stdout
    assert f"→ {HEAD}" in result.stdout and f"done: at revision {HEAD} (head)" in result.stdout
    assert schema.current_revision(old) == HEAD
    assert_rows_kept(before, rows_of(old))
    fresh = dbs.engine()
    schema.upgrade(fresh)
    assert schema_of(old) == schema_of(fresh)
    again = cli(url, tmp_path, "db", "upgrade")
    assert again.returncode == 0 and f"already at revision {HEAD} (head): nothing to do" in again.stdout
    make_engine(url).dispose()  # now opens


def test_upgrade_unversioned_database_missing_baseline_table_refused(dbs: Databases) -> None:
    engine = dbs.engine()
    pre_alembic_tables(engine)
    Base.metadata.tables["audit_log"].drop(engine)

    with pytest.raises(SchemaVersionError, match="not audit_log, so it is not the baseline"):
        schema.upgrade(engine)

    assert schema.VERSION_TABLE not in inspect(engine).get_table_names()  # nothing stamped


def test_check_current_database_behind_raises_one_line_fix(dbs: Databases, newer: Path) -> None:
    engine = dbs.engine()
    schema.upgrade(engine)
    assert schema.check_current(engine).state is schema.State.CURRENT  # for this code, it is current

    with pytest.raises(SchemaVersionError) as raised:
        schema.check_current(engine, [newer])

    message = (
        f"database at revision {HEAD}, this creditshare needs {NEWER}: back it up, then run `creditshare db upgrade`"
    )
    assert str(raised.value) == message
    assert isinstance(raised.value, ConfigError)
    with pytest.raises(SchemaVersionError, match=re.escape(message)):
        schema.prepare(engine, [newer])  # what make_engine does: refuse, not upgrade
    assert schema.current_revision(engine) == HEAD


def test_db_upgrade_behind_database_applies_newer_revision_keeps_rows(
    dbs: Databases, newer: Path, tmp_path: Path
) -> None:
    url = dbs.url()
    engine = dbs.engine(url, check_schema=True)
    fill_every_table(engine)
    before = rows_of(engine)

    result = cli(url, tmp_path, "db", "upgrade", "--extra-versions", str(newer))

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"upgraded: {HEAD} → {NEWER}" in result.stdout and f"applied {NEWER}:" in result.stdout
    assert schema.current_revision(engine) == NEWER
    assert_rows_kept(before, rows_of(engine))
    assert {c["name"]: c["nullable"] for c in inspect(engine).get_columns("batches")}["item_count"] is True
    assert "newer_notes" in inspect(engine).get_table_names()
    if dbs.backend == "sqlite":
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    # For this (older) code the database is now ahead: opening it is refused too.
    with pytest.raises(SchemaVersionError, match=f"database at revision {NEWER}, unknown to this creditshare"):
        make_engine(url)


def test_db_current_database_behind_says_behind_and_exits_1(tmp_path: Path, newer: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    make_engine(url).dispose()

    at_head = cli(url, tmp_path, "db", "current")
    behind = cli(url, tmp_path, "db", "current", "--extra-versions", str(newer))

    assert at_head.returncode == 0, at_head.stderr
    assert re.search(rf"revision\s+│ {HEAD}\s", at_head.stdout) and re.search(r"up to date\s+│ yes", at_head.stdout)
    assert re.search(rf"revision\s+│ {HEAD}\s", behind.stdout) and re.search(rf"head\s+│ {NEWER}\s", behind.stdout)
    assert re.search(r"up to date\s+│ no: behind", behind.stdout), behind.stdout
    assert one_line_error(behind) == f"error: {BEHIND}"


def test_db_current_missing_sqlite_file_not_created(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"

    result = cli(url, tmp_path, "db", "current")

    assert result.returncode == 0, result.stderr
    assert "none (no database file yet)" in result.stdout
    assert not (tmp_path / "gateway.db").exists()


def test_doctor_schema_check_behind_fails_with_fix_and_skips_database(tmp_path: Path, newer: Path) -> None:
    settings = Settings.from_env(
        {"CREDITSHARE_HOME": str(tmp_path), "CREDITSHARE_RPC_URL": f"http://127.0.0.1:{free_port()}"}
    )
    make_engine(settings.database).dispose()

    current = {c.name: c for c in run_checks(settings)}
    behind = {c.name: c for c in run_checks(settings, extra_versions=(newer,))}

    assert current["database schema"].ok is True and current["database schema"].detail == f"at revision {HEAD} (head)"
    assert current["database"].ok is True
    assert behind["database schema"].ok is False
    assert behind["database schema"].detail == BEHIND
    assert behind["database"].ok is None and "needs database schema" in behind["database"].detail


OPEN_AT = """
import sys, time
from creditshare.core.db import make_engine, schema
url, start = sys.argv[1], float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
engine = make_engine(url)
print(schema.current_revision(engine))
engine.dispose()
"""


def test_make_engine_concurrent_processes_on_new_database_create_schema_once(dbs: Databases) -> None:
    """Four processes open one new database at the same instant (as gateways started together do)."""
    url = dbs.url()
    start = time.time() + 5  # after every process has imported creditshare
    command = [sys.executable, "-c", OPEN_AT, url, str(start)]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [p.communicate(timeout=120) for p in procs]

    assert [p.returncode for p in procs] == [0] * 4, [err for _, err in outputs]
    assert [out.strip() for out, _ in outputs] == [HEAD] * 4
    engine = dbs.engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT count(*) FROM {schema.VERSION_TABLE}").scalar_one() == 1
    assert model_differences(engine) == []


def test_new_revision_numbers_next_and_upgrades(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'dev.db'}")
    folder = tmp_path / "versions"
    folder.mkdir()
    try:
        path = schema.new_revision("nothing changed", engine, version_dir=folder, extra_versions=[folder])
        following = f"{int(HEAD) + 1:04d}"
        assert path.parent == folder and path.name == f"{following}_nothing_changed.py"
        source = path.read_text()
        assert f"down_revision: str | None = '{HEAD}'" in source and "\n    pass\n" in source  # models == head
        assert schema.head_revision([folder]) == following
        assert schema.upgrade(engine, extra_versions=[folder]).after == following
    finally:
        engine.dispose()


def test_package_data_ships_every_non_python_migration_file() -> None:
    """An installed wheel needs the revision template too: pyproject's package-data must list it."""
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["creditshare"]
    package = REPO / "src" / "creditshare"
    data = [
        p.relative_to(package).as_posix()
        for p in schema.MIGRATIONS.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc")
    ]
    assert "core/db/migrations/script.py.mako" in data
    assert [f for f in data if not any(fnmatch.fnmatch(f, pattern) for pattern in patterns)] == []


def test_upgrade_leaving_dangling_foreign_keys_rolled_back_on_sqlite(tmp_path: Path) -> None:
    """Foreign keys are off while revisions rebuild tables on SQLite, so the result is checked before commit."""
    folder = tmp_path / "broken_versions"
    folder.mkdir()
    broken = NEWER_REVISION.format(newer=NEWER, down=HEAD).replace(
        '    op.create_table("newer_notes"', '    op.execute("DELETE FROM batches")\n    op.create_table("newer_notes"'
    )
    (folder / f"{NEWER}_broken.py").write_text(broken)
    engine = make_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    try:
        fill_every_table(engine)
        before = rows_of(engine)

        with pytest.raises(SchemaVersionError, match=r"rolled back.*2 row\(s\) of outbox pointing at rows of batches"):
            schema.upgrade(engine, extra_versions=[folder])

        assert schema.current_revision(engine) == HEAD
        assert rows_of(engine) == before
        assert "newer_notes" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
