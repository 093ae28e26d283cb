"""The gateway's secrets: the consortium HMAC secret and the record-sealing key, loaded from files.

Secrets have no defaults. Files hold hex; they are read once at start and never logged. A placeholder
(all one byte value, e.g. all zeros) is refused outside development.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from creditshare.core.config import Settings
from creditshare.core.exceptions import ConfigError


@dataclass(frozen=True)
class ConsortiumSecret:
    """The shared HMAC key, with the version it was issued as (rotation re-keys subjects under a new version)."""

    version: int
    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) < 32:
            raise ValueError("consortium secret must be at least 32 bytes")

    def __repr__(self) -> str:  # never print the key
        return f"ConsortiumSecret(version={self.version}, key=<{len(self.key)} bytes>)"


#: The consortium secret of local dev chains (`creditshare.localnet`): public, so refused in production too.
DEV_CONSORTIUM_SECRET_HEX = "5e" * 16 + "c7" * 16


def read_hex_secret(path: Path | None, *, setting: str, length: int, production: bool) -> bytes:
    """Read a hex secret of exactly `length` bytes (`length` = 0: at least 32)."""
    if path is None:
        raise ConfigError(f"set {setting} to a file holding the secret as hex (see docs/operations.md)")
    try:
        text = path.read_text(encoding="utf-8").strip()
        value = bytes.fromhex(text)
    except FileNotFoundError:
        raise ConfigError(f"{setting}: file {path} not found") from None
    except ValueError:
        raise ConfigError(f"{setting}: file {path} does not hold hex") from None
    if (length and len(value) != length) or len(value) < 32:
        raise ConfigError(f"{setting}: need {length or 'at least 32'} bytes, file {path} holds {len(value)}")
    if production and (len(set(value)) <= 1 or value.hex() == DEV_CONSORTIUM_SECRET_HEX):
        raise ConfigError(f"{setting}: file {path} holds a placeholder or dev secret; generate a real one")
    return value


def consortium_secret(settings: Settings) -> ConsortiumSecret:
    key = read_hex_secret(
        settings.consortium_secret_file,
        setting="CREDITSHARE_CONSORTIUM_SECRET_FILE",
        length=0,
        production=settings.production,
    )
    return ConsortiumSecret(settings.consortium_secret_version, key)


def record_key(settings: Settings) -> bytes:
    return read_hex_secret(
        settings.record_key_file, setting="CREDITSHARE_RECORD_KEY_FILE", length=32, production=settings.production
    )


def write_new_secret(path: Path, length: int = 32) -> Path:
    """Create a random hex secret file readable only by its owner (kept if it already exists)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(os.urandom(length).hex() + "\n")
    return path
