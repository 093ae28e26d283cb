"""`creditshare db upgrade | current`: the database schema's revision.

These commands open the database without the schema check every other command makes (`make_engine` refuses a
database that is not at head), since fixing that is their job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import make_url

from creditshare.cli._shared import console
from creditshare.core.config import Settings
from creditshare.core.db import make_engine, schema

db_app = typer.Typer(
    help="The database schema: its revision, and upgrading it to this creditshare's.", no_args_is_help=True
)

ExtraVersionsOpt = Annotated[
    list[Path] | None,
    typer.Option("--extra-versions", hidden=True, help="Also use the revisions in this folder (tests, development)."),
]

_DESCRIBE = {
    schema.State.EMPTY: "none (no creditshare tables yet)",
    schema.State.UNVERSIONED: "none (tables made before migrations, i.e. the baseline)",
}


@db_app.command("upgrade")
def db_upgrade(extra_versions: ExtraVersionsOpt = None) -> None:
    """Upgrade the database schema to this creditshare's revision (idempotent; back the database up first).

    Revisions only add tables, columns and indexes, never remove data, so nothing is asked before they run.
    Stop every gateway on this database first, and start them again afterwards.
    """
    settings = Settings.from_env()
    engine = make_engine(settings.database, check_schema=False)
    try:
        done = schema.upgrade(engine, extra_versions=extra_versions or ())
    finally:
        engine.dispose()
    before = done.before
    console.print(f"database {engine.url.render_as_string(hide_password=True)}", highlight=False)
    if not done.applied and not done.stamped:
        console.print(f"already at revision {done.after} (head): nothing to do", highlight=False)
        return
    console.print(f"upgraded: {before.current or _DESCRIBE[before.state]} → {done.after}", highlight=False)
    if done.stamped:
        console.print(f"stamped {schema.BASELINE}: the existing tables are the baseline, left as they are")
    for revision in done.applied:
        console.print(f"applied {revision.id}: {revision.message}", highlight=False)
    kept = "" if before.state is schema.State.EMPTY else "; revisions only add, so every existing row is kept"
    console.print(f"done: at revision {done.after} (head){kept}", highlight=False)


@db_app.command("current")
def db_current(extra_versions: ExtraVersionsOpt = None) -> None:
    """Show the database's schema revision, this creditshare's (head), and whether it is up to date.

    Exits 1 with the fix when the database is behind (or ahead of) this creditshare.
    """
    settings = Settings.from_env()
    url = make_url(settings.database)
    table = Table(title="creditshare database schema", show_header=False)
    table.add_row("database", url.render_as_string(hide_password=True))
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        table.add_row("revision", "none (no database file yet)")
        table.add_row("head", schema.head_revision(extra_versions or ()))
        table.add_row("up to date", "no: the first `creditshare db upgrade` or gateway start creates it")
        console.print(table)
        return
    engine = make_engine(settings.database, check_schema=False)
    try:
        found = schema.status(engine, extra_versions or ())
    finally:
        engine.dispose()
    table.add_row("revision", found.current or _DESCRIBE[found.state])
    table.add_row("head", found.head)
    verdict = {
        schema.State.CURRENT: "yes",
        schema.State.EMPTY: "no: the first `creditshare db upgrade` or gateway start creates the tables",
        schema.State.UNVERSIONED: "no: behind (made before migrations)",
        schema.State.BEHIND: "no: behind",
        schema.State.UNKNOWN: "no: ahead (a newer creditshare upgraded it)",
    }
    table.add_row("up to date", verdict[found.state])
    console.print(table)
    if found.state is not schema.State.EMPTY:
        found.check()  # one line with the fix, exit 1
