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
from typing import Self, TypeVar

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from creditshare.chain import keyshares, signers
from creditshare.chain.artifacts import REGISTRY, load_artifact
from creditshare.chain.deploy import Deployment
from creditshare.chain.rpc import connect, contract_at
from creditshare.chain.transactor import Transactor
from creditshare.core import people
from creditshare.core.api_clients import Scope, create_client
from creditshare.core.db import make_engine, session_factory, transaction
from creditshare.core.exceptions import ConfigError
from creditshare.core.keystore import write_keystore
from creditshare.core.people import Role
from creditshare.core.secrets import DEV_CONSORTIUM_SECRET_HEX
from creditshare.devtools.devchain import free_port
from creditshare.keyshare.directory import directory as keyshare_directory
from creditshare.keyshare.directory import to_chain
from creditshare.keyshare.shares import ShareFile
from creditshare.keyshare.shares import init as init_shares

DEV_PASSWORD = "local-dev-passphrase"

T = TypeVar("T")


def _service_folder(home: Path, deployment: Deployment, account: LocalAccount) -> None:
    """What every local service's folder holds: the deployment file and the account's keystore + passphrase."""
    home.mkdir(parents=True, exist_ok=True)
    deployment.save(home / "deployment.json")
    (home / "password").write_text(DEV_PASSWORD)
    if not (home / "keystore.json").exists():
        write_keystore(account, home / "keystore.json", DEV_PASSWORD)


def _service_environ(home: Path, rpc_url: str, port: int) -> dict[str, str]:
    """The caller's environment minus any CREDITSHARE_*, plus what every local service of `home` is given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITSHARE_")}
    home = home.resolve()
    env.update(
        CREDITSHARE_HOME=str(home),
        CREDITSHARE_RPC_URL=rpc_url,
        CREDITSHARE_KEYSTORE=str(home / "keystore.json"),
        CREDITSHARE_KEYSTORE_PASSWORD_FILE=str(home / "password"),
        CREDITSHARE_LISTEN_PORT=str(port),
    )
    for name in ("CREDITSHARE_CHAIN_ENGINE", "CREDITSHARE_CHAIN_PROFILE"):  # the same node for every service
        if name in os.environ:
            env[name] = os.environ[name]
    return env


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
    #: v1 keys (the consortium secret in the folder) only for migration tests and demos of the cut-over.
    legacy_secret: bool = False

    def __post_init__(self) -> None:
        _service_folder(self.home, self.deployment, self.lender)
        if self.legacy_secret:
            (self.home / "consortium.secret").write_text(DEV_CONSORTIUM_SECRET_HEX)
        if not (self.home / "record.key").exists():
            (self.home / "record.key").write_text(os.urandom(32).hex())
        self._write_env_file()

    def _write_env_file(self) -> None:
        """For an operator's shell: `. HOME/gateway.env` and every `creditshare` command talks as this gateway."""
        settings = {k: v for k, v in self.environ().items() if k.startswith("CREDITSHARE_")}
        lines = [f"export {k}={shlex.quote(v)}" for k, v in sorted(settings.items())]
        (self.home / "gateway.env").write_text("\n".join(lines) + "\n")

    def add_signers(self, count: int, *, gas_price: int | None = None) -> list[LocalAccount]:
        """Enlist `count` new delegate signers for this lender (lanes 1..count, what `creditshare signers add`
        does: consent, registry call, gas money where gas has a price) and give the gateway their keystores."""
        w3 = connect(self.rpc_url)
        lender = Transactor(w3, self.lender, gas_price=gas_price)
        registry = contract_at(w3, load_artifact(REGISTRY), self.deployment.registry)
        enlisted: list[LocalAccount] = []
        for _ in range(count):
            account: LocalAccount = Account.create()
            lane = signers.free_lane(registry, self.lender.address)
            signers.add_signer(registry, lender, account, lane)
            if lender.gas_price > 0:
                lender.pay(account.address, Web3.to_wei(1, "ether"))
            write_keystore(account, self.home / "signers" / f"lane-{lane}.json", DEV_PASSWORD)
            enlisted.append(account)
        paths = sorted((self.home / "signers").glob("lane-*.json"))
        self.extra["CREDITSHARE_SIGNER_KEYSTORES"] = ",".join(str(p.resolve()) for p in paths)
        self._write_env_file()
        return enlisted

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'gateway.db'}"

    def environ(self) -> dict[str, str]:
        """The process environment of this gateway: the caller's, minus any CREDITSHARE_*, plus ours."""
        env = _service_environ(self.home, self.rpc_url, self.port)
        env.update(
            CREDITSHARE_RECORD_KEY_FILE=str(self.home.resolve() / "record.key"),
            CREDITSHARE_BATCH_INTERVAL="0.05",
        )
        if self.database_url:
            env["CREDITSHARE_DATABASE_URL"] = self.database_url
        if self.legacy_secret:
            env["CREDITSHARE_CONSORTIUM_SECRET_FILE"] = str(self.home.resolve() / "consortium.secret")
        env.update(self.extra)
        return env

    def add_console_user(self, username: str, role: Role, name: str, password: str) -> None:
        """Create a console user in the gateway's database (what `creditshare users add` does)."""
        engine = make_engine(self.database)
        try:
            with transaction(session_factory(engine)) as session:
                people.add_user(session, username, name, role, password)
        finally:
            engine.dispose()

    def add_client(self, name: str, scopes: str) -> str:
        """Create an API client in the gateway's database; returns its key (shown only here)."""
        engine = make_engine(self.database)
        try:
            with transaction(session_factory(engine)) as session:
                _, key = create_client(session, name, Scope.parse(scopes))
        finally:
            engine.dispose()
        return key


@dataclass
class HolderEnv:
    """Files and settings for one key-share holder in `home`: its share file, its own database and the key it
    anchors its evaluation log with (a keystore in `home`)."""

    home: Path
    account: LocalAccount
    rpc_url: str
    deployment: Deployment
    share_file: Path
    port: int = field(default_factory=free_port)
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _service_folder(self.home, self.deployment, self.account)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environ(self) -> dict[str, str]:
        """The process environment of this holder: the caller's, minus any CREDITSHARE_*, plus ours."""
        env = _service_environ(self.home, self.rpc_url, self.port)
        env.update(
            CREDITSHARE_KEYSHARE_SHARE_FILE=str(self.share_file.resolve()),
            CREDITSHARE_DATABASE_URL=f"sqlite:///{self.home.resolve() / 'holder.db'}",
        )
        env.update(self.extra)
        return env


class ServiceProcess:
    """A creditshare service (`serve`, `keyshare serve`) for an env, in a child process logging to a file."""

    def __init__(self, env: GatewayEnv | HolderEnv, command: tuple[str, ...], log_name: str) -> None:
        self.env = env
        self.command = command
        self.log_name = log_name
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> Self:
        log = open(self.env.home / self.log_name, "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "creditshare.cli", *self.command],
            env=self.env.environ(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = (self.env.home / self.log_name).read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{' '.join(self.command)} exited with {self.proc.returncode}: {tail}")
            try:
                if httpx.get(self.env.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"{' '.join(self.command)} on {self.env.url} did not start within {timeout}s")

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


class GatewayProcess(ServiceProcess):
    """`creditshare serve` for a `GatewayEnv`, in a child process."""

    env: GatewayEnv

    def __init__(self, env: GatewayEnv) -> None:
        super().__init__(env, ("serve",), "gateway.log")


class HolderProcess(ServiceProcess):
    """`creditshare keyshare serve` for a `HolderEnv`, in a child process."""

    def __init__(self, env: HolderEnv) -> None:
        super().__init__(env, ("keyshare", "serve"), "holder.log")


def local_holders(
    folders: list[Path],
    accounts: list[LocalAccount],
    w3: Web3,
    rpc_url: str,
    deployment: Deployment,
    governors: list[Transactor],
    threshold: int,
    first_port: int,
    extra: dict[str, str] | None = None,
    key: bytes | None = None,
) -> tuple[list[HolderEnv], bool]:
    """Key-share holders for a local consortium: holder i+1 in folders[i], anchoring with accounts[i], on port
    first_port + i. A set already published whose share files are in the folders is reused; otherwise a new key
    is dealt threshold-of-len(folders) (and dropped) and published by `governors` as the next version. Returns
    the holders' envs and whether a new set was dealt. `key` (benchmarks only) shares a known key instead."""
    contract = keyshare_directory(w3, deployment)
    current = keyshares.read_share_set(contract)
    dealt = current is None or any(_share_version(f / "share.json") != current.version for f in folders)
    if dealt:
        holders = [(f"http://127.0.0.1:{first_port + i}", str(a.address)) for i, a in enumerate(accounts)]
        files = init_shares(threshold, holders, version=(current.version + 1) if current else 1, key=key)
        for folder, share_file in zip(folders, files, strict=True):
            share_file.write(folder / "share.json")
            (folder / "holder.db").unlink(missing_ok=True)  # a new share starts a new evaluation log
        keyshares.publish_share_set(contract, governors, to_chain(files[0].share_set))
    envs = [
        HolderEnv(folder, account, rpc_url, deployment, folder / "share.json", port=first_port + i, extra=extra or {})
        for i, (folder, account) in enumerate(zip(folders, accounts, strict=True))
    ]
    return envs, dealt


def _share_version(path: Path) -> int | None:
    """The set version of the share file in `path` (None if there is none or it does not read)."""
    try:
        return ShareFile.read(path).share_set.version
    except ConfigError:
        return None


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
