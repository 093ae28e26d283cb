"""The gateway's key and client commands as an operator runs them: real processes, real SQLite, one-line errors."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from creditshare.core.api_clients import authenticate
from creditshare.core.db import make_engine, session_factory

CLI = [sys.executable, "-m", "creditshare.cli"]
PASSPHRASE = "correct horse battery staple"
KEY_RE = re.compile(r"csk_[A-Za-z0-9_\-]{43}")


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """The caller's environment minus any CREDITSHARE_*, with HOME in `home` and a wide terminal for tables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITSHARE_")}
    env.update(CREDITSHARE_HOME=str(home), COLUMNS="200", **extra)
    return env


def run_cli(home: Path, *args: str, stdin: str | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=cli_env(home, **extra), input=stdin, timeout=120, check=False
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1, result
    line = result.stderr.strip()
    assert line and "\n" not in line, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in line, line


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "passphrase"
    path.write_text(PASSPHRASE + "\n")
    return path


def db_rows(home: Path) -> list[tuple[str, str, str, bytes, str | None]]:
    """(name, scopes, key_prefix, key_hash, revoked_at) of every client, straight from the SQLite file."""
    path = home / "gateway.db"
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        return list(db.execute("SELECT name, scopes, key_prefix, key_hash, revoked_at FROM api_clients ORDER BY id"))


def db_bytes(home: Path) -> bytes:
    """Every byte SQLite keeps for the database (main file, WAL and shared memory)."""
    return b"".join(p.read_bytes() for p in sorted(home.iterdir()) if p.name.startswith("gateway.db"))


def add_client(home: Path, name: str, scopes: str) -> str:
    result = run_cli(home, "clients", "add", "--name", name, "--scopes", scopes)
    assert result.returncode == 0, result.stderr
    keys = KEY_RE.findall(result.stdout)
    assert len(keys) == 1, result.stdout
    return keys[0]


def caller_of(home: Path, key: str) -> object:
    engine = make_engine(f"sqlite:///{home / 'gateway.db'}")
    try:
        with session_factory(engine)() as session:
            return authenticate(session, key)
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------- keys


def test_keys_new_prints_address_only_and_writes_owner_only_keystore(tmp_path: Path, password_file: Path) -> None:
    out = tmp_path / "keys" / "lender.json"

    result = run_cli(tmp_path, "keys", "new", "--out", str(out), "--password-file", str(password_file))

    assert result.returncode == 0, result.stderr
    private_key = Account.decrypt(json.loads(out.read_text()), PASSPHRASE)
    account = Account.from_key(private_key)
    assert account.address in result.stdout
    printed = result.stdout + result.stderr
    assert private_key.hex().removeprefix("0x") not in printed.lower()
    assert json.loads(out.read_text())["crypto"]["ciphertext"] not in printed
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_keys_new_refuses_to_overwrite_existing_keystore(tmp_path: Path, password_file: Path) -> None:
    out = tmp_path / "lender.json"
    out.write_text("precious")

    result = run_cli(tmp_path, "keys", "new", "--out", str(out), "--password-file", str(password_file))

    assert_one_line_error(result, "exists")
    assert out.read_text() == "precious"


def test_keys_new_short_passphrase_fails_with_one_line(tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("1234567")
    out = tmp_path / "lender.json"

    result = run_cli(tmp_path, "keys", "new", "--out", str(out), "--password-file", str(short))

    assert_one_line_error(result, "8 characters")
    assert not out.exists()


def test_keys_import_encrypts_given_key_without_printing_it(tmp_path: Path, password_file: Path) -> None:
    account = Account.create()
    key_file = tmp_path / "private.hex"
    key_file.write_text(account.key.hex() + "\n")
    out = tmp_path / "imported.json"

    result = run_cli(
        tmp_path, "keys", "import", "--private-key-file", str(key_file), "--out", str(out),
        "--password-file", str(password_file),
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert account.address in result.stdout
    assert account.key.hex().removeprefix("0x") not in (result.stdout + result.stderr).lower()
    assert Account.decrypt(json.loads(out.read_text()), PASSPHRASE) == account.key


@pytest.mark.parametrize(("content", "words"), [("not a key", "hex private key"), (None, "not found")])
def test_keys_import_bad_key_file_fails_with_one_line(
    tmp_path: Path, password_file: Path, content: str | None, words: str
) -> None:
    key_file = tmp_path / "private.hex"
    if content is not None:
        key_file.write_text(content)
    out = tmp_path / "imported.json"

    result = run_cli(
        tmp_path, "keys", "import", "--private-key-file", str(key_file), "--out", str(out),
        "--password-file", str(password_file),
    )  # fmt: skip

    assert_one_line_error(result, words)
    assert not out.exists()
    if content is not None:
        assert content not in result.stderr


def test_keys_address_prints_checksum_address_from_option_or_env(tmp_path: Path, password_file: Path) -> None:
    account = Account.create()
    keystore = tmp_path / "k.json"
    keystore.write_text(json.dumps(Account.encrypt(account.key, PASSPHRASE, kdf="pbkdf2", iterations=2)))

    by_option = run_cli(tmp_path, "keys", "address", "--keystore", str(keystore))
    by_env = run_cli(tmp_path, "keys", "address", CREDITSHARE_KEYSTORE=str(keystore))

    for result in (by_option, by_env):
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == account.address == Web3.to_checksum_address(account.address)


@pytest.mark.parametrize("content", [None, "{not json", '{"version": 3}'])
def test_keys_address_bad_keystore_fails_with_one_line(tmp_path: Path, content: str | None) -> None:
    keystore = tmp_path / "k.json"
    if content is not None:
        keystore.write_text(content)
    assert_one_line_error(run_cli(tmp_path, "keys", "address", "--keystore", str(keystore)), "not a keystore")


def test_keys_address_without_keystore_says_what_to_set(tmp_path: Path) -> None:
    assert_one_line_error(run_cli(tmp_path, "keys", "address"), "CREDITSHARE_KEYSTORE")


# --------------------------------------------------------------------------------------------- clients


def test_clients_add_prints_key_once_and_stores_only_its_hash(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "clients", "add", "--name", "loan-system", "--scopes", "submit,query")

    assert result.returncode == 0, result.stderr
    (key,) = KEY_RE.findall(result.stdout)
    assert result.stdout.count(key) == 1
    assert key not in result.stderr
    ((name, scopes, prefix, key_hash, revoked),) = db_rows(tmp_path)
    assert (name, scopes, revoked) == ("loan-system", "query,submit", None)
    assert key_hash == hashlib.sha256(key.encode()).digest()
    assert key.startswith(prefix) and len(prefix) < len(key) // 2
    stored = db_bytes(tmp_path)
    secret = key.removeprefix("csk_")
    assert key.encode() not in stored and secret.encode() not in stored
    assert secret[len(prefix) :].encode() not in stored
    assert caller_of(tmp_path, key) is not None


def test_clients_list_shows_clients_and_revocations_never_keys(tmp_path: Path) -> None:
    first = add_client(tmp_path, "core-banking", "submit")
    second = add_client(tmp_path, "risk-desk", "query,verify")
    assert run_cli(tmp_path, "clients", "revoke", "risk-desk", "--yes").returncode == 0

    result = run_cli(tmp_path, "clients", "list")

    assert result.returncode == 0, result.stderr
    lines = {
        line.split()[1]: line for line in result.stdout.splitlines() if "core-banking" in line or "risk-desk" in line
    }
    assert set(lines) == {"core-banking", "risk-desk"}
    assert "submit" in lines["core-banking"] and "query,verify" in lines["risk-desk"]
    assert first[:10] in lines["core-banking"] and second[:10] in lines["risk-desk"]
    stamp = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")
    assert len(stamp.findall(lines["core-banking"])) == 1  # created
    assert len(stamp.findall(lines["risk-desk"])) == 2  # created and revoked
    for key in (first, second):
        assert key not in result.stdout and key[10:] not in result.stdout


def test_clients_revoke_makes_key_unusable(tmp_path: Path) -> None:
    key = add_client(tmp_path, "batch-upload", "submit")
    other = add_client(tmp_path, "reports", "query")

    result = run_cli(tmp_path, "clients", "revoke", "batch-upload", "--yes")

    assert result.returncode == 0, result.stderr
    assert "batch-upload" in result.stdout
    assert caller_of(tmp_path, key) is None
    assert caller_of(tmp_path, other) is not None
    revoked = {name: revoked_at for name, _, _, _, revoked_at in db_rows(tmp_path)}
    assert revoked["batch-upload"] is not None and revoked["reports"] is None
    again = run_cli(tmp_path, "clients", "revoke", "batch-upload", "--yes")
    assert again.returncode == 0, again.stderr
    assert caller_of(tmp_path, key) is None


def test_clients_revoke_declined_keeps_key(tmp_path: Path) -> None:
    key = add_client(tmp_path, "keeper", "submit")

    result = run_cli(tmp_path, "clients", "revoke", "keeper", stdin="n\n")

    assert result.returncode == 1
    assert "aborted" in result.stderr
    assert caller_of(tmp_path, key) is not None


def test_clients_revoke_unknown_name_fails_with_one_line(tmp_path: Path) -> None:
    add_client(tmp_path, "present", "submit")
    assert_one_line_error(run_cli(tmp_path, "clients", "revoke", "absent", "--yes"), "no client named 'absent'")


@pytest.mark.parametrize(
    ("scopes", "words"),
    [("submit,superuser", "unknown scope"), ("SUBMIT", "unknown scope"), ("", "at least one scope")],
)
def test_clients_add_bad_scope_fails_with_one_line_and_stores_nothing(tmp_path: Path, scopes: str, words: str) -> None:
    result = run_cli(tmp_path, "clients", "add", "--name", "bad", "--scopes", scopes)

    assert_one_line_error(result, words)
    assert not KEY_RE.search(result.stdout + result.stderr)
    assert db_rows(tmp_path) == []


def test_clients_add_duplicate_name_fails_with_one_line(tmp_path: Path) -> None:
    key = add_client(tmp_path, "twin", "submit")

    result = run_cli(tmp_path, "clients", "add", "--name", "twin", "--scopes", "admin")

    assert_one_line_error(result, "already exists")
    assert not KEY_RE.search(result.stdout + result.stderr)
    assert [(name, scopes) for name, scopes, *_ in db_rows(tmp_path)] == [("twin", "submit")]
    assert caller_of(tmp_path, key) is not None
