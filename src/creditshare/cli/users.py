"""`creditshare users add | list | disable | reset-password`: the people who sign in to this gateway's console."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from creditshare.cli._shared import console, open_sessions
from creditshare.core import people
from creditshare.core.clock import utcnow
from creditshare.core.db import transaction
from creditshare.core.people import Role

users_app = typer.Typer(help="Console users (underwriters, auditors, admins) of this gateway.", no_args_is_help=True)

PasswordFile = Annotated[
    Path | None,
    typer.Option(help="Read the password from this file (first line) instead of asking.", dir_okay=False),
]


def _password(path: Path | None) -> str:
    if path is not None:
        lines = path.read_text(encoding="utf-8").splitlines()
        return lines[0] if lines else ""
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Sign-in name (letters, digits, dots, underscores).")],
    role: Annotated[Role, typer.Option(help="underwriter: reports; auditor: the audit log; admin: both.")],
    name: Annotated[str, typer.Option(help="Name shown on reports and in the audit log's pages.")] = "",
    password_file: PasswordFile = None,
) -> None:
    """Create a console user; the password is stored only as an Argon2id hash."""
    password = _password(password_file)
    with transaction(open_sessions()) as session:
        person = people.add_user(session, username, name, role, password)
    console.print(f"console user {person.username!r} ({person.role.value}) added; sign in at /console/")


@users_app.command("list")
def users_list() -> None:
    """List console users and their state (never their passwords)."""
    with open_sessions()() as session:
        rows = people.list_users(session)
    table = Table("username", "name", "role", "state", "created")
    now = utcnow()
    for u in rows:
        locked = u.locked_until is not None and people.aware(u.locked_until) > now
        state = "disabled" if u.disabled_at else "locked" if locked else "active"
        table.add_row(u.username, u.display_name, u.role, state, f"{u.created_at:%Y-%m-%d %H:%M}")
    console.print(table)


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument(help="Sign-in name.")]) -> None:
    """Disable a user; their open sessions end at once."""
    with transaction(open_sessions()) as session:
        people.disable_user(session, username, utcnow())
    console.print(f"console user {username!r} disabled")


@users_app.command("reset-password")
def users_reset_password(
    username: Annotated[str, typer.Argument(help="Sign-in name.")], password_file: PasswordFile = None
) -> None:
    """Set a new password; lifts a lock-out and ends the user's sessions."""
    password = _password(password_file)
    with transaction(open_sessions()) as session:
        people.reset_password(session, username, password, utcnow())
    console.print(f"password of {username!r} reset")
