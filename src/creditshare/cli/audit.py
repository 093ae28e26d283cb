"""`creditshare audit verify | export`: the hash-chained audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from creditshare.cli._shared import (
    console,
    open_sessions,
)
from creditshare.core.exceptions import ConfigError

audit_app = typer.Typer(help="The hash-chained audit log of report and verify requests.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit log's hash chain; exit 1 naming the first edited or deleted entry."""
    from creditshare.read.audit import AuditLog

    problems = AuditLog(open_sessions()).verify()
    if problems:
        for problem in problems:  # the details on stdout; the one-line verdict on stderr
            console.print(problem, highlight=False)
        raise ConfigError(f"audit log tampered: {len(problems)} problem(s), first: {problems[0]}")
    console.print("audit log intact")


@audit_app.command("export")
def audit_export(
    out: Annotated[Path, typer.Option(help="File to write.")],
    format: Annotated[str, typer.Option(help="csv or json.")] = "csv",
) -> None:
    """Export the audit log (every entry with its hashes) as CSV or JSON."""
    from creditshare.read.audit import AuditLog

    if format not in ("csv", "json"):
        raise ConfigError("--format must be csv or json")
    count = AuditLog(open_sessions()).export(out, format)  # type: ignore[arg-type]
    console.print(f"wrote {count} entries to {out}")
