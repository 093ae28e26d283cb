"""A local development chain for the demo, tests and benchmarks, behind a small engine interface.

`DevChain` runs one node process on 127.0.0.1; *which* program that is — Ganache or anvil, each from its pinned npm
package — is a `ChainEngine`: its executable, its command-line arguments and how to recognise its process. Another
EVM implementation plugs in as another engine without touching the callers.

Accounts are derived from a public, well-known mnemonic, so they are deterministic and worthless: never use
them outside a local chain. Product code signs every transaction itself (as on Besu); the dev chain only
needs to fund these accounts.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import ClassVar

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from creditshare.chain.rpc import wait_for_rpc
from creditshare.core.exceptions import ToolchainError
from creditshare.devtools.checkout import project_root
from creditshare.devtools.compiler import EVM_VERSION

#: Public test mnemonic (the one anvil and Hardhat also default to).
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_CHAIN_ID = 1337
DEV_BLOCK_GAS_LIMIT = 30_000_000

Account.enable_unaudited_hdwallet_features()


def dev_accounts(count: int = 10) -> list[LocalAccount]:
    """The dev chain's funded accounts, in order."""
    return [Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(count)]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:`port`."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _lower_priority(nice: int) -> None:
    """Lower this (new session's) process priority by `nice`. Under Linux autogroup scheduling a process in a
    session of its own is weighed against other sessions by its autogroup's niceness, which its own `nice`
    does not change: set both."""
    os.nice(nice)
    try:
        with open("/proc/self/autogroup", "w") as autogroup:
            autogroup.write(str(nice))
    except OSError:  # no autogroup scheduling here: the process niceness is what counts
        pass


def node_executable(name: str) -> str:
    """The project's pinned `name` from node_modules/.bin, or one on PATH."""
    try:
        local = project_root() / "node_modules" / ".bin" / name
        if local.exists():
            return str(local)
    except ToolchainError:  # no checkout: one on PATH will do
        pass
    found = shutil.which(name)
    if found is None:
        raise ToolchainError(f"{name} not found; run `make setup` (npm ci installs the pinned {name})")
    return found


class ChainEngine(ABC):
    """A local EVM node program: how to start it, and how to recognise its process later."""

    #: Name in settings, records and messages (e.g. "ganache").
    name: ClassVar[str]

    @abstractmethod
    def command(self, chain: DevChain) -> list[str]:
        """The full command line that starts a node for `chain` (its port, accounts, data folder...)."""

    def owns(self, cmdline: bytes) -> bool:
        """Whether a process with this /proc cmdline is a node of this engine (not a recycled pid)."""
        return self.name.encode() in cmdline


class Ganache(ChainEngine):
    """Ganache 7 (npm `ganache`, pinned in package.json)."""

    name = "ganache"

    def command(self, chain: DevChain) -> list[str]:
        cmd = [
            node_executable("ganache"),
            "--server.host", "127.0.0.1",
            "--server.port", str(chain.port),
            "--chain.chainId", str(DEV_CHAIN_ID),
            "--chain.hardfork", EVM_VERSION,
            "--wallet.mnemonic", DEV_MNEMONIC,
            "--wallet.totalAccounts", str(chain.accounts),
            "--wallet.defaultBalance", "1000000",
            "--miner.blockGasLimit", str(DEV_BLOCK_GAS_LIMIT),
            "--logging.quiet",
        ]  # fmt: skip
        if chain.block_time:
            cmd += ["--miner.blockTime", str(chain.block_time)]
        if chain.data_dir is not None:
            cmd += ["--database.dbPath", str(chain.data_dir)]
        return cmd


class Anvil(ChainEngine):
    """Foundry's anvil (npm `@foundry-rs/anvil-linux-amd64`, pinned in package.json).

    With a data folder its state is loaded at start and written back every second and at a clean stop (anvil
    keeps state in memory; a SIGKILL loses at most the last second)."""

    name = "anvil"

    def command(self, chain: DevChain) -> list[str]:
        cmd = [
            node_executable("anvil"),
            "--host", "127.0.0.1",
            "--port", str(chain.port),
            "--chain-id", str(DEV_CHAIN_ID),
            "--hardfork", EVM_VERSION,
            "--mnemonic", DEV_MNEMONIC,
            "--accounts", str(chain.accounts),
            "--balance", "1000000",
            "--gas-limit", str(DEV_BLOCK_GAS_LIMIT),
            "--silent",
        ]  # fmt: skip
        if chain.block_time:
            cmd += ["--block-time", str(chain.block_time)]
        if chain.data_dir is not None:
            cmd += ["--state", str(chain.data_dir / "anvil-state.json"), "--state-interval", "1"]
        return cmd


#: Every engine by name.
ENGINES: dict[str, type[ChainEngine]] = {Ganache.name: Ganache, Anvil.name: Anvil}


def engine_named(name: str) -> ChainEngine:
    """The engine called `name`; raises `ToolchainError` listing the known ones."""
    try:
        return ENGINES[name]()
    except KeyError:
        raise ToolchainError(f"unknown chain engine {name!r}; one of {', '.join(ENGINES)}") from None


@dataclass
class DevChain:
    """A local node process on 127.0.0.1 (Ganache unless another `engine` is given). Use as a context manager,
    or `start()` / `stop()`.

    `data_dir` keeps the chain between runs; without it the chain lives in memory.
    """

    port: int = 0
    accounts: int = 10
    data_dir: Path | None = None
    block_time: float = 0.0
    log_file: Path | None = None
    #: Scheduling niceness of the node (benchmarks lower the co-hosted node's priority: in production it runs
    #: on its own machine, not beside the gateway).
    nice: int = 0
    engine: ChainEngine = field(default_factory=Ganache)
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """The node's command line (its engine decides)."""
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.engine.command(self)

    def start(self, timeout: float = 60.0) -> Web3:
        """Start the node and wait until it answers JSON-RPC."""
        if self.port == 0:
            self.port = free_port()
        elif not port_is_free(self.port):
            # Otherwise the new node dies at once and the readiness poll below meets whatever answers there.
            raise ToolchainError(f"port {self.port} is in use; stop what runs there or choose another port")
        if self.log_file:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        nice = self.nice
        self._proc = subprocess.Popen(
            self.command(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=os.environ.copy(),
            preexec_fn=(lambda: _lower_priority(nice)) if nice else None,
        )
        try:
            return wait_for_rpc(self.rpc_url, timeout=timeout)
        except Exception:
            self.stop()
            raise

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the node (its whole process group) and wait for it to exit."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> DevChain:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class ChainRecord:
    """A local chain started by `creditshare chain up`, as recorded in HOME/chain.json (for `down` and
    `status`, which run in other processes)."""

    pid: int
    port: int
    data_dir: str
    engine: str = Ganache.name

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        """Whether the recorded process still runs and is a node of its engine (not a recycled pid)."""
        try:
            cmdline = Path(f"/proc/{self.pid}/cmdline").read_bytes()
        except OSError:
            return False
        return engine_named(self.engine).owns(cmdline)

    @staticmethod
    def path(home: Path) -> Path:
        return home / "chain.json"

    @classmethod
    def save(cls, home: Path, chain: DevChain) -> ChainRecord:
        assert chain.pid is not None, "start the chain first"
        record = cls(chain.pid, chain.port, str(chain.data_dir or ""), chain.engine.name)
        home.mkdir(parents=True, exist_ok=True)
        cls.path(home).write_text(json.dumps(asdict(record)) + "\n", encoding="utf-8")
        return record

    @classmethod
    def load(cls, home: Path) -> ChainRecord | None:
        """The recorded chain if it still runs; a stale record is removed."""
        try:
            record = cls(**json.loads(cls.path(home).read_text(encoding="utf-8")))
            engine_named(record.engine)  # a record of an engine this version does not know is stale
        except (FileNotFoundError, ValueError, TypeError, ToolchainError):
            return None
        if not record.alive:
            cls.path(home).unlink(missing_ok=True)
            return None
        return record

    def stop(self, home: Path, timeout: float = 15.0) -> None:
        """SIGTERM the chain's process group (SIGKILL after `timeout` s) and remove the record."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self.alive and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.alive:
                os.killpg(self.pid, signal.SIGKILL)
        self.path(home).unlink(missing_ok=True)
