"""Signing keys: keystore v3 files, decrypted once at start and never logged."""

from __future__ import annotations

import json
import os
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from creditshare.core.config import Settings
from creditshare.core.exceptions import ConfigError


def load_keystore(path: Path, password: str) -> LocalAccount:
    """Decrypt a keystore v3 JSON file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"keystore {path} not found") from exc
    except ValueError as exc:
        raise ConfigError(f"keystore {path} is not JSON") from exc
    try:
        key = Account.decrypt(data, password)
    except ValueError as exc:
        raise ConfigError(f"cannot decrypt keystore {path}: wrong passphrase?") from exc
    return Account.from_key(key)


def load_signer(settings: Settings, alternative: str = "") -> LocalAccount:
    """The account of CREDITSHARE_KEYSTORE, decrypted with CREDITSHARE_KEYSTORE_PASSWORD_FILE. `alternative`
    completes the error when they are not set (e.g. "or pass --dev")."""
    if settings.keystore is None or settings.keystore_password_file is None:
        raise ConfigError(
            f"set CREDITSHARE_KEYSTORE and CREDITSHARE_KEYSTORE_PASSWORD_FILE{alternative or ' (the signing key)'}"
        )
    return load_keystore(settings.keystore, read_password(settings.keystore_password_file))


def load_delegate_signers(settings: Settings) -> list[LocalAccount]:
    """The accounts of CREDITSHARE_SIGNER_KEYSTORES, decrypted with the lender key's passphrase file."""
    paths = settings.signer_keystore_paths
    if not paths:
        return []
    if settings.keystore_password_file is None:
        raise ConfigError("set CREDITSHARE_KEYSTORE_PASSWORD_FILE (it also opens CREDITSHARE_SIGNER_KEYSTORES)")
    password = read_password(settings.keystore_password_file)
    return [load_keystore(path, password) for path in paths]


def read_password(path: Path) -> str:
    """Read a passphrase file (trailing newline stripped)."""
    try:
        return path.read_text(encoding="utf-8").rstrip("\n")
    except FileNotFoundError as exc:
        raise ConfigError(f"passphrase file {path} not found") from exc


def write_keystore(account: LocalAccount, path: Path, password: str) -> Path:
    """Encrypt `account` into a keystore v3 file readable only by its owner."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # owner-only from the first byte
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(Account.encrypt(account.key, password)))
    return path
