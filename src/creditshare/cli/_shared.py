"""What the command modules share: the consoles, common options, and opening the settings' chain,
database, signer and gateway."""

from __future__ import annotations

import shutil
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from eth_account.signers.local import LocalAccount
from rich.console import Console
from rich.table import Column, Table
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3
from web3.contract import Contract

from creditshare.chain.artifacts import REGISTRY, load_artifact
from creditshare.chain.deploy import Deployment
from creditshare.chain.rpc import connect, contract_at
from creditshare.core.config import Settings
from creditshare.core.db import make_engine, session_factory
from creditshare.core.exceptions import ConfigError
from creditshare.core.keystore import load_signer
from creditshare.devtools.devchain import ChainRecord, DevChain, dev_accounts, engine_named

if TYPE_CHECKING:
    from creditshare.gateway import Gateway

#: Piped output (logs, CI, tests) is not cut to 80 columns: addresses and hashes must stay whole.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, soft_wrap=True)


DevAccountOpt = Annotated[
    int | None,
    typer.Option(help="Sign with dev account N of the local chain (public test keys) instead of the keystore."),
]


def address_column(header: str) -> Column:
    """A table column that always shows a whole address (never truncated or wrapped)."""
    return Column(header, no_wrap=True, min_width=42)


YesOpt = Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")]


def open_registry(settings: Settings) -> tuple[Web3, Contract, Deployment]:
    """The chain and the registry of the settings' deployment, checked to be on that chain."""
    deployment = Deployment.load(settings.deployment_path)
    w3 = connect(settings.rpc_url)
    deployment.check(w3)
    return w3, contract_at(w3, load_artifact(REGISTRY), deployment.registry), deployment


def pick_signer(settings: Settings, dev_account: int | None) -> LocalAccount:
    """Dev account N (refused in production), else the keystore of the settings."""
    if dev_account is not None:
        if settings.production:
            raise ConfigError(
                "--dev-account uses public test keys; it is refused when CREDITSHARE_ENVIRONMENT=production"
            )
        return dev_accounts(dev_account + 1)[dev_account]
    return load_signer(settings, ", or pass --dev-account N")


def open_sessions() -> sessionmaker[Session]:
    return session_factory(make_engine(Settings.from_env().database))


def open_gateway(settings: Settings) -> Gateway:
    """The gateway of the settings (imported here: most commands never need it)."""
    from creditshare.gateway import Gateway

    return Gateway(settings)


def synced_gateway() -> Gateway:
    """The settings' gateway, its index caught up with the chain (a report or verify answers as of the head) —
    unless a running gateway follows the chain into this database: then its index is used as it keeps it."""
    gateway = open_gateway(Settings.from_env())
    with console.status("indexing the chain"):
        synced = gateway.follower.try_sync()
    if synced is None:
        err_console.print("the running gateway keeps this database's index: answering from it as it stands")
    return gateway


def send_now(
    gateway: Gateway, event_ids: list[int], timeout: float, progress: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Run the gateway's submitter (and index) until these outbox items are confirmed or failed. If a
    `creditshare serve` of this lender holds the submitter lease, that process sends them instead."""
    gateway.start()
    try:
        return gateway.outbox.wait_settled(event_ids, timeout=timeout, progress=progress)
    finally:
        gateway.stop()


def start_devchain(settings: Settings, *, reset: bool, yes: bool) -> DevChain:
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
    chain = DevChain(
        port=settings.chain_port,
        data_dir=data_dir,
        log_file=settings.home / "chain.log",
        engine=engine_named(settings.chain_engine),
    )
    with console.status(f"starting {settings.chain_engine} on port {settings.chain_port}"):
        chain.start()
    ChainRecord.save(settings.home, chain)
    return chain


def print_deployment(deployment: Deployment, path: Path) -> None:
    table = Table(title="creditshare deployment", show_header=False)
    table.add_row("chain id", str(deployment.chain_id))
    table.add_row("ConsortiumRegistry", deployment.registry)
    table.add_row("CreditLedger", deployment.ledger)
    table.add_row("deployed in block", str(deployment.block))
    table.add_row("deployment file", str(path))
    console.print(table)


def wait_for_interrupt() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
