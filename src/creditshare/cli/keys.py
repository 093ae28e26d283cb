"""`creditshare keys new | import | address`: the gateway's signing key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from eth_account.signers.local import LocalAccount
from web3 import Web3

from creditshare.cli._shared import (
    console,
)
from creditshare.core.config import Settings
from creditshare.core.exceptions import ConfigError
from creditshare.core.keystore import read_password, write_keystore

keys_app = typer.Typer(help="The gateway's signing key (keystore v3).", no_args_is_help=True)


@keys_app.command("new")
def keys_new(
    out: Annotated[Path, typer.Option(help="Keystore file to create.")],
    password_file: Annotated[Path | None, typer.Option(help="Passphrase file (else prompted).")] = None,
) -> None:
    """Create a new signing key, encrypted in a keystore file; prints only its address."""
    from eth_account import Account

    write_key(Account.create(), out, password_file)


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
    write_key(account, out, password_file)


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

    console.print(Web3.to_checksum_address(address))


def write_key(account: LocalAccount, out: Path, password_file: Path | None) -> None:
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


@keys_app.command("migrate-subjects")
def migrate_subjects_cmd(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the chain.")] = 900,
) -> None:
    """Record this lender's v1-keyed history again under subject keys v2 (docs/operations.md, cut-over). Needs
    the old consortium secret (CREDITSHARE_CONSORTIUM_SECRET_FILE) to recognise v1 rows, and the key-share
    holders for the new keys. Running it again re-records nothing twice."""
    from creditshare.cli._shared import open_gateway, send_now
    from creditshare.core.secrets import consortium_secret
    from creditshare.domain.identity import HmacKeys
    from creditshare.write.migrate import migrate_subjects

    settings = Settings.from_env()
    if settings.subject_keys != "oprf":
        raise ConfigError("set CREDITSHARE_SUBJECT_KEYS=oprf: the migration records under v2 keys")
    v1 = HmacKeys(consortium_secret(settings))
    gateway = open_gateway(settings)
    try:
        result = migrate_subjects(gateway.factory, gateway.seal, gateway.lender, v1, gateway.outbox)
        counts = send_now(gateway, result.event_ids, timeout) if result.event_ids else {}
    finally:
        gateway.stop()  # idempotent (send_now stops it too)
    console.print(
        f"v1 records found: {result.examined}; re-recorded now: {result.rerecorded} "
        f"(confirmed {counts.get('confirmed', 0)}); already re-recorded: {result.already}"
    )
    if result.rejected or counts.get("failed"):
        raise ConfigError(
            f"not re-recorded: {result.rejected or {}} rejected, {counts.get('failed', 0)} failed on chain; "
            "fix the cause and run it again"
        )
