"""Shared fixtures: one real Ganache chain per test session (and one anvil for the suites that run on every
engine), fresh contracts per test."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from eth_account.signers.local import LocalAccount
from psycopg import sql
from web3 import Web3

from creditshare.chain.rpc import connect
from creditshare.devtools.devchain import DevChain, dev_accounts, engine_named
from tests.brownie_guard import pytest_ignore_collect  # noqa: F401 (hook: keeps tests/brownie out of this suite)
from tests.support import Consortium
from tests.support.gateways import GatewayProcess

ACCOUNTS = 20


@pytest.fixture(scope="session", autouse=True)
def _base_temp(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Make this worker's base temp folder up front: pytest makes it on first use, and two threads of one test
    using `tmp_path_factory` at once race to create it (FileExistsError)."""
    tmp_path_factory.getbasetemp()


@pytest.fixture(scope="session")
def engine_chains() -> Iterator[dict[str, DevChain]]:
    """Each engine's node, started on first use and kept for the whole session."""
    chains: dict[str, DevChain] = {}
    yield chains
    for chain in chains.values():
        chain.stop()


@pytest.fixture(scope="session")
def devchain(request: pytest.FixtureRequest, engine_chains: dict[str, DevChain]) -> DevChain:
    """The session's node on a free port: Ganache, or the engine a test is parametrised with (`on_every_engine`)."""
    name = getattr(request, "param", "ganache")
    if name not in engine_chains:
        chain = DevChain(accounts=ACCOUNTS, engine=engine_named(name))
        chain.start()
        engine_chains[name] = chain
    return engine_chains[name]


@pytest.fixture(scope="session")
def w3(devchain: DevChain) -> Web3:
    return connect(devchain.rpc_url)


@pytest.fixture(scope="session")
def accounts() -> list[LocalAccount]:
    """The dev chain's funded accounts: 0-2 bootstrap governors, the rest free for tests."""
    return dev_accounts(ACCOUNTS)


@pytest.fixture
def consortium(w3: Web3, accounts: list[LocalAccount]) -> Consortium:
    """Fresh registry and ledger: governors accounts[0..2] with threshold 2, lenders accounts[3..4] admitted."""
    return Consortium.standard(w3, accounts)


PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN_URL = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a fresh, uniquely named PostgreSQL database, dropped after the test; skips if no server answers."""
    try:
        socket.create_connection((PG_HOST, PG_PORT), timeout=3).close()
    except OSError as exc:
        pytest.skip(f"no PostgreSQL server answers on {PG_HOST}:{PG_PORT} ({exc})")
    name = f"creditshare_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database of each kind the product supports: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'creditshare.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def gateways() -> Iterator[list[GatewayProcess]]:
    """Gateway processes started by a test; all stopped at teardown."""
    started: list[GatewayProcess] = []
    yield started
    for gateway in started:
        gateway.kill()
