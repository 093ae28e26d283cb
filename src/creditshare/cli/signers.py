"""`creditshare signers add | remove | list`: the lender's delegate signing keys (one per lane)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from eth_account import Account
from rich.table import Table
from web3 import Web3

from creditshare.chain import signers
from creditshare.chain.transactor import Transactor
from creditshare.cli._shared import DevAccountOpt, address_column, console, open_registry, pick_signer
from creditshare.core.config import Settings
from creditshare.core.exceptions import ConfigError
from creditshare.core.keystore import read_password, write_keystore

signers_app = typer.Typer(
    help="Delegate signers: extra keys that record for this lender, each in its own lane.", no_args_is_help=True
)


@signers_app.command("add")
def signers_add(
    out: Annotated[Path, typer.Option(help="Keystore file to create for the new signer (same passphrase).")],
    lane: Annotated[int | None, typer.Option(help="Lane 1-16 (default: the lowest free one).")] = None,
    fund: Annotated[
        float | None, typer.Option(help="Ether to send the signer for gas (default: 1 where gas has a price).")
    ] = None,
    dev_account: DevAccountOpt = None,
) -> None:
    """Create a signing key and enlist it in one of this lender's lanes; then add its keystore to
    CREDITSHARE_SIGNER_KEYSTORES and restart the gateway."""
    settings = Settings.from_env()
    if out.exists():
        raise ConfigError(f"{out} exists; refusing to overwrite a key")
    if settings.keystore_password_file is None:
        raise ConfigError("set CREDITSHARE_KEYSTORE_PASSWORD_FILE: the new keystore is sealed with that passphrase")
    password = read_password(settings.keystore_password_file)
    lender = pick_signer(settings, dev_account)
    w3, registry, _ = open_registry(settings)
    chosen = lane if lane is not None else signers.free_lane(registry, lender.address)
    if not 1 <= chosen <= signers.MAX_LANES:
        raise ConfigError(f"--lane must be 1-{signers.MAX_LANES} (lane 0 is the lender's own key)")
    account = Account.create()
    sender = Transactor(w3, lender, gas_price=settings.node_profile.fixed_gas_price)
    signers.add_signer(registry, sender, account, chosen)
    write_keystore(account, out, password)  # only once enlisted: a failed call leaves no stray key behind
    ether = fund if fund is not None else (1.0 if sender.gas_price > 0 else 0.0)
    if ether > 0:
        sender.pay(account.address, Web3.to_wei(ether, "ether"))
    console.print(f"lane {chosen}: {account.address} -> {out}", highlight=False)


@signers_app.command("remove")
def signers_remove(
    address: Annotated[str, typer.Argument(help="The delegate signer's address.")],
    dev_account: DevAccountOpt = None,
) -> None:
    """Remove a delegate signer (as its lender, or as a governor): its pending transactions revert from the next
    block and the gateway's other lanes take over its share."""
    settings = Settings.from_env()
    if not Web3.is_address(address):
        raise ConfigError(f"{address!r} is not an address")
    sender = pick_signer(settings, dev_account)
    w3, registry, _ = open_registry(settings)
    signers.remove_signer(registry, Transactor(w3, sender, gas_price=settings.node_profile.fixed_gas_price), address)
    console.print(f"removed {Web3.to_checksum_address(address)}", highlight=False)


@signers_app.command("list")
def signers_list(
    lender: Annotated[str | None, typer.Option(help="Lender address (default: the keystore's).")] = None,
    dev_account: DevAccountOpt = None,
) -> None:
    """The lender's lanes that have an active delegate signer."""
    settings = Settings.from_env()
    address = lender or pick_signer(settings, dev_account).address
    if not Web3.is_address(address):
        raise ConfigError(f"{address!r} is not an address")
    _, registry, _ = open_registry(settings)
    table = Table("lane", address_column("signer"), title=f"delegate signers of {Web3.to_checksum_address(address)}")
    for lane, signer in signers.lane_signers(registry, Web3.to_checksum_address(address)):
        table.add_row(str(lane), signer)
    console.print(table)
