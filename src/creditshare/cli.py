"""The `creditshare` command-line program.

Every command exits non-zero with one line saying what to fix when anything goes wrong; the logic lives in the
library modules, the commands only parse options and print.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import getpass
import shutil
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from eth_account.signers.local import LocalAccount
from rich.console import Console
from rich.table import Column, Table
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3
from web3.contract import Contract

from creditshare import compiler, governance
from creditshare.chain import Transactor, connect, contract_at, translate_errors
from creditshare.clients import Scope, create_client, list_clients, revoke_client
from creditshare.config import Settings
from creditshare.contracts import REGISTRY, load_artifact
from creditshare.db import make_engine, session_factory, transaction
from creditshare.deploy import DEFAULT_PROPOSAL_LIFETIME, Deployment, deploy_consortium
from creditshare.devchain import DEV_CHAIN_ID, ChainRecord, DevChain, dev_accounts
from creditshare.exceptions import ConfigError, CreditShareError, DeploymentError
from creditshare.governance import Action
from creditshare.index import SyncProgress
from creditshare.keys import load_signer, read_password, write_keystore
from creditshare.localnet import GatewayProcess
from creditshare.outbox import SettleTimeout
from creditshare.report import CreditReport, Purpose

if TYPE_CHECKING:
    pass

app = typer.Typer(help="creditshare: shared credit ledger for a micro-lending consortium.", no_args_is_help=True)
chain_app = typer.Typer(help="A local development chain (Ganache).", no_args_is_help=True)
app.add_typer(chain_app, name="chain")
keys_app = typer.Typer(help="The gateway's signing key (keystore v3).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
clients_app = typer.Typer(help="API clients of this gateway and their scopes.", no_args_is_help=True)
app.add_typer(clients_app, name="clients")
members_app = typer.Typer(help="Consortium members and M-of-N governance votes.", no_args_is_help=True)
app.add_typer(members_app, name="members")
audit_app = typer.Typer(help="The hash-chained audit log of report and verify requests.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")

#: Piped output (logs, CI, tests) is not cut to 80 columns: addresses and hashes must stay whole.
console = Console(width=None if sys.stdout.isatty() else 160)
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
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Run in the background; stop with `chain down`.")
    ] = False,
    reset: Annotated[bool, typer.Option(help="Delete the chain's data folder first.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before --reset.")] = False,
) -> None:
    """Run a local Ganache keeping its state in HOME/chain (dev accounts from the public test mnemonic).

    In the foreground Ctrl-C stops it; with --detach it keeps running until `creditshare chain down`."""
    settings = Settings.from_env(chain_port=port)
    chain = _start_devchain(settings, reset=reset, yes=yes)
    if detach:
        console.print(f"chain running at [bold]{chain.rpc_url}[/] (chain id {DEV_CHAIN_ID}, pid {chain.pid})")
        return
    console.print(f"chain running at [bold]{chain.rpc_url}[/] (chain id {DEV_CHAIN_ID}); Ctrl-C stops it")
    _wait_for_interrupt()
    chain.stop()


@chain_app.command("down")
def chain_down(
    reset: Annotated[bool, typer.Option(help="Also delete the chain's data and the deployment file.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before --reset.")] = False,
) -> None:
    """Stop the local chain of this HOME (started with `chain up --detach`); its data stays unless --reset."""
    settings = Settings.from_env()
    record = ChainRecord.load(settings.home)
    if record is None and not reset:
        raise ConfigError(f"no local chain of {settings.home} is running (`creditshare chain status`)")
    if reset and not yes and not typer.confirm(f"Delete the local chain in {settings.home / 'chain'}?"):
        raise typer.Abort()
    if record is not None:
        record.stop(settings.home)
        console.print(f"stopped the chain on port {record.port} (pid {record.pid})")
    if reset:
        shutil.rmtree(settings.home / "chain", ignore_errors=True)
        settings.deployment_path.unlink(missing_ok=True)
        console.print(f"deleted {settings.home / 'chain'} and {settings.deployment_path}")


@chain_app.command("status")
def chain_status() -> None:
    """Whether the local chain of this HOME runs, its head block, and whether the deployment is on it."""
    from creditshare.chain import rpc

    settings = Settings.from_env()
    record = ChainRecord.load(settings.home)
    table = Table(title="local chain", show_header=False)
    table.add_row("data folder", str(settings.home / "chain"))
    if record is None:
        table.add_row("state", "[yellow]stopped[/]")
        console.print(table)
        raise ConfigError("the local chain is not running; start it with `creditshare chain up --detach`")
    w3 = connect(record.rpc_url)
    table.add_row("state", f"[green]running[/] (pid {record.pid})")
    table.add_row("RPC URL", record.rpc_url)
    table.add_row("chain id", str(int(rpc(w3, "eth_chainId", []), 16)))
    table.add_row("head block", str(int(rpc(w3, "eth_blockNumber", []), 16)))
    try:
        deployment = Deployment.load(settings.deployment_path)
        deployment.check(w3)
        table.add_row("deployment", f"{settings.deployment_path} (registry {deployment.registry})")
    except DeploymentError as exc:
        table.add_row("deployment", f"[yellow]none[/]: {exc}")
    console.print(table)


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
    if dev and settings.production:
        raise ConfigError("--dev makes the public dev accounts governors: refused in production")
    w3 = connect(settings.rpc_url)
    if dev:
        signer = dev_accounts(1)[0]
        governors = governor or [a.address for a in dev_accounts(3)]
    else:
        signer = load_signer(settings, ", or pass --dev")
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
    reset: Annotated[
        bool, typer.Option(help="Start over: an empty chain, new gateway data and history (not the last ones).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before --reset.")] = False,
    gateways: Annotated[bool, typer.Option(help="Start a gateway per demo lender.")] = True,
    first_port: Annotated[int, typer.Option(help="Port of the first lender's gateway (then +1, +2).")] = 8001,
    borrowers: Annotated[
        int, typer.Option(min=1, help="Borrowers in the synthetic history (first run or after --reset only).")
    ] = 3000,
) -> None:
    """The main job: a local chain, the consortium deployed, three lenders admitted by governance votes, a
    gateway for each and a synthetic credit history loaded and indexed. Reuses the previous state (HOME) unless
    --reset; Ctrl-C stops everything."""
    import time

    from creditshare import demo as demo_net

    settings = Settings.from_env()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a kill during bootstrap still stops the children
    chain = _start_devchain(settings, reset=reset, yes=yes)
    lenders: list[demo_net.DemoLender] = []
    try:
        w3 = connect(chain.rpc_url)
        deployment, fresh = demo_net.ensure_deployment(w3, settings.deployment_path)
        console.print("deployed the consortium" if fresh else f"reusing the deployment in {settings.deployment_path}")
        stale = demo_net.forget_gateways(settings.home) if fresh else []
        if stale:
            console.print(f"removed the gateway data of an earlier chain: {', '.join(str(p) for p in stale)}")
        _print_deployment(deployment, settings.deployment_path)
        for name in demo_net.admit_lenders(w3, deployment):
            console.print(f"admitted {name} (proposal + second governor's approval)")
        if gateways:
            lenders = demo_net.prepare_gateways(settings.home, chain.rpc_url, deployment, first_port)
            with console.status("starting the lenders' gateways"):
                for lender in lenders:
                    lender.process = GatewayProcess(lender.env)  # assigned first: a Ctrl-C while starting stops it
                    lender.process.start()
            history = demo_net.plan_history(settings.home, borrowers)
            started = time.monotonic()
            with console.status("loading the synthetic history") as status:
                loaded = demo_net.load_history(lenders, history, progress=status.update)
            if loaded.reused:
                console.print(f"synthetic history already loaded, 0 new records submitted: {history.stats.describe()}")
                if history.stats.borrowers != borrowers:
                    console.print(f"(--borrowers {borrowers} applies after `creditshare demo --reset`)")
            else:
                console.print(
                    f"loaded the synthetic history as of {history.as_of}: {history.stats.describe()}; "
                    f"{loaded.submitted:,} new records submitted ({loaded.duplicates:,} were already there)"
                )
            with console.status("waiting for the chain and the indexes") as status:
                block = demo_net.wait_until_indexed(
                    lenders, w3, timeout=120 + history.records / 50, progress=status.update
                )
            console.print(
                f"every gateway has confirmed its records and indexed block {block} "
                f"({time.monotonic() - started:.1f} s)"
            )
            _print_tour(lenders, demo_net.tour_record(lenders[0]), history.examples)
        console.print(f"chain: [bold]{chain.rpc_url}[/]; Ctrl-C stops everything")
        _wait_for_interrupt()
    finally:
        for lender in lenders:
            if lender.process:
                lender.process.stop()
        chain.stop()
        console.print("stopped")


def _print_tour(lenders: list[Any], record: dict[str, object], examples: dict[str, str]) -> None:
    import json

    from creditshare import demo as demo_net

    table = Table("lender", "gateway", "API key (demo)")
    for lender in lenders:
        table.add_row(lender.name, lender.env.url, lender.api_key)
    console.print(table)
    a, b = lenders[0], lenders[1]
    compact = lambda value: json.dumps(value, separators=(",", ":"))  # noqa: E731 - no quote needs escaping
    report = {
        "id_type": "resident_id",
        "id_number": demo_net.MULTI_BORROWER,
        "purpose": "loan_application",
        "consent_ref": "TOUR-CONSENT-1",
    }
    verify = {"lender": a.env.lender.address, "record": record}
    console.print("\n[bold]Try it[/] (copy-paste):", highlight=False)
    for title, url, key, body in (
        ("submit an event at " + a.name, a.env.url + "/v1/events", a.api_key, record),
        (
            f"credit report at {b.name}: loans at all three lenders (multi-lending)",
            b.env.url + "/v1/reports",
            b.api_key,
            report,
        ),
        (
            f"verify the submitted record at {b.name} (match: true after a second or two, once it is on chain)",
            b.env.url + "/v1/verify",
            b.api_key,
            verify,
        ),
    ):
        console.print(f"# {title}", highlight=False)
        console.print(
            f"curl -s -X POST {url} -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' "
            f"-d '{compact(body)}'",
            highlight=False,
            soft_wrap=True,
        )
    if examples:
        others = ", ".join(f"{number} ({label})" for label, number in examples.items())
        console.print(f"# other applicants to try in the report: {others}", highlight=False, soft_wrap=True)


DevAccountOpt = Annotated[
    int | None,
    typer.Option(help="Sign with dev account N of the local chain (public test keys) instead of the keystore."),
]


def ADDRESS_COLUMN(header: str) -> Column:
    """A table column that always shows a whole address (never truncated or wrapped)."""
    return Column(header, no_wrap=True, min_width=42)


YesOpt = Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")]
ACTIONS = [a.name.lower().replace("_", "-") for a in governance.ACTION_ARGS]


def _registry(settings: Settings) -> tuple[Web3, Contract, Deployment]:
    deployment = Deployment.load(settings.deployment_path)
    w3 = connect(settings.rpc_url)
    deployment.check(w3)
    return w3, contract_at(w3, load_artifact(REGISTRY), deployment.registry), deployment


def _signer(settings: Settings, dev_account: int | None) -> LocalAccount:
    if dev_account is not None:
        if settings.production:
            raise ConfigError(
                "--dev-account uses public test keys; it is refused when CREDITSHARE_ENVIRONMENT=production"
            )
        return dev_accounts(dev_account + 1)[dev_account]
    return load_signer(settings, ", or pass --dev-account N")


def _print_proposals(proposals: list[governance.Proposal], title: str = "proposals") -> None:
    table = Table("id", "action", ADDRESS_COLUMN("target"), "details", "approvals", "state", "expires", title=title)
    colours = {"open": "cyan", "executed": "green", "expired": "red", "stale": "yellow"}
    for p in proposals:
        details = {
            Action.ADMIT: f"{p.role.name.lower()} {p.name!r}",
            Action.CHANGE_ROLE: f"to {p.role.name.lower()}",
            Action.SET_THRESHOLD: f"threshold {p.value}",
        }.get(p.action, "")
        table.add_row(
            str(p.proposal_id),
            p.action.name.lower().replace("_", "-"),
            "" if p.target == governance.ZERO_ADDRESS else p.target,
            details,
            f"{p.approvals}/{p.threshold}",
            f"[{colours[p.state.value]}]{p.state.value}[/]",
            f"{dt.datetime.fromtimestamp(p.expires_at, dt.UTC):%Y-%m-%d %H:%M} UTC",
        )
    console.print(table)


def _govern(
    action: str,
    dev_account: int | None,
    yes: bool,
    send: Callable[[Contract, Transactor], governance.ProposalOutcome],
) -> None:
    """Confirm, sign and send one governance transaction, then show the proposal's state."""
    settings = Settings.from_env()
    signer = _signer(settings, dev_account)
    w3, registry, _ = _registry(settings)
    if not yes and not typer.confirm(f"{action}, signed by {signer.address}?"):
        raise typer.Abort()
    outcome = send(registry, Transactor(w3, signer))
    verdict = "executed" if outcome.executed else "recorded"
    console.print(
        f"proposal {outcome.proposal_id}: approval {verdict} in {outcome.tx_hash}", highlight=False, soft_wrap=True
    )
    _print_proposals([governance.proposal(registry, outcome.proposal_id)], title="proposal")


@members_app.command("list")
def members_list(
    proposals: Annotated[int, typer.Option(help="Also show this many latest proposals.")] = 10,
) -> None:
    """Every member with role and status (from the registry's logs and state), then the latest proposals."""
    settings = Settings.from_env()
    w3, registry, deployment = _registry(settings)
    table = Table(ADDRESS_COLUMN("address"), "name", "role", "status", "since (UTC)", title="members")
    colours = {"active": "green", "suspended": "yellow", "removed": "red"}
    for address in governance.member_addresses(w3, registry, deployment.block, settings.index_range):
        m = governance.member(registry, address)
        status = m.status.name.lower()
        table.add_row(
            m.address,
            m.name,
            m.role.name.lower(),
            f"[{colours.get(status, 'white')}]{status}[/]",
            f"{dt.datetime.fromtimestamp(m.since, dt.UTC):%Y-%m-%d %H:%M}",
        )
    console.print(table)
    with translate_errors():
        threshold, governors = registry.functions.threshold().call(), registry.functions.activeGovernors().call()
        paused = registry.functions.paused().call()
    console.print(f"threshold {threshold} of {governors} active governors; ledger {'PAUSED' if paused else 'running'}")
    if proposals > 0:
        _print_proposals(governance.recent_proposals(registry, proposals))


@members_app.command("propose")
def members_propose(
    action: Annotated[str, typer.Argument(help=f"One of: {', '.join(ACTIONS)}.")],
    address: Annotated[str | None, typer.Option(help="The member the action applies to.")] = None,
    role: Annotated[str | None, typer.Option(help="admit / change-role: lender, auditor or governor.")] = None,
    name: Annotated[str | None, typer.Option(help="admit: the member's display name (shown in reports).")] = None,
    threshold: Annotated[int | None, typer.Option(help="set-threshold: the new number of approvals.")] = None,
    dev_account: DevAccountOpt = None,
    yes: YesOpt = False,
) -> None:
    """Propose a governance action (this governor's approval counts); it executes once enough governors approve."""
    request = governance.proposal_request(action, address=address, role=role, name=name, threshold=threshold)
    given = [f"--{k} {v}" for k, v in (("address", address), ("role", role), ("name", name), ("threshold", threshold))]
    summary = " ".join(
        [f"Propose {request.action.name.lower().replace('_', '-')}", *(g for g in given if " None" not in g)]
    )
    _govern(summary, dev_account, yes, lambda registry, tx: governance.propose_request(registry, tx, request))


@members_app.command("approve")
def members_approve(
    proposal_id: Annotated[int, typer.Argument(help="Proposal id (see `members list`).")],
    dev_account: DevAccountOpt = None,
    yes: YesOpt = False,
) -> None:
    """Approve a proposal; the approval that reaches the threshold executes it."""
    _govern(f"Approve proposal {proposal_id}", dev_account, yes, lambda r, tx: governance.approve(r, tx, proposal_id))


@members_app.command("execute")
def members_execute(
    proposal_id: Annotated[int, typer.Argument(help="Proposal id (see `members list`).")],
    dev_account: DevAccountOpt = None,
    yes: YesOpt = False,
) -> None:
    """Execute a proposal now: the registry executes in the approval that reaches the threshold, so this sends
    this governor's approval only if it is the last one missing, and otherwise says what is missing."""
    _govern(f"Execute proposal {proposal_id}", dev_account, yes, lambda r, tx: governance.execute(r, tx, proposal_id))


@members_app.command("suspend")
def members_suspend(
    address: Annotated[str, typer.Argument(help="The member to suspend.")],
    dev_account: DevAccountOpt = None,
    yes: YesOpt = False,
) -> None:
    """Propose suspending a member (a suspended lender cannot record; its past records still count)."""
    members_propose("suspend", address=address, dev_account=dev_account, yes=yes)


@members_app.command("reinstate")
def members_reinstate(
    address: Annotated[str, typer.Argument(help="The suspended member to reinstate.")],
    dev_account: DevAccountOpt = None,
    yes: YesOpt = False,
) -> None:
    """Propose reinstating a suspended member."""
    members_propose("reinstate", address=address, dev_account=dev_account, yes=yes)


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


def _gateway(settings: Settings) -> Any:
    from creditshare.gateway import Gateway

    return Gateway(settings)


def _send_now(
    gateway: Any, event_ids: list[int], timeout: float, progress: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Run the gateway's submitter (and index) until these outbox items are confirmed or failed. If a
    `creditshare serve` of this lender holds the submitter lease, that process sends them instead."""
    gateway.start()
    try:
        return gateway.outbox.wait_settled(event_ids, timeout=timeout, progress=progress)
    finally:
        gateway.stop()


@app.command("import")
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

    from creditshare.importer import append_failures, import_csv

    settings = Settings.from_env()
    errors_path = errors or file.with_name(file.stem + ".errors.csv")
    gateway = _gateway(settings)
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
            counts = _send_now(gateway, list(result.pending), timeout, progress=lambda n: bar.update(sent, completed=n))
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


@app.command()
def report(
    id_number: Annotated[str, typer.Option(help="The applicant's ID number (never stored, never sent on).")],
    consent_ref: Annotated[str, typer.Option(help="Reference of the applicant's signed consent.")],
    id_type: Annotated[str, typer.Option(help="resident_id, uscc or other.")] = "resident_id",
    purpose: Annotated[str, typer.Option(help=f"One of: {', '.join(PURPOSES)}.")] = "loan_application",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON (as the API returns it).")] = False,
) -> None:
    """The credit report of an applicant as a readable table (indexes the chain first). Like the API, the request
    is audited and recorded on chain as an inquiry."""
    from creditshare import queries

    if purpose not in PURPOSES:
        raise ConfigError(f"--purpose must be one of {', '.join(PURPOSES)}")
    if not consent_ref.strip():
        raise ConfigError("--consent-ref is required: the reference of the applicant's signed consent")
    settings = Settings.from_env()
    gateway = _gateway(settings)
    with console.status("indexing the chain"):
        gateway.follower.sync()
    answer = queries.credit_report(
        gateway,
        caller=f"cli:{getpass.getuser()}",
        id_type=id_type,
        id_number=id_number,
        purpose=Purpose[purpose.upper()],
        consent_ref=consent_ref.strip(),
    )
    if as_json:
        console.print_json(answer.report.model_dump_json())
    else:
        _print_report(answer.report)
    try:
        with console.status("recording the inquiry on chain"):
            _send_now(gateway, [answer.inquiry_event_id], timeout=60)
    except SettleTimeout:
        err_console.print("the inquiry is queued in the outbox; the gateway sends it when the chain answers")


def _fen(amount: int | None) -> str:
    return "" if amount is None else f"{amount / 100:,.2f}"


def _print_report(r: CreditReport) -> None:
    s = r.summary
    grade_colour = {"A": "green", "B": "green", "C": "yellow", "D": "red", "E": "red"}[r.grade]
    head = Table(title="credit report", show_header=False)
    head.add_row("subject key", r.subject_key)
    head.add_row("as of", f"block {r.as_of.block_number}, {r.as_of.block_time:%Y-%m-%d %H:%M:%S} UTC")
    head.add_row("grade", f"[bold {grade_colour}]{r.grade}[/]")
    head.add_row("active loans", f"{s.active_loans} at {s.lenders_with_active_loans} lender(s)")
    head.add_row("total outstanding (CNY)", _fen(s.total_outstanding_fen))
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
            _fen(loan.principal_fen),
            _fen(loan.outstanding_fen),
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


@app.command()
def verify(
    file: Annotated[Path, typer.Argument(help='JSON file: {"lender": "0x…", "record": {…}} as for POST /v1/verify.')],
) -> None:
    """Verify a disclosed record against the chain (indexes the chain first); exit 1 if it does not match."""
    import json

    from pydantic import ValidationError

    from creditshare import queries
    from creditshare.api.routes.verify import VerifyRequest

    try:
        body = VerifyRequest.model_validate(json.loads(file.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ConfigError(f"{file} not found") from None
    except (ValueError, ValidationError) as exc:
        first = exc.errors()[0] if isinstance(exc, ValidationError) else None
        where = ".".join(str(p) for p in first["loc"]) + ": " + first["msg"] if first else str(exc)
        raise ConfigError(f"{file} is not a verify request ({where})") from None
    settings = Settings.from_env()
    gateway = _gateway(settings)
    with console.status("indexing the chain"):
        gateway.follower.sync()
    result = queries.verify(
        gateway,
        caller=f"cli:{getpass.getuser()}",
        lender=body.lender,
        record=body.record,
        corrects_hash=bytes.fromhex(body.corrects_hash[2:]) if body.corrects_hash else None,
    )
    table = Table(title="verification", show_header=False)
    for key, value in result.model_dump().items():
        table.add_row(key.replace("_", " "), "" if value is None else str(value))
    console.print(table)
    if not result.match:
        raise ConfigError(f"record {result.record_hash} was not recorded by {result.lender} as given (tampered?)")


@app.command()
def doctor() -> None:
    """Check configuration, chain, contracts, the signer's membership, database and versions; one line each."""
    from creditshare.doctor import run_checks

    settings = Settings.from_env()
    checks = run_checks(settings)
    marks = {True: "[green]ok[/]", False: "[red]FAIL[/]", None: "[yellow]skip[/]"}
    table = Table("check", "", "detail", title="creditshare doctor")
    for check in checks:
        table.add_row(check.name, marks[check.ok], check.detail)
    console.print(table)
    failed = [c for c in checks if c.ok is False]
    if failed:
        for check in failed:
            err_console.print(f"[red]✗[/] {check.name}: {check.detail}", highlight=False)
        raise typer.Exit(1)


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
    running = ChainRecord.load(settings.home)
    if running is not None:
        raise ConfigError(
            f"the chain of {settings.home} already runs on port {running.port} (pid {running.pid}); "
            "stop it with `creditshare chain down`"
        )
    data_dir = settings.home / "chain"
    if reset and data_dir.exists():
        if not yes and not typer.confirm(f"Delete the local chain in {data_dir}?"):
            raise typer.Abort()
        shutil.rmtree(data_dir)
        settings.deployment_path.unlink(missing_ok=True)
    chain = DevChain(port=settings.chain_port, data_dir=data_dir, log_file=settings.home / "chain.log")
    with console.status(f"starting Ganache on port {settings.chain_port}"):
        chain.start()
    ChainRecord.save(settings.home, chain)
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
