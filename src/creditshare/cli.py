"""The `creditshare` command-line program.

Every command exits non-zero with one line saying what to fix when anything goes wrong; the logic lives in the
library modules, the commands only parse options and print.
"""

from __future__ import annotations

import contextlib
import gc
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from eth_account.signers.local import LocalAccount
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from creditshare import compiler
from creditshare.chain import Transactor, connect
from creditshare.clients import Scope, create_client, list_clients, revoke_client
from creditshare.config import Settings
from creditshare.db import make_engine, session_factory, transaction
from creditshare.deploy import DEFAULT_PROPOSAL_LIFETIME, Deployment, deploy_consortium
from creditshare.devchain import DevChain, dev_accounts
from creditshare.exceptions import ConfigError, CreditShareError
from creditshare.index import SyncProgress
from creditshare.keys import load_keystore, read_password, write_keystore
from creditshare.localnet import GatewayProcess

app = typer.Typer(help="creditshare: shared credit ledger for a micro-lending consortium.", no_args_is_help=True)
chain_app = typer.Typer(help="A local development chain (Ganache).", no_args_is_help=True)
app.add_typer(chain_app, name="chain")
keys_app = typer.Typer(help="The gateway's signing key (keystore v3).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
clients_app = typer.Typer(help="API clients of this gateway and their scopes.", no_args_is_help=True)
app.add_typer(clients_app, name="clients")
audit_app = typer.Typer(help="The hash-chained audit log of report and verify requests.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


@app.command("compile")
def compile_cmd(
    check: Annotated[bool, typer.Option(help="Only check that the shipped artifacts match a fresh compile.")] = False,
) -> None:
    """Compile contracts/ into the artifacts shipped in src/creditshare/artifacts (needs `make setup`)."""
    if check:
        stale = compiler.check_artifacts()
        if stale:
            raise ConfigError(f"artifacts out of date for {', '.join(stale)}; run `creditshare compile`")
        console.print("artifacts match the sources")
        return
    for path in compiler.build_artifacts():
        console.print(f"wrote {path.relative_to(compiler.PROJECT_ROOT)}")


@chain_app.command("up")
def chain_up(
    port: Annotated[int | None, typer.Option(help="Port (default: CREDITSHARE_CHAIN_PORT or 8545).")] = None,
    reset: Annotated[bool, typer.Option(help="Delete the chain's data folder first.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before --reset.")] = False,
) -> None:
    """Run a local Ganache in the foreground, keeping its state in HOME/chain; Ctrl-C stops it."""
    settings = Settings.from_env(chain_port=port)
    chain = _start_devchain(settings, reset=reset, yes=yes)
    console.print(f"chain running at [bold]{chain.rpc_url}[/] (chain id 1337); Ctrl-C stops it")
    _wait_for_interrupt()
    chain.stop()


@app.command()
def deploy(
    rpc_url: Annotated[str | None, typer.Option(help="Chain RPC URL (default: CREDITSHARE_RPC_URL).")] = None,
    governor: Annotated[list[str] | None, typer.Option(help="Initial governor address (repeat).")] = None,
    name: Annotated[list[str] | None, typer.Option(help="Display name per governor (repeat, same order).")] = None,
    threshold: Annotated[int, typer.Option(help="Approvals a proposal needs.")] = 2,
    lifetime: Annotated[int, typer.Option(help="Seconds a proposal stays open.")] = DEFAULT_PROPOSAL_LIFETIME,
    dev: Annotated[bool, typer.Option(help="Sign with dev account 0 and use dev accounts 0-2 as governors.")] = False,
    out: Annotated[Path | None, typer.Option(help="Deployment file (default: HOME/deployment.json).")] = None,
) -> None:
    """Deploy the registry and the ledger and write the deployment file."""
    settings = Settings.from_env(rpc_url=rpc_url, deployment_file=out)
    w3 = connect(settings.rpc_url)
    if dev:
        signer = dev_accounts(1)[0]
        governors = governor or [a.address for a in dev_accounts(3)]
    else:
        if settings.keystore is None or settings.keystore_password_file is None:
            raise ConfigError("set CREDITSHARE_KEYSTORE and CREDITSHARE_KEYSTORE_PASSWORD_FILE, or pass --dev")
        signer = load_keystore(settings.keystore, read_password(settings.keystore_password_file))
        if not governor:
            raise ConfigError("give the initial governors with --governor ADDRESS (repeat)")
        governors = governor
    names = name or [f"Governor {i + 1}" for i in range(len(governors))]
    if len(names) != len(governors):
        raise ConfigError(f"{len(governors)} governors but {len(names)} names; give one --name per --governor")
    deployment = deploy_consortium(Transactor(w3, signer), governors, names, threshold, lifetime)
    deployment.save(settings.deployment_path)
    _print_deployment(deployment, settings.deployment_path)


@app.command()
def demo(
    reset: Annotated[bool, typer.Option(help="Start from an empty chain instead of reusing the last one.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before --reset.")] = False,
    gateways: Annotated[bool, typer.Option(help="Start a gateway per demo lender.")] = True,
    first_port: Annotated[int, typer.Option(help="Port of the first lender's gateway (then +1, +2).")] = 8001,
) -> None:
    """The main job: a local chain, the consortium deployed, three lenders admitted by governance votes and a
    gateway for each. Reuses the previous state (HOME) unless --reset; Ctrl-C stops everything."""
    from creditshare import demo as demo_net

    settings = Settings.from_env()
    chain = _start_devchain(settings, reset=reset, yes=yes)
    lenders: list[demo_net.DemoLender] = []
    try:
        w3 = connect(chain.rpc_url)
        deployment, fresh = demo_net.ensure_deployment(w3, settings.deployment_path)
        console.print("deployed the consortium" if fresh else f"reusing the deployment in {settings.deployment_path}")
        _print_deployment(deployment, settings.deployment_path)
        for name in demo_net.admit_lenders(w3, deployment):
            console.print(f"admitted {name} (proposal + second governor's approval)")
        if gateways:
            lenders = demo_net.prepare_gateways(settings.home, chain.rpc_url, deployment, first_port)
            with console.status("starting the lenders' gateways"):
                for lender in lenders:
                    lender.process = GatewayProcess(lender.env).start()
            accepted = demo_net.load_samples(lenders)
            console.print(f"sample history: {accepted} new records submitted")
            _print_tour(lenders)
        console.print(f"chain: [bold]{chain.rpc_url}[/]; Ctrl-C stops everything")
        _wait_for_interrupt()
    finally:
        for lender in lenders:
            if lender.process:
                lender.process.stop()
        chain.stop()
        console.print("stopped")


def _print_tour(lenders: list[Any]) -> None:
    from creditshare import demo as demo_net

    table = Table("lender", "gateway", "API key (demo)")
    for lender in lenders:
        table.add_row(lender.name, lender.env.url, lender.api_key)
    console.print(table)
    a, b = lenders[0], lenders[1]
    record = (
        '{"record_id":"TOUR-1","event_type":"loan_opened","id_type":"resident_id",'
        f'"id_number":"{demo_net.MULTI_BORROWER}","loan_number":"TOUR-LOAN-1","occurred_on":"2026-06-01",'
        '"principal_fen":1200000}'
    )
    report = (
        f'{{"id_type":"resident_id","id_number":"{demo_net.MULTI_BORROWER}","purpose":"loan_application",'
        '"consent_ref":"TOUR-CONSENT-1"}'
    )
    verify = f'{{"lender":"{a.env.lender.address}","record":{record}}}'
    console.print("\n[bold]Try it[/] (copy-paste):", highlight=False)
    for title, url, key, body in (
        ("submit an event at " + a.name, a.env.url + "/v1/events", a.api_key, record),
        ("credit report at " + b.name, b.env.url + "/v1/reports", b.api_key, report),
        ("verify the record at " + b.name, b.env.url + "/v1/verify", b.api_key, verify),
    ):
        console.print(f"# {title}", highlight=False)
        console.print(
            f"curl -s -X POST {url} -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' -d '{body}'",
            highlight=False,
            soft_wrap=True,
        )


@keys_app.command("new")
def keys_new(
    out: Annotated[Path, typer.Option(help="Keystore file to create.")],
    password_file: Annotated[Path | None, typer.Option(help="Passphrase file (else prompted).")] = None,
) -> None:
    """Create a new signing key, encrypted in a keystore file; prints only its address."""
    from eth_account import Account

    _write_key(Account.create(), out, password_file)


@keys_app.command("import")
def keys_import(
    private_key_file: Annotated[Path, typer.Option(help="File holding the hex private key (never pass it inline).")],
    out: Annotated[Path, typer.Option(help="Keystore file to create.")],
    password_file: Annotated[Path | None, typer.Option(help="Passphrase file (else prompted).")] = None,
) -> None:
    """Encrypt an existing private key into a keystore file."""
    from eth_account import Account

    try:
        account = Account.from_key(private_key_file.read_text(encoding="utf-8").strip())
    except FileNotFoundError:
        raise ConfigError(f"private key file {private_key_file} not found") from None
    except ValueError:
        raise ConfigError(f"{private_key_file} does not hold a hex private key") from None
    _write_key(account, out, password_file)


@keys_app.command("address")
def keys_address(keystore: Annotated[Path | None, typer.Option(help="Keystore file.")] = None) -> None:
    """Print the address of a keystore (no passphrase needed)."""
    import json

    path = keystore or Settings.from_env().keystore
    if path is None:
        raise ConfigError("give --keystore or set CREDITSHARE_KEYSTORE")
    try:
        address = json.loads(path.read_text(encoding="utf-8"))["address"]
    except (FileNotFoundError, ValueError, KeyError):
        raise ConfigError(f"{path} is not a keystore file") from None
    from web3 import Web3

    console.print(Web3.to_checksum_address(address))


def _write_key(account: LocalAccount, out: Path, password_file: Path | None) -> None:
    if out.exists():
        raise ConfigError(f"{out} exists; refusing to overwrite a key")
    password = (
        read_password(password_file)
        if password_file
        else typer.prompt("Passphrase", hide_input=True, confirmation_prompt=True)
    )
    if len(password) < 8:
        raise ConfigError("use a passphrase of at least 8 characters")
    write_keystore(account, out, password)
    console.print(f"{account.address} -> {out}")


@clients_app.command("add")
def clients_add(
    name: Annotated[str, typer.Option(help="Client name (unique).")],
    scopes: Annotated[str, typer.Option(help="Comma-separated: submit, query, verify, admin.")],
) -> None:
    """Create an API client and print its key once (only its hash is stored)."""
    parsed = Scope.parse(scopes)
    with transaction(_session_factory()) as session:
        client, key = create_client(session, name, parsed)
        scope_text = client.scopes
    console.print(f"client {name!r} ({scope_text}); API key, shown only now:")
    console.print(key, highlight=False, soft_wrap=True)


@clients_app.command("list")
def clients_list() -> None:
    """List API clients (never their keys)."""
    with _session_factory()() as session:
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
    with transaction(_session_factory()) as session:
        revoke_client(session, name)
    console.print(f"revoked {name!r}")


@app.command()
def serve() -> None:
    """Run the gateway (API + batch submitter) on CREDITSHARE_LISTEN_HOST:CREDITSHARE_LISTEN_PORT."""
    import uvicorn

    from creditshare.api import create_app
    from creditshare.gateway import Gateway

    settings = Settings.from_env()
    gateway = Gateway(settings)
    console.print(f"gateway for lender {gateway.lender} on http://{settings.listen_host}:{settings.listen_port}")
    app_ = create_app(gateway)
    # Everything built so far (web3, SQLAlchemy, FastAPI, contract ABIs) lives as long as the process: move it
    # out of the cyclic GC's reach, or every full collection rescans it (~60 ms pauses, straight into p99).
    gc.collect()
    gc.freeze()
    uvicorn.run(app_, host=settings.listen_host, port=settings.listen_port, log_level="warning")


@app.command()
def sync(
    follow: Annotated[bool, typer.Option(help="Keep following the chain after catching up (Ctrl-C stops).")] = False,
) -> None:
    """Index the chain's registry and ledger logs into the gateway's database, with a progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from creditshare.chain import make_web3
    from creditshare.index import Follower

    settings = Settings.from_env()
    deployment = Deployment.load(settings.deployment_path)
    follower = Follower(
        make_web3(settings.rpc_url),
        _session_factory(),
        deployment,
        confirmations=settings.confirmations,
        max_range=settings.index_range,
    )
    start = follower.state().last_block
    rows = 0
    with Progress(
        TextColumn("indexing blocks"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rows]} rows"),
        console=console,
    ) as bar:
        task = bar.add_task("sync", total=None, rows=0)

        def show(step: SyncProgress) -> None:
            nonlocal rows
            rows += step.rows
            bar.update(task, completed=step.indexed - start, total=max(1, step.target - start), rows=rows)

        result = follower.sync(show)
    console.print(f"indexed to block {result.indexed} ({rows} rows)")
    if follow:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            follower.run(stop)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit log's hash chain; exit 1 naming the first edited or deleted entry."""
    from creditshare.audit import AuditLog

    problems = AuditLog(_session_factory()).verify()
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
    from creditshare.audit import AuditLog

    if format not in ("csv", "json"):
        raise ConfigError("--format must be csv or json")
    count = AuditLog(_session_factory()).export(out, format)  # type: ignore[arg-type]
    console.print(f"wrote {count} entries to {out}")


def _session_factory() -> sessionmaker[Session]:
    return session_factory(make_engine(Settings.from_env().database))


def _start_devchain(settings: Settings, *, reset: bool, yes: bool) -> DevChain:
    data_dir = settings.home / "chain"
    if reset and data_dir.exists():
        if not yes and not typer.confirm(f"Delete the local chain in {data_dir}?"):
            raise typer.Abort()
        shutil.rmtree(data_dir)
        settings.deployment_path.unlink(missing_ok=True)
    chain = DevChain(port=settings.chain_port, data_dir=data_dir, log_file=settings.home / "chain.log")
    with console.status(f"starting Ganache on port {settings.chain_port}"):
        chain.start()
    return chain


def _print_deployment(deployment: Deployment, path: Path) -> None:
    table = Table(title="creditshare deployment", show_header=False)
    table.add_row("chain id", str(deployment.chain_id))
    table.add_row("ConsortiumRegistry", deployment.registry)
    table.add_row("CreditLedger", deployment.ledger)
    table.add_row("deployed in block", str(deployment.block))
    table.add_row("deployment file", str(path))
    console.print(table)


def _wait_for_interrupt() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass


def main() -> None:
    """Entry point: run the app, turning our errors into one line and exit code 1."""
    try:
        app(standalone_mode=False)
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
