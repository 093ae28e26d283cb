"""`creditshare import`, `report` and `verify`: the gateway's records and queries from a terminal."""

from __future__ import annotations

import dataclasses
import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from creditshare.cli._shared import (
    console,
    err_console,
    open_gateway,
    send_now,
    synced_gateway,
)
from creditshare.core.config import Settings
from creditshare.core.exceptions import ConfigError
from creditshare.domain.purposes import Purpose
from creditshare.domain.report import CreditReport
from creditshare.write.outbox import SettleTimeout

if TYPE_CHECKING:
    pass


def import_cmd(
    file: Annotated[Path, typer.Argument(help="CSV with a header row of submission fields (docs/data-dictionary.md).")],
    errors: Annotated[Path | None, typer.Option(help="Error file (default: FILE.errors.csv beside FILE).")] = None,
    wait: Annotated[bool, typer.Option(help="Send the records and wait until they are on chain.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the chain.")] = 900,
) -> None:
    """Import historic events: each row validated as `POST /v1/events` validates a record and stored in the
    outbox, then sent in batches and confirmed. Bad rows go to the error file with row number, code and
    message; importing the same file again only adds what is new (record ids)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from creditshare.write.importer import append_failures, import_csv

    settings = Settings.from_env()
    errors_path = errors or file.with_name(file.stem + ".errors.csv")
    gateway = open_gateway(settings)
    try:
        with file.open("rb") as source:  # for the progress bar's total (quoted line breaks make it an upper bound)
            lines = sum(1 for _ in source) - 1
    except FileNotFoundError:
        raise ConfigError(f"{file} not found") from None
    counts: dict[str, int] = {}
    with Progress(
        TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        stored = bar.add_task("validating and storing", total=max(lines, 0))
        result = import_csv(gateway.outbox, file, errors_path, progress=lambda n: bar.advance(stored, n))
        if wait and result.pending:
            sent = bar.add_task("confirming on chain", total=len(result.pending))
            counts = send_now(gateway, list(result.pending), timeout, progress=lambda n: bar.update(sent, completed=n))
    failed = append_failures(gateway.outbox, result, errors_path) if counts else 0
    table = Table(title=f"import of {file}", show_header=False)
    table.add_row("rows", str(result.rows))
    table.add_row("accepted (new)", str(result.accepted))
    table.add_row("duplicates (already stored)", str(result.duplicates))
    table.add_row("rejected", str(result.rejected))
    if counts:
        table.add_row("confirmed on chain", str(counts.get("confirmed", 0)))
        table.add_row("failed on chain", str(failed))
    elif result.pending:
        table.add_row("on chain", "not waited for (--no-wait): `creditshare serve` sends them")
    console.print(table)
    if result.rejected or failed:
        raise ConfigError(
            f"{result.rejected + failed} of {result.rows} rows not recorded: see {errors_path} (row, code, message); "
            "fix them and import again (recorded rows come back as duplicates)"
        )


PURPOSES = [p.label for p in Purpose]


def report(
    id_number: Annotated[str, typer.Option(help="The applicant's ID number (never stored, never sent on).")],
    consent_ref: Annotated[str, typer.Option(help="Reference of the applicant's signed consent.")],
    id_type: Annotated[str, typer.Option(help="resident_id, uscc or other.")] = "resident_id",
    purpose: Annotated[str, typer.Option(help=f"One of: {', '.join(PURPOSES)}.")] = "loan_application",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON (as the API returns it).")] = False,
) -> None:
    """The credit report of an applicant as a readable table (indexes the chain first). Like the API, the request
    is audited and recorded on chain as an inquiry."""
    if purpose not in PURPOSES:
        raise ConfigError(f"--purpose must be one of {', '.join(PURPOSES)}")
    if not consent_ref.strip():
        raise ConfigError("--consent-ref is required: the reference of the applicant's signed consent")
    gateway = synced_gateway()
    try:
        answer = gateway.queries.credit_report(
            caller=f"cli:{getpass.getuser()}",
            id_type=id_type,
            id_number=id_number,
            purpose=Purpose[purpose.upper()],
            consent_ref=consent_ref.strip(),
        )
        if as_json:
            console.print_json(answer.report.model_dump_json())
        else:
            print_report(answer.report)
        try:
            with console.status("recording the inquiry on chain"):
                send_now(gateway, [answer.inquiry_event_id], timeout=60)
        except SettleTimeout:
            err_console.print("the inquiry is queued in the outbox; the gateway sends it when the chain answers")
    finally:
        gateway.stop()


def fen(amount: int | None) -> str:
    return "" if amount is None else f"{amount / 100:,.2f}"


def print_report(r: CreditReport) -> None:
    s = r.summary
    grade_colour = {"A": "green", "B": "green", "C": "yellow", "D": "red", "E": "red"}[r.grade]
    head = Table(title="credit report", show_header=False)
    head.add_row("subject key", r.subject_key)
    head.add_row("as of", f"block {r.as_of.block_number}, {r.as_of.block_time:%Y-%m-%d %H:%M:%S} UTC")
    head.add_row("grade", f"[bold {grade_colour}]{r.grade}[/]")
    head.add_row("active loans", f"{s.active_loans} at {s.lenders_with_active_loans} lender(s)")
    head.add_row("total outstanding (CNY)", fen(s.total_outstanding_fen))
    head.add_row("worst current days past due", str(s.worst_current_dpd))
    head.add_row("defaults / write-offs (5 y)", f"{s.defaults_5y} / {s.writeoffs_5y}")
    head.add_row(
        "application inquiries 30/90/180 d",
        f"{s.application_inquiry_lenders_30d} / {s.application_inquiry_lenders_90d} / "
        f"{s.application_inquiry_lenders_180d} lender(s)",
    )
    head.add_row("open disputes", str(s.open_disputes))
    console.print(head)
    loans = Table(
        "lender", "opened", "principal", "outstanding", "status", "DPD", "24 months (newest first)", title="loans"
    )
    for loan in r.loans:
        loans.add_row(
            loan.lender_name + (" [yellow](disputed)[/]" if loan.disputed else ""),
            str(loan.opened_on or ""),
            fen(loan.principal_fen),
            fen(loan.outstanding_fen),
            loan.status,
            str(loan.days_past_due),
            loan.payment_history,
        )
    console.print(loans)
    reasons = Table("code", "grade", "reason", title="why this grade")
    for reason in r.reasons:
        reasons.add_row(reason.code, reason.grade, reason.text)
    console.print(reasons)
    console.print(f"evidence: {len(r.evidence)} on-chain log(s); policy {r.policy_version}", highlight=False)


def verify(
    file: Annotated[Path, typer.Argument(help='JSON file: {"lender": "0x…", "record": {…}} as for POST /v1/verify.')],
) -> None:
    """Verify a disclosed record against the chain (indexes the chain first); exit 1 if it does not match."""
    import json

    from pydantic import ValidationError

    from creditshare.api.schemas import VerifyRequest

    try:
        body = VerifyRequest.model_validate(json.loads(file.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ConfigError(f"{file} not found") from None
    except (ValueError, ValidationError) as exc:
        first = exc.errors()[0] if isinstance(exc, ValidationError) else None
        where = ".".join(str(p) for p in first["loc"]) + ": " + first["msg"] if first else str(exc)
        raise ConfigError(f"{file} is not a verify request ({where})") from None
    gateway = synced_gateway()
    try:
        result = gateway.queries.verify(
            caller=f"cli:{getpass.getuser()}",
            lender=body.lender,
            record=body.record,
            corrects_hash=bytes.fromhex(body.corrects_hash[2:]) if body.corrects_hash else None,
        )
    finally:
        gateway.stop()  # gives the follower lease back at once (a later command need not wait for it to expire)
    table = Table(title="verification", show_header=False)
    for key, value in dataclasses.asdict(result).items():
        table.add_row(key.replace("_", " "), "" if value is None else str(value))
    console.print(table)
    if not result.match:
        raise ConfigError(f"record {result.record_hash} was not recorded by {result.lender} as given (tampered?)")
