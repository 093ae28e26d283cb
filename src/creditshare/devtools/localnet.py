"""Local gateways for the demo, benchmarks and tests: write a gateway's files and run `creditshare serve`.

Everything here is for a local development chain: it writes fresh secrets and keystores into a folder and
starts the real gateway process, exactly as an operator would with the documented settings.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
from eth_account.signers.local import LocalAccount

from creditshare.chain.deploy import Deployment
from creditshare.core.api_clients import Scope, create_client
from creditshare.core.db import make_engine, session_factory, transaction
from creditshare.core.keystore import write_keystore
from creditshare.core.secrets import DEV_CONSORTIUM_SECRET_HEX
from creditshare.devtools.devchain import free_port

DEV_PASSWORD = "local-dev-passphrase"

T = TypeVar("T")


@dataclass
class GatewayEnv:
    """Files and settings for one lender's gateway in `home`."""

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
        (self.home / "consortium.secret").write_text(DEV_CONSORTIUM_SECRET_HEX)
        if not (self.home / "record.key").exists():
            (self.home / "record.key").write_text(os.urandom(32).hex())
        (self.home / "password").write_text(DEV_PASSWORD)
        if not (self.home / "keystore.json").exists():
            write_keystore(self.lender, self.home / "keystore.json", DEV_PASSWORD)
        # For an operator's shell: `. HOME/gateway.env` and every `creditshare` command talks as this gateway.
        settings = {k: v for k, v in self.environ().items() if k.startswith("CREDITSHARE_")}
        lines = [f"export {k}={shlex.quote(v)}" for k, v in sorted(settings.items())]
        (self.home / "gateway.env").write_text("\n".join(lines) + "\n")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'gateway.db'}"

    def environ(self) -> dict[str, str]:
        """The process environment of this gateway: the caller's, minus any CREDITSHARE_*, plus ours."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITSHARE_")}
        home = self.home.resolve()
        env.update(
            CREDITSHARE_HOME=str(home),
            CREDITSHARE_RPC_URL=self.rpc_url,
            CREDITSHARE_KEYSTORE=str(home / "keystore.json"),
            CREDITSHARE_KEYSTORE_PASSWORD_FILE=str(home / "password"),
            CREDITSHARE_CONSORTIUM_SECRET_FILE=str(home / "consortium.secret"),
            CREDITSHARE_RECORD_KEY_FILE=str(home / "record.key"),
            CREDITSHARE_LISTEN_PORT=str(self.port),
            CREDITSHARE_BATCH_INTERVAL="0.05",
        )
        if self.database_url:
            env["CREDITSHARE_DATABASE_URL"] = self.database_url
        env.update(self.extra)
        return env

    def add_client(self, name: str, scopes: str) -> str:
        """Create an API client in the gateway's database; returns its key (shown only here)."""
        engine = make_engine(self.database)
        try:
            with transaction(session_factory(engine)) as session:
                _, key = create_client(session, name, Scope.parse(scopes))
        finally:
            engine.dispose()
        return key


class GatewayProcess:
    """`creditshare serve` for a `GatewayEnv`, in a child process."""

    def __init__(self, env: GatewayEnv) -> None:
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> GatewayProcess:
        log = open(self.env.home / "gateway.log", "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "creditshare.cli", "serve"],
            env=self.env.environ(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = (self.env.home / "gateway.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"gateway exited with {self.proc.returncode}: {tail}")
            try:
                if httpx.get(self.env.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"gateway on {self.env.url} did not start within {timeout}s")

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def kill(self) -> None:
        """SIGKILL: no cleanup at all (for crash tests)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 20 s."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_until(predicate: Callable[[], T], timeout: float = 60, interval: float = 0.2) -> T:
    """Poll `predicate` until it returns a truthy value and return it; raise TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s (last: {value!r})")
        time.sleep(interval)
