"""`creditshare disputes list | open | resolve`: objections as disputes with a 20-day deadline, from a terminal."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.table import Table

from creditshare.cli._shared import console, synced_gateway
from creditshare.core.exceptions import ConfigError
from creditshare.disputes.desk import Dispute, DisputeError
from creditshare.domain.disputes import DisputeState, Outcome, UpheldReason

disputes_app = typer.Typer(
    help="Disputes (objections) on credit events, answered within 20 days.", no_args_is_help=True
)

ROLES = ("opened", "against_me", "all")
STATES = tuple(s.value for s in DisputeState)
REASONS = tuple(r.label for r in UpheldReason)


def _table(disputes: list[Dispute]) -> Table:
    table = Table(title=f"{len(disputes)} disputes")
    for column in ("id", "state", "record lender", "record", "opened by", "due (UTC)", "outcome", "reference"):
        table.add_column(column)
    colour = {"open": "yellow", "overdue": "red", "resolved": "green"}
    for d in disputes:
        table.add_row(
            d.id,
            f"[{colour[d.state.value]}]{d.state.value}[/]",
            d.record_lender,
            "0x" + d.record_hash.hex()[:12] + "…",
            d.opened_by,
            f"{d.due_at:%Y-%m-%d %H:%M}",
            f"{d.outcome} ({d.detail})" if d.outcome else "",
            d.reference or "",
        )
    return table


def _fail(exc: DisputeError) -> ConfigError:
    return ConfigError(f"{exc.code}: {exc.message}")


@disputes_app.command("list")
def disputes_list(
    role: Annotated[str, typer.Option(help="opened (by this lender), against_me (its records) or all.")] = "against_me",
    state: Annotated[str | None, typer.Option(help="open, overdue or resolved (default: any).")] = None,
) -> None:
    """Disputes as the index knows them (indexes the chain first), newest first."""
    if role not in ROLES:
        raise ConfigError(f"--role must be one of {', '.join(ROLES)}")
    if state is not None and state not in STATES:
        raise ConfigError(f"--state must be one of {', '.join(STATES)}")
    gateway = synced_gateway()
    try:
        found = gateway.disputes.find(role, DisputeState(state) if state else None)  # type: ignore[arg-type]
    finally:
        gateway.stop()
    console.print(_table(found))


@disputes_app.command("open")
def disputes_open(
    id_number: Annotated[str, typer.Option(help="The person's ID number (never stored, never sent on).")],
    record_hash: Annotated[str, typer.Option(help="The disputed event's record hash (0x + 64 hex) from their report.")],
    statement: Annotated[str, typer.Option(help="What the person says is wrong (kept here, sealed).")],
    id_type: Annotated[str, typer.Option(help="resident_id, uscc or other.")] = "resident_id",
) -> None:
    """Open a dispute for a person on one event of their report (any member's record)."""
    try:
        record = bytes.fromhex(record_hash.removeprefix("0x"))
    except ValueError:
        record = b""
    if len(record) != 32:
        raise ConfigError("--record-hash must be 0x followed by 64 hex digits")
    if not statement.strip():
        raise ConfigError("--statement must say what is wrong")
    gateway = synced_gateway()
    try:
        opened = gateway.disputes.open(
            caller=f"cli:{getpass.getuser()}",
            id_type=id_type,
            id_number=id_number,
            record_hash=record,
            statement=statement.strip(),
        )
    except DisputeError as exc:
        raise _fail(exc) from None
    finally:
        gateway.stop()
    console.print(f"dispute {opened.id} opened (reference {opened.reference}); answer due {opened.due_at:%Y-%m-%d}")


@disputes_app.command("resolve")
def disputes_resolve(
    dispute_id: Annotated[str, typer.Argument(help="The dispute's id, <block>-<log index>.")],
    outcome: Annotated[str, typer.Option(help="upheld or corrected.")],
    reason: Annotated[str | None, typer.Option(help=f"upheld: one of {', '.join(REASONS)}.")] = None,
    correction_record_id: Annotated[
        str | None, typer.Option(help="corrected: the record_id of this lender's correction (on chain).")
    ] = None,
) -> None:
    """Answer a dispute on one of this lender's records."""
    if outcome not in ("upheld", "corrected"):
        raise ConfigError("--outcome must be upheld or corrected")
    if reason is not None and reason not in REASONS:
        raise ConfigError(f"--reason must be one of {', '.join(REASONS)}")
    gateway = synced_gateway()
    try:
        resolved = gateway.disputes.resolve(
            dispute_id,
            Outcome[outcome.upper()],
            reason=UpheldReason[reason.upper()] if reason else None,
            correction_record_id=correction_record_id,
        )
    except DisputeError as exc:
        raise _fail(exc) from None
    finally:
        gateway.stop()
    console.print(f"dispute {resolved.id} resolved: {resolved.outcome} ({resolved.detail})")
