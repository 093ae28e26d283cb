"""The `creditshare` command-line program: one module per command group, assembled here.

Every command exits non-zero with one line saying what to fix when anything goes wrong; the logic lives in the
library packages, the commands only parse options and print.
"""

from __future__ import annotations

import sys

import typer

from creditshare.cli import (
    alerts,
    audit,
    chain,
    clients,
    contracts,
    db,
    demo,
    disputes,
    doctor,
    keys,
    keyshare,
    members,
    records,
    serve,
    signers,
    users,
)
from creditshare.cli._shared import err_console
from creditshare.core.exceptions import CreditShareError

app = typer.Typer(help="creditshare: shared credit ledger for a micro-lending consortium.", no_args_is_help=True)
app.command("compile")(contracts.compile_cmd)
app.command()(contracts.deploy)
app.command()(demo.demo)
app.command()(serve.serve)
app.command()(serve.sync)
app.command("import")(records.import_cmd)
app.command()(records.report)
app.command()(records.verify)
app.command()(doctor.doctor)
app.add_typer(chain.chain_app, name="chain")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(keyshare.keyshare_app, name="keyshare")
app.add_typer(clients.clients_app, name="clients")
app.add_typer(users.users_app, name="users")
app.add_typer(members.members_app, name="members")
app.add_typer(signers.signers_app, name="signers")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(db.db_app, name="db")
app.add_typer(disputes.disputes_app, name="disputes")
app.add_typer(alerts.alerts_app, name="alerts")
app.add_typer(alerts.webhooks_app, name="webhooks")


def main() -> None:
    """Entry point: run the app, turning our errors into one line and exit code 1."""
    try:
        code = app(standalone_mode=False)  # returns the code of a `typer.Exit`
        if isinstance(code, int) and code:
            sys.exit(code)
    except CreditShareError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        sys.exit(1)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(1)
    except Exception as exc:  # click usage errors carry their own exit code
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
