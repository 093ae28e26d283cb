"""Running real gateways for tests: env files, keys, and `creditshare serve` as a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from eth_account.signers.local import LocalAccount

from creditshare.clients import Scope, create_client
from creditshare.db import make_engine, session_factory, transaction
from creditshare.deploy import Deployment
from creditshare.devchain import free_port
from creditshare.keys import write_keystore

#: One consortium secret for every gateway of a test chain (members share it).
TEST_SECRET_HEX = "5e" * 16 + "c7" * 16
PASSWORD = "test-passphrase"


@dataclass
class GatewayEnv:
    """Files and settings for one lender's gateway."""

    home: Path
    lender: LocalAccount
    rpc_url: str
    deployment: Deployment
    port: int = field(default_factory=free_port)
    database_url: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.deployment.save(self.home / "deployment.json")
        (self.home / "consortium.secret").write_text(TEST_SECRET_HEX)
        (self.home / "record.key").write_text(os.urandom(32).hex())
        (self.home / "password").write_text(PASSWORD)
        if not (self.home / "keystore.json").exists():
            write_keystore(self.lender, self.home / "keystore.json", PASSWORD)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITSHARE_")}
        env.update(
            CREDITSHARE_HOME=str(self.home),
            CREDITSHARE_RPC_URL=self.rpc_url,
            CREDITSHARE_KEYSTORE=str(self.home / "keystore.json"),
            CREDITSHARE_KEYSTORE_PASSWORD_FILE=str(self.home / "password"),
            CREDITSHARE_CONSORTIUM_SECRET_FILE=str(self.home / "consortium.secret"),
            CREDITSHARE_RECORD_KEY_FILE=str(self.home / "record.key"),
            CREDITSHARE_LISTEN_PORT=str(self.port),
            CREDITSHARE_BATCH_INTERVAL="0.05",
        )
        if self.database_url:
            env["CREDITSHARE_DATABASE_URL"] = self.database_url
        env.update(self.extra)
        return env

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'gateway.db'}"

    def add_client(self, name: str, scopes: str) -> str:
        """Create an API client directly in the gateway's database; returns its key."""
        engine = make_engine(self.database)
        try:
            with transaction(session_factory(engine)) as session:
                _, key = create_client(session, name, Scope.parse(scopes))
        finally:
            engine.dispose()
        return key


class GatewayProcess:
    """`creditshare serve` in a child process."""

    def __init__(self, env: GatewayEnv) -> None:
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> GatewayProcess:
        log = open(self.env.home / "gateway.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "creditshare.cli", "serve"],
            env=self.env.environ(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited: {(self.env.home / 'gateway.log').read_text()[-2000:]}")
            try:
                if httpx.get(self.env.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("gateway did not start")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_until(predicate, timeout: float = 60, interval: float = 0.2):  # type: ignore[no-untyped-def]
    """Poll `predicate` until it returns a truthy value; return it, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        time.sleep(interval)
