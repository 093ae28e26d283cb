"""A lender's gateway behind a fault-injecting proxy (`creditshare.devtools.rpc_proxy`), with what the network-fault
tests need to drive it and to check the outcome: every record on chain exactly once, every ledger log of the node
in the gateway's index, and what /metrics and /readyz show."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from sqlalchemy.engine import Engine
from web3 import Web3

from creditshare.core.db import make_engine, session_factory
from creditshare.core.db.tables import IndexEvent
from creditshare.devtools.rpc_proxy import BesuLimits, RpcProxy
from tests.support import Consortium
from tests.support.exactly_once import (
    assert_exactly_once,
    assert_no_internal_errors,
    chain_records,
    record_hashes,
    wait_all_confirmed,
)
from tests.support.gateways import GatewayEnv, GatewayProcess, wait_until

#: The fault tests' accounts (see tests/write/test_faults.py): a governor, a lender and the deployer.
GOVERNOR, LENDER, DEPLOYER = 14, 15, 17
#: Seconds after which a batch without a receipt makes /readyz report the node stalled (production: 30 s+).
STALL_SECONDS = 2.0


@dataclass
class Lane:
    """One lender's gateway behind the proxy, with what a scenario needs to drive and check it."""

    consortium: Consortium
    lender: LocalAccount
    env: GatewayEnv
    key: str
    engine: Engine
    #: Proxies in front of the same node, given to the gateway as fallback nodes.
    fallbacks: list[RpcProxy]

    def readyz(self) -> httpx.Response:
        return httpx.get(self.env.url + "/readyz", timeout=60)

    def metrics(self) -> str:
        return httpx.get(self.env.url + "/metrics", timeout=60).text

    def check_outcome(self, records: list[dict[str, object]]) -> dict[str, int]:
        """Every record on chain exactly once, and every ledger log of the node in the gateway's index."""
        address = self.lender.address
        wait_all_confirmed(self.engine, address, len(records), self.env.home, timeout=120)
        summary = assert_exactly_once(self.consortium, address, record_hashes(records, address), self.engine)
        on_chain = {
            (tx, index)
            for _, tx, index in chain_records(self.consortium.w3, self.consortium.deployment.ledger, address)
        }
        head = max(int(self.consortium.w3.eth.get_transaction_receipt(tx)["blockNumber"]) for tx, _ in on_chain)
        wait_until(lambda: (self.readyz().json().get("indexed_block") or -1) >= head, timeout=60)
        with session_factory(self.engine)() as session:
            indexed = {
                ("0x" + bytes(tx).hex(), index)
                for tx, index in session.execute(select(IndexEvent.tx_hash, IndexEvent.log_index))
            }
        assert indexed == on_chain, f"{len(on_chain - indexed)} logs not indexed, {len(indexed - on_chain)} unknown"
        assert_no_internal_errors(self.env.home)
        return summary


LaneFactory = Callable[..., tuple["Lane", RpcProxy]]


@pytest.fixture
def lane_behind(
    accounts: list[LocalAccount], tmp_path: Path, gateways: list[GatewayProcess]
) -> Iterator[Callable[..., tuple[Lane, RpcProxy]]]:
    """Start a gateway behind a proxy in front of `w3`'s node (fresh contracts), its lender signing with its own key
    and `delegates` delegate signers; returns the lane and proxy."""
    proxies: list[RpcProxy] = []
    engines: list[Engine] = []

    def start(
        w3: Web3,
        node_url: str,
        *,
        besu: BesuLimits | None = None,
        fallbacks: int = 0,
        delegates: int = 0,
        **extra: str,
    ) -> tuple[Lane, RpcProxy]:
        consortium = Consortium.deploy(w3, accounts[: DEPLOYER + 1], governors=[accounts[GOVERNOR]], threshold=1)
        lender = accounts[LENDER]
        consortium.admit_lender(lender, "Network Fault Lender")
        proxy = RpcProxy(node_url, besu=besu).start()
        others = [RpcProxy(node_url).start() for _ in range(fallbacks)]
        proxies.extend([proxy, *others])
        settings = {"CREDITSHARE_CHAIN_STALL_SECONDS": str(STALL_SECONDS), "CREDITSHARE_INDEX_POLL_INTERVAL": "0.1"}
        if others:
            settings["CREDITSHARE_RPC_FALLBACK_URLS"] = ",".join(other.url for other in others)
        env = GatewayEnv(tmp_path / "gateway", lender, proxy.url, consortium.deployment, extra={**settings, **extra})
        env.add_signers(delegates)  # each in its own lane: the lender then signs with 1 + delegates keys
        key = env.add_client("loans", "submit")
        gateways.append(GatewayProcess(env).start())
        engine = make_engine(env.database)
        engines.append(engine)
        return Lane(consortium, lender, env, key, engine, others), proxy

    yield start
    for proxy in proxies:
        proxy.stop()
    for engine in engines:
        engine.dispose()
