"""`creditshare clients add | list | revoke`: API clients of this gateway."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from creditshare.cli._shared import (
    console,
    open_sessions,
)
from creditshare.core.api_clients import Scope, create_client, list_clients, revoke_client
from creditshare.core.db import transaction

clients_app = typer.Typer(help="API clients of this gateway and their scopes.", no_args_is_help=True)


@clients_app.command("add")
def clients_add(
    name: Annotated[str, typer.Option(help="Client name (unique).")],
    scopes: Annotated[str, typer.Option(help="Comma-separated: submit, query, verify, admin, borrower_service.")],
) -> None:
    """Create an API client and print its key once (only its hash is stored)."""
    parsed = Scope.parse(scopes)
    with transaction(open_sessions()) as session:
        client, key = create_client(session, name, parsed)
        scope_text = client.scopes
    console.print(f"client {name!r} ({scope_text}); API key, shown only now:")
    console.print(key, highlight=False, soft_wrap=True)


@clients_app.command("list")
def clients_list() -> None:
    """List API clients (never their keys)."""
    with open_sessions()() as session:
        rows = list_clients(session)
    table = Table("name", "scopes", "key prefix", "created", "revoked")
    for c in rows:
        table.add_row(
            c.name,
            c.scopes,
            c.key_prefix + "…",
            f"{c.created_at:%Y-%m-%d %H:%M}",
            f"{c.revoked_at:%Y-%m-%d %H:%M}" if c.revoked_at else "",
        )
    console.print(table)


@clients_app.command("revoke")
def clients_revoke(
    name: Annotated[str, typer.Argument(help="Client name.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Revoke a client's key (irreversible)."""
    if not yes and not typer.confirm(f"Revoke API client {name!r}? Its key stops working at once."):
        raise typer.Abort()
    with transaction(open_sessions()) as session:
        revoke_client(session, name)
    console.print(f"revoked {name!r}")
