"""Network faults between the gateway and a real node (`RpcProxy` in between, driven per test): added latency,
connections reset mid-request, answers cut in half, HTTP 502/503, a node that stops advancing, and a node with
Besu's limits (pending transactions per sender, `eth_getLogs` range and result caps).

Every scenario posts records before and during the fault, ends it, and then checks: every accepted record is on
chain exactly once (`assert_exactly_once`); the gateway's index holds every ledger log the node holds — no block
skipped; and the fault showed in `/metrics` and, while it lasted, in `/readyz`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from web3 import Web3

from creditshare.chain.rpc import connect
from creditshare.devtools.devchain import Anvil, DevChain, free_port
from creditshare.devtools.rpc_proxy import BesuLimits, RpcProxy
from tests.support.exactly_once import (
    make_records,
    post_accepted,
)
from tests.support.gateways import GatewayProcess, wait_until
from tests.support.lanes import LaneFactory
from tests.support.prometheus import metric

pytestmark = pytest.mark.slow

#: Delegate signers beside the lender's own key: every scenario runs on three keys, three lanes.
DELEGATES = 2


@dataclass(frozen=True)
class Fault:
    """A fault: how to start and end it on the proxy, and where it must show."""

    start: Callable[[RpcProxy], object]
    end: Callable[[RpcProxy], object]
    #: A figure read from /metrics that must grow while the fault lasts.
    shown: Callable[[str], float]
    #: What /readyz says while the fault lasts: (HTTP status, a check name, text that check must contain).
    readyz: tuple[int, str, str]


def _set(**values: object) -> Callable[[RpcProxy], None]:
    def apply(proxy: RpcProxy) -> None:
        for name, value in values.items():
            setattr(proxy, name, value)

    return apply


def _rpc_outcome(outcome: str) -> Callable[[str], float]:
    return lambda text: metric(text, "creditshare_rpc_requests_total", outcome=outcome)


def _slow_calls(text: str) -> float:
    """JSON-RPC calls that took more than 0.1 s."""
    return metric(text, "creditshare_rpc_seconds_count") - metric(text, "creditshare_rpc_seconds_bucket", le="0.1")


FAULTS = {
    "latency": Fault(_set(latency=0.15), _set(latency=0.0), _slow_calls, (200, "chain_rpc_ms", "")),
    "reset": Fault(
        _set(reset_next=10**9), _set(reset_next=0), _rpc_outcome("reset"), (503, "chain_error", "unreachable")
    ),
    "cut_in_half": Fault(
        _set(cut_next=10**9), _set(cut_next=0), _rpc_outcome("cut"), (503, "chain_error", "cut short")
    ),
    "http_502": Fault(
        _set(http_status=502), _set(http_status=None), _rpc_outcome("http_502"), (503, "chain_error", "HTTP 502")
    ),
    "http_503": Fault(
        _set(http_status=503), _set(http_status=None), _rpc_outcome("http_503"), (503, "chain_error", "HTTP 503")
    ),
    "node_stops_advancing": Fault(
        RpcProxy.freeze,
        RpcProxy.thaw,
        lambda text: metric(text, "creditshare_oldest_unsettled_batch_seconds"),
        (503, "node_stalled", "waited"),
    ),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_fault_loses_nothing_duplicates_nothing_and_shows(
    name: str, w3: Web3, devchain: DevChain, lane_behind: LaneFactory
) -> None:
    fault = FAULTS[name]
    lane, proxy = lane_behind(w3, devchain.rpc_url, delegates=DELEGATES)
    before, during = make_records(f"NF-{name}-1", 150), make_records(f"NF-{name}-2", 150)
    post_accepted(lane.env.url, lane.key, before)
    if name in ("reset", "cut_in_half"):
        # First a few single faults on the calls that matter most: sends the node did not see (reset) or did
        # execute without our hearing it (cut), and receipts lost on the way back.
        proxy.fault_methods = {"eth_sendRawTransaction", "eth_getTransactionReceipt"}
        setattr(proxy, "reset_next" if name == "reset" else "cut_next", 3)
        wait_until(lambda: proxy.injected[name.removesuffix("_in_half")] >= 3, timeout=60)
        proxy.fault_methods = None
    shown_before = fault.shown(lane.metrics())
    status, check, text = fault.readyz

    fault.start(proxy)
    try:
        post_accepted(lane.env.url, lane.key, during)  # accepting needs no node: records wait in the outbox

        def shows() -> bool:
            ready = lane.readyz()
            return ready.status_code == status and text in str(ready.json().get(check, ""))

        wait_until(shows, timeout=60, interval=0.2)
        if name == "latency":
            assert lane.readyz().json()["chain_rpc_ms"] >= 150
        shown_during = fault.shown(lane.metrics())
    finally:
        fault.end(proxy)

    assert shown_during > shown_before, (name, shown_before, shown_during)
    summary = lane.check_outcome(before + during)
    assert summary["lanes"] == 1 + DELEGATES, summary
    wait_until(lambda: lane.readyz().status_code == 200, timeout=60)
    print(f"{name}: injected {dict(proxy.injected)}; {summary}")


def test_besu_limits_pending_cap_logs_range_and_result_cap(
    tmp_path: Path, gateways: list[GatewayProcess], lane_behind: LaneFactory
) -> None:
    """Besu's limits on a node with 1-second blocks: at most 4 pending transactions per sender (answered as Besu
    does), `eth_getLogs` over at most 5 blocks and answers cut silently at 50 logs. The lender signs with three keys
    and the gateway is told to keep 8 batches in flight per key, so the node must refuse some of each. Batches of 3
    keep a block below the result cap (12 pending batches × 4 logs): a node whose cap is below one block's logs
    cannot be read at all (docs/operations.md)."""
    chain = DevChain(port=free_port(), accounts=20, block_time=1, engine=Anvil(), log_file=tmp_path / "anvil.log")
    chain.start()
    try:
        lane, proxy = lane_behind(
            connect(chain.rpc_url),
            chain.rpc_url,
            besu=BesuLimits(pending_per_sender=4, max_logs_range=5, max_logs_results=50),
            delegates=DELEGATES,  # the cap is per sender: three keys, each refused past its own 4
            CREDITSHARE_CHAIN_PROFILE="besu-qbft",
            CREDITSHARE_GAS_PRICE_MODE="node",  # anvil charges a base fee; a Besu free-gas network would not
            CREDITSHARE_MAX_IN_FLIGHT="8",
            # The node's result cap must be known: a page cut silently below it cannot be told from a full one
            # (without this setting 216 of 400 logs went unindexed here).
            CREDITSHARE_LOGS_MAX_RESULTS="50",
            CREDITSHARE_BATCH_SIZE="3",
            CREDITSHARE_INDEX_POLL_INTERVAL="3",  # several blocks per read: more than 50 logs
            CREDITSHARE_CHAIN_STALL_SECONDS="30",
        )
        records = make_records("NF-besu", 400)
        for i in range(0, len(records), 200):
            post_accepted(lane.env.url, lane.key, records[i : i + 200])
        summary = lane.check_outcome(records)
        assert summary["lanes"] == 1 + DELEGATES, summary
        shown = lane.metrics()
        assert (
            proxy.injected["pending_cap"] > 0 and metric(shown, "creditshare_chain_errors_total", kind="node_busy") > 0
        )
        assert (
            proxy.injected["logs_range"] > 0
            and metric(shown, "creditshare_chain_errors_total", kind="logs_refused") > 0
        )
        assert (
            proxy.injected["logs_truncated"] > 0
            and metric(shown, "creditshare_chain_errors_total", kind="logs_full_page") > 0
        )
        assert all(request.span <= 5 for request in proxy.logs_requests if not request.refused)
        print(f"besu limits: injected {dict(proxy.injected)}; {summary}")
    finally:
        chain.stop()
