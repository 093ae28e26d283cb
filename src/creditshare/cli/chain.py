"""`creditshare chain up | down | status`: a local development chain."""

from __future__ import annotations

import shutil
from typing import Annotated

import typer
from rich.table import Table

from creditshare.chain.deploy import Deployment
from creditshare.chain.rpc import connect
from creditshare.cli._shared import (
    console,
    start_devchain,
    wait_for_interrupt,
)
from creditshare.core.config import Settings
from creditshare.core.exceptions import ChainUnavailable, ConfigError, DeploymentError
from creditshare.devtools.devchain import DEV_CHAIN_ID, ChainRecord

chain_app = typer.Typer(help="A local development chain (Ganache or anvil).", no_args_is_help=True)


@chain_app.command("up")
def chain_up(
    port: Annotated[int | None, typer.Option(help="Port (default: CREDITSHARE_CHAIN_PORT or 8545).")] = None,
    engine: Annotated[
        str | None, typer.Option(help="ganache | anvil (default: CREDITSHARE_CHAIN_ENGINE or ganache).")
    ] = None,
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Run in the background; stop with `chain down`.")
    ] = False,
    reset: Annotated[bool, typer.Option(help="Delete the chain's data folder first.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before --reset.")] = False,
) -> None:
    """Run a local Ganache (or anvil) keeping its state in HOME/chain (dev accounts from the public test mnemonic).

    In the foreground Ctrl-C stops it; with --detach it keeps running until `creditshare chain down`."""
    settings = Settings.from_env(chain_port=port, chain_engine=engine)
    chain = start_devchain(settings, reset=reset, yes=yes)
    if detach:
        console.print(
            f"{chain.engine.name} running at [bold]{chain.rpc_url}[/] (chain id {DEV_CHAIN_ID}, pid {chain.pid})"
        )
        return
    console.print(f"{chain.engine.name} running at [bold]{chain.rpc_url}[/] (chain id {DEV_CHAIN_ID}); Ctrl-C stops it")
    wait_for_interrupt()
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
    """Whether the chain the settings point at runs, its head block, and whether the deployment is on it: the node
    at CREDITSHARE_RPC_URL when that is set (a gateway's `HOME/gateway.env` sets it), else the local chain of this
    HOME (`chain up`)."""
    from creditshare.chain.rpc import rpc

    settings = Settings.from_env()
    record = ChainRecord.load(settings.home)
    table = Table(title="chain", show_header=False)
    # A gateway's HOME holds no chain of its own (no HOME/chain.json): looking only there said "not running" while
    # the node its CREDITSHARE_RPC_URL names ran. Every other command uses that URL, so status checks it too.
    if "rpc_url" in settings.model_fields_set:
        rpc_url = settings.rpc_url
    elif record is not None:
        rpc_url = record.rpc_url
    else:
        table.add_row("data folder", str(settings.home / "chain"))
        table.add_row("state", "[yellow]stopped[/]")
        console.print(table)
        raise ConfigError(
            f"the local chain of {settings.home} is not running; start it with `creditshare chain up --detach` "
            "(or set CREDITSHARE_RPC_URL to the node to use)"
        )
    table.add_row("RPC URL", rpc_url)
    try:
        w3 = connect(rpc_url, timeout=3.0)
    except ChainUnavailable:
        table.add_row("state", "[yellow]stopped[/]")
        console.print(table)
        raise ConfigError(f"the chain at {rpc_url} is not running (no node answers there)") from None
    if record is not None and record.rpc_url == rpc_url:
        table.add_row("state", f"[green]running[/] (the local chain of this HOME, pid {record.pid})")
        table.add_row("data folder", record.data_dir or str(settings.home / "chain"))
    else:
        table.add_row("state", "[green]running[/] (a node this HOME did not start)")
    table.add_row("chain id", str(int(rpc(w3, "eth_chainId", []), 16)))
    table.add_row("head block", str(int(rpc(w3, "eth_blockNumber", []), 16)))
    try:
        deployment = Deployment.load(settings.deployment_path)
        deployment.check(w3)
        table.add_row("deployment", f"{settings.deployment_path} (registry {deployment.registry})")
    except DeploymentError as exc:
        table.add_row("deployment", f"[yellow]none[/]: {exc}")
    console.print(table)
