"""Fault injection against the real gateway: chain outage, gateway SIGKILL, concurrent and shared gateways.

Everything is real: chain nodes (each scenario on Ganache and on anvil), `creditshare serve` processes spoken to
over HTTP, their SQLite outbox. The submitting lenders sign with three keys — their own and two delegate signers,
each in its own lane (`DELEGATES`) — so every scenario also checks exactly-once across lanes. Every scenario ends
with the same exactly-once check (`assert_exactly_once`): the ledger's CreditEventRecorded logs of the lender carry
exactly the accepted records' hashes (computed here, independently of the gateway), each once; the gateway's
database holds every item confirmed at the very log the chain holds; and in each lane the on-chain sequence equals
the number of confirmed batches, which run from the lane's first sequence number with no gap or repeat.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from sqlalchemy.engine import Engine
from web3 import Web3

from creditshare.chain import signers
from creditshare.chain.rpc import connect
from creditshare.chain.signers import lane_start
from creditshare.core.db import make_engine, session_factory
from creditshare.core.db.tables import Batch, Lock
from creditshare.devtools.devchain import ENGINES, DevChain, dev_accounts, engine_named, free_port
from creditshare.devtools.rpc_proxy import RpcProxy
from tests.support import Consortium
from tests.support.engines import on_every_engine
from tests.support.exactly_once import (
    Record,
    assert_exactly_once,
    assert_no_internal_errors,
    grep_log,
    headers,
    log_tail,
    make_records,
    post_accepted,
    post_in_threads,
    record_hashes,
    status_counts,
    wait_all_confirmed,
    wait_mid_stream,
)
from tests.support.gateways import GatewayEnv, GatewayProcess, wait_until
from tests.support.prometheus import metric

#: Accounts of the shared dev chain that no other test touches: a governor (threshold 1), two lenders and the
#: deployer. Other packages cache transactors (nonces) for accounts 0-4 and 11-13, so these tests stay off them.
GOVERNOR, LENDER_A, LENDER_B, DEPLOYER = 14, 15, 16, 17
#: Delegate signers beside the lender's own key: three keys, three lanes.
DELEGATES = 2


def isolated_consortium(w3: Web3, accounts: list[LocalAccount]) -> Consortium:
    """Fresh registry and ledger on the shared chain, run only by this module's accounts."""
    c = Consortium.deploy(w3, accounts[: DEPLOYER + 1], governors=[accounts[GOVERNOR]], threshold=1)
    c.admit_lender(accounts[LENDER_A], "Fault Lender A")
    c.admit_lender(accounts[LENDER_B], "Fault Lender B")
    return c


@pytest.fixture
def consortium(w3: Web3, accounts: list[LocalAccount]) -> Consortium:
    """Overrides the root fixture: same shape (fresh contracts, two admitted lenders), other accounts."""
    return isolated_consortium(w3, accounts)


def launch(env: GatewayEnv, registry: list[GatewayProcess]) -> GatewayProcess:
    gateway = GatewayProcess(env)
    registry.append(gateway)
    return gateway.start()


def behind_slow_proxy(
    tmp_path: Path, devchain: DevChain, consortium: Consortium, lender: LocalAccount, gateways: list[GatewayProcess]
) -> tuple[GatewayEnv, str, Engine, RpcProxy, list[LocalAccount]]:
    """The lender's gateway on three keys, its node behind a proxy adding 10 ms per call: that keeps a batch in
    flight long enough to be caught (anvil otherwise mines every batch before a test can look). Returns the
    gateway's files, its API key, its database, the proxy and the delegate signers."""
    proxy = RpcProxy(devchain.rpc_url).start()
    proxy.latency = 0.01
    env = GatewayEnv(tmp_path / "gateway", lender, proxy.url, consortium.deployment)
    delegates = env.add_signers(DELEGATES)
    key = env.add_client("loans", "submit")
    launch(env, gateways)
    return env, key, make_engine(env.database), proxy, delegates


# ---------------------------------------------------------------------------------------------- scenarios


@pytest.mark.slow
@pytest.mark.parametrize("engine_name", list(ENGINES))
def test_chain_outage_all_records_confirmed_exactly_once(
    tmp_path: Path, gateways: list[GatewayProcess], engine_name: str
) -> None:
    """The node stops with batches in flight and records keep arriving; after it restarts on the same data
    every accepted record is on chain exactly once."""
    port, data_dir = free_port(), tmp_path / "chain"
    chain = DevChain(port=port, data_dir=data_dir, log_file=tmp_path / "chain.log", engine=engine_named(engine_name))
    chain.start()
    try:
        accounts = dev_accounts(chain.accounts)  # this chain is the test's own: any of its accounts will do
        consortium = Consortium.deploy(connect(chain.rpc_url), accounts, governors=accounts[:1], threshold=1)
        lender = accounts[3]
        consortium.admit_lender(lender, "Outage Lender")
        env = GatewayEnv(tmp_path / "gateway", lender, chain.rpc_url, consortium.deployment)
        env.add_signers(DELEGATES)
        key = env.add_client("loans", "submit")
        launch(env, gateways)
        engine = make_engine(env.database)

        records = make_records("OUT", 1200)
        for i in range(0, 1200, 300):
            post_accepted(env.url, key, records[i : i + 300])
        at_stop = wait_mid_stream(engine, lender.address, len(records))
        chain.stop()
        after_stop = status_counts(engine, lender.address)
        assert 0 < after_stop.get("confirmed", 0) < len(records), after_stop

        late = make_records("OUT-LATE", 5)
        late_ids = post_accepted(env.url, key, late[:2]) + post_accepted(env.url, key, late[2:])
        ready = httpx.get(env.url + "/readyz", timeout=30)
        assert ready.status_code == 503, ready.text
        assert "chain_error" in ready.json()
        wait_until(lambda: "submitter_error" in httpx.get(env.url + "/readyz", timeout=30).json(), timeout=20)

        chain = DevChain(
            port=port, data_dir=data_dir, log_file=tmp_path / "chain.log", engine=engine_named(engine_name)
        )
        chain.start()
        everything = records + late
        wait_all_confirmed(engine, lender.address, len(everything), env.home)
        summary = assert_exactly_once(
            consortium,
            lender.address,
            record_hashes(everything, lender.address),
            engine,
            node_may_lose_logs=engine_name == "anvil",
        )
        assert summary["lanes"] == 1 + DELEGATES, summary
        assert httpx.get(env.url + "/readyz", timeout=30).status_code == 200
        for event_id in late_ids:  # accepted while the chain was down, confirmed after, as the API reports
            event = httpx.get(f"{env.url}/v1/events/{event_id}", headers=headers(key), timeout=10).json()
            assert event["status"] == "confirmed" and event["tx_hash"] and event["log_index"] is not None, event
        assert_no_internal_errors(env.home)
        print(f"chain outage: stopped at {at_stop} (after stop {after_stop}); {summary}")
        engine.dispose()
    finally:
        chain.stop()


@pytest.mark.slow
@on_every_engine
def test_gateway_sigkill_mid_batch_twice_records_confirmed_exactly_once(
    tmp_path: Path,
    devchain: DevChain,
    consortium: Consortium,
    accounts: list[LocalAccount],
    gateways: list[GatewayProcess],
) -> None:
    """SIGKILL the gateway with a batch in flight, restart it, post more, SIGKILL again: exactly once."""
    lender = accounts[LENDER_A]
    env, key, engine, proxy, _ = behind_slow_proxy(tmp_path, devchain, consortium, lender, gateways)

    first = make_records("KILL1", 1000)
    for i in range(0, 1000, 250):
        post_accepted(env.url, key, first[i : i + 250])
    wait_mid_stream(engine, lender.address, len(first))
    gateways[-1].kill()
    kill1 = status_counts(engine, lender.address)
    assert 0 < kill1.get("confirmed", 0) < len(first), kill1

    # The restarted gateway accepts at once but waits out the dead one's lease; it then recovers and submits.
    launch(env, gateways)
    second = make_records("KILL2", 500)
    for i in range(0, 500, 250):
        post_accepted(env.url, key, second[i : i + 250])
    total = len(first) + len(second)
    confirmed_before = kill1.get("confirmed", 0)

    def resumed_and_in_flight() -> bool:
        counts = status_counts(engine, lender.address)
        assert counts.get("confirmed", 0) < total, "all confirmed before the second kill"
        return counts.get("confirmed", 0) > confirmed_before and counts.get("submitted", 0) > 0

    try:
        wait_until(resumed_and_in_flight, timeout=60, interval=0.002)
    except TimeoutError:  # no open batch caught: kill between batches instead
        assert status_counts(engine, lender.address).get("confirmed", 0) > confirmed_before
    gateways[-1].kill()
    kill2 = status_counts(engine, lender.address)
    assert kill2.get("confirmed", 0) < total, kill2
    assert kill1.get("submitted", 0) + kill2.get("submitted", 0) > 0, "neither kill caught a signed batch open"

    launch(env, gateways)
    wait_all_confirmed(engine, lender.address, total, env.home)
    summary = assert_exactly_once(consortium, lender.address, record_hashes(first + second, lender.address), engine)
    assert summary["lanes"] == 1 + DELEGATES, summary
    assert_no_internal_errors(env.home)
    print(f"gateway SIGKILL: first kill at {kill1}, second at {kill2}; {summary}")
    engine.dispose()
    proxy.stop()


@pytest.mark.slow
@on_every_engine
def test_two_gateways_two_lenders_concurrent_counts_exact_without_nonce_errors(
    tmp_path: Path,
    devchain: DevChain,
    consortium: Consortium,
    accounts: list[LocalAccount],
    gateways: list[GatewayProcess],
) -> None:
    """Two lenders' gateways submit in parallel to one chain: each lender's records land exactly once."""
    rpc_url = devchain.rpc_url
    lanes: list[tuple[LocalAccount, GatewayEnv, str, list[Record]]] = []
    for name, lender in (("LA", accounts[LENDER_A]), ("LB", accounts[LENDER_B])):
        env = GatewayEnv(tmp_path / name, lender, rpc_url, consortium.deployment)
        if name == "LA":  # one lender on three keys beside one on its own key
            env.add_signers(DELEGATES)
        key = env.add_client("loans", "submit")
        launch(env, gateways)
        lanes.append((lender, env, key, make_records(f"CONC-{name}", 800)))

    jobs: list[Callable[[], object]] = []
    for _, env, key, records in lanes:
        for t in range(2):  # eight concurrent requests of 100 records per gateway
            mine = records[t::2]
            for i in range(0, len(mine), 100):
                jobs.append(lambda env=env, key=key, chunk=mine[i : i + 100]: post_accepted(env.url, key, chunk))
    post_in_threads(jobs)

    for lender, env, _, records in lanes:
        engine = make_engine(env.database)
        wait_all_confirmed(engine, lender.address, len(records), env.home)
        summary = assert_exactly_once(consortium, lender.address, record_hashes(records, lender.address), engine)
        assert summary["on_chain"] == 800
        assert summary["lanes"] == (1 + DELEGATES if lender == accounts[LENDER_A] else 1), summary
        engine.dispose()
        assert grep_log(env.home, "nonce") == [], log_tail(env.home)
        assert_no_internal_errors(env.home)
        print(f"two lenders: {lender.address}: {summary}")


@pytest.mark.slow
@on_every_engine
def test_two_gateways_sharing_one_outbox_single_submitter_exactly_once(
    tmp_path: Path,
    devchain: DevChain,
    consortium: Consortium,
    accounts: list[LocalAccount],
    gateways: list[GatewayProcess],
) -> None:
    """Two processes for one lender (three keys) on one database: both accept, one submitter per lane at a time
    (the lane's lease), and after the first is SIGKILLed the other takes over; every record lands exactly once."""
    lender = accounts[LENDER_A]
    rpc_url = devchain.rpc_url
    home = tmp_path / "shared"
    env_a = GatewayEnv(home, lender, rpc_url, consortium.deployment)
    env_a.add_signers(DELEGATES)
    # Same files, database and keys, its own port.
    env_b = GatewayEnv(home, lender, rpc_url, consortium.deployment, extra=dict(env_a.extra))
    assert env_a.database == env_b.database and env_a.port != env_b.port
    key = env_a.add_client("loans", "submit")
    gateway_a = launch(env_a, gateways)
    launch(env_b, gateways)
    engine = make_engine(env_a.database)
    lock_name = f"submitter:{lender.address.lower()}"
    owners: set[str] = set()
    sampling = threading.Event()

    def sample_lease() -> None:
        with session_factory(engine)() as session:
            while not sampling.is_set():
                lock = session.get(Lock, lock_name)
                if lock is not None:
                    owners.add(lock.owner)
                session.expire_all()
                session.rollback()
                time.sleep(0.01)

    sampler = threading.Thread(target=sample_lease)
    sampler.start()
    records = make_records("SHARED", 1200)
    jobs: list[Callable[[], object]] = []
    for n, env in enumerate((env_a, env_b)):
        mine = records[n * 600 : (n + 1) * 600]
        for i in range(0, 600, 150):
            jobs.append(lambda env=env, chunk=mine[i : i + 150]: post_accepted(env.url, key, chunk))
    try:
        post_in_threads(jobs)
        wait_all_confirmed(engine, lender.address, len(records), home)
    finally:
        sampling.set()
        sampler.join()
    assert len(owners) == 1, f"the submitter lease changed hands while both gateways lived: {owners}"
    assert_exactly_once(consortium, lender.address, record_hashes(records, lender.address), engine)

    # Take-over: kill A (whichever holds the lease) and B alone confirms what is sent to it afterwards.
    gateway_a.kill()
    more = make_records("SHARED-B", 300)
    post_accepted(env_b.url, key, more)
    wait_all_confirmed(engine, lender.address, len(records) + len(more), home)
    summary = assert_exactly_once(consortium, lender.address, record_hashes(records + more, lender.address), engine)
    assert summary["lanes"] == 1 + DELEGATES, summary
    assert grep_log(home, "nonce", "out_of_order", "stale_batch") == [], log_tail(home)
    assert_no_internal_errors(home)
    print(f"shared outbox: lease owners seen {len(owners)}; {summary}")
    engine.dispose()


@pytest.mark.slow
def test_delegate_signer_removed_mid_stream_lane_retires_records_exactly_once(
    tmp_path: Path,
    devchain: DevChain,
    consortium: Consortium,
    accounts: list[LocalAccount],
    gateways: list[GatewayProcess],
) -> None:
    """A governor removes one of the lender's delegate signers while its batches are in flight (a leaked key):
    what it had sent after the removal reverts and goes back to the outbox, its lane retires, the other two keys
    carry every record, exactly once, and nothing of that lane lands after the removal."""
    lender = accounts[LENDER_A]
    env, key, engine, proxy, (leaked, _) = behind_slow_proxy(tmp_path, devchain, consortium, lender, gateways)

    records = make_records("RETIRE", 1200)
    for i in range(0, 1200, 300):
        post_accepted(env.url, key, records[i : i + 300])
    wait_mid_stream(engine, lender.address, len(records))
    removal = signers.remove_signer(consortium.registry, consortium.tx(accounts[GOVERNOR]), leaked.address)
    late = make_records("RETIRE-LATE", 300)
    post_accepted(env.url, key, late)

    wait_all_confirmed(engine, lender.address, len(records) + len(late), env.home)
    summary = assert_exactly_once(consortium, lender.address, record_hashes(records + late, lender.address), engine)
    lane = signers.signer_record(consortium.registry, leaked.address).lane
    with session_factory(engine)() as session:
        landed = session.scalars(
            select(Batch.block_number).where(
                Batch.status == "confirmed", Batch.seq >= lane_start(lane), Batch.seq < lane_start(lane + 1)
            )
        ).all()
    assert all(block <= removal["blockNumber"] for block in landed), (landed, removal["blockNumber"])
    wait_until(lambda: metric(httpx.get(env.url + "/metrics", timeout=10).text, "creditshare_signing_lanes") == 2)
    assert httpx.get(env.url + "/readyz", timeout=30).status_code == 200
    assert_no_internal_errors(env.home)
    print(f"signer removed: lane {lane} had {len(landed)} batches before; {summary}")
    engine.dispose()
    proxy.stop()
