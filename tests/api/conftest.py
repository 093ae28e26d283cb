"""Gateway API fixtures: a real consortium on Ganache and real `creditshare serve` processes over HTTP.

One consortium and one gateway (lender `accounts[LENDER]`) serve every test of this package; tests that need
another signer start their own gateway with `start_gateway`. Record ids are unique per call, so tests sharing
the gateway never see each other's records as duplicates.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from creditshare.devtools.devchain import DevChain
from tests.support import Consortium
from tests.support.gateways import GatewayEnv, GatewayProcess, wait_until
from tests.support.records import RecordFactory, build_record

#: Dev-chain accounts of this package: not used as lenders or signers anywhere else.
LENDER = 11  # the shared gateway's signer, an active lender
NON_MEMBER = 12  # never admitted
SUSPENDED = 13  # admitted, then suspended by governance

SCOPES = ("submit", "query", "verify", "admin")


@dataclass
class LiveGateway:
    """A running gateway with one API key per scope (`keys["submit"]`...)."""

    env: GatewayEnv
    process: GatewayProcess
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.env.url

    @property
    def db_path(self) -> Path:
        return self.env.home / "gateway.db"

    @property
    def log_path(self) -> Path:
        return self.env.home / "gateway.log"

    def client(self, key: str | None = None, *, header: str = "bearer") -> httpx.Client:
        """An HTTP client sending `key` as `Authorization: Bearer` (or `X-API-Key` with header="x-api-key")."""
        headers = {}
        if key is not None:
            headers = {"Authorization": f"Bearer {key}"} if header == "bearer" else {"X-API-Key": key}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def outbox_rows(self) -> int:
        """Rows in the gateway's outbox table, read straight from its SQLite file."""
        with sqlite3.connect(self.db_path, timeout=10) as db:
            (count,) = db.execute("SELECT count(*) FROM outbox").fetchone()
        return int(count)

    def max_event_id(self) -> int:
        with sqlite3.connect(self.db_path, timeout=10) as db:
            (top,) = db.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()
        return int(top)

    def wait_settled(self, api: httpx.Client, event_id: int, timeout: float = 30) -> dict[str, Any]:
        """Poll GET /v1/events/{id} until the item is confirmed or failed; returns its body."""

        def settled() -> dict[str, Any] | None:
            response = api.get(f"/v1/events/{event_id}")
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body if body["status"] in ("confirmed", "failed") else None

        return wait_until(settled, timeout=timeout)


@contextmanager
def start_gateway(
    home: Path, lender: LocalAccount, consortium: Consortium, devchain: DevChain, scopes: tuple[str, ...] = SCOPES
) -> Iterator[LiveGateway]:
    """Write a gateway's files in `home`, create one API key per scope, run `creditshare serve`, stop it after."""
    env = GatewayEnv(home=home, lender=lender, rpc_url=devchain.rpc_url, deployment=consortium.deployment)
    keys = {scope: env.add_client(f"client-{scope}", scope) for scope in scopes}
    process = GatewayProcess(env)
    process.start()
    try:
        yield LiveGateway(env, process, keys)
    finally:
        process.stop()


@pytest.fixture(scope="package")
def gw_consortium(w3: Web3, accounts: list[LocalAccount]) -> Consortium:
    """Fresh contracts: governors accounts[0..2] (threshold 2) and accounts[LENDER] an active lender."""
    c = Consortium.deploy(w3, accounts, governors=accounts[:3], threshold=2)
    c.admit_lender(accounts[LENDER], "Gateway Test Lender")
    return c


@pytest.fixture
def governed(gw_consortium: Consortium) -> Consortium:
    """The package consortium, ready to enact governance: other tests of the session send from the same governor
    accounts through their own transactors, so the cached nonces are re-read from the node first."""
    for transactor in gw_consortium.governor_txs():
        transactor.resync_nonce()
    return gw_consortium


@pytest.fixture(scope="package")
def gateway(
    gw_consortium: Consortium,
    devchain: DevChain,
    accounts: list[LocalAccount],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveGateway]:
    """The shared gateway of accounts[LENDER], with keys for each scope."""
    with start_gateway(tmp_path_factory.mktemp("gateway"), accounts[LENDER], gw_consortium, devchain) as live:
        yield live


@pytest.fixture
def api(gateway: LiveGateway) -> Iterator[httpx.Client]:
    """A client holding the `submit` key of the shared gateway."""
    with gateway.client(gateway.keys["submit"]) as client:
        yield client


@pytest.fixture
def new_record() -> RecordFactory:
    """Build a valid loan_opened record with a fresh record id; keyword arguments override or add fields
    (pass a field as `...` to drop it)."""
    return build_record
