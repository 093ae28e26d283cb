"""Fault injection against the real gateway: chain outage, gateway SIGKILL, concurrent and shared gateways.

Everything is real: Ganache processes, `creditshare serve` processes spoken to over HTTP, their SQLite outbox.
Every scenario ends with the same exactly-once check (`assert_exactly_once`): the ledger's CreditEventRecorded
logs of the lender carry exactly the accepted records' hashes (computed here, independently of the gateway),
each once; the gateway's database holds every item confirmed at the very log the chain holds; and the lender's
on-chain sequence equals the number of confirmed batches, which are seq 0..n-1 with no gap or repeat.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from web3 import Web3

from creditshare.chain.rpc import connect
from creditshare.core.db import make_engine, session_factory
from creditshare.core.db.tables import Batch, Lock, OutboxItem
from creditshare.devtools.devchain import DevChain, dev_accounts, free_port
from creditshare.domain.records import CreditEventIn, normalise_event
from tests.support import Consortium
from tests.support.gateways import GatewayEnv, GatewayProcess, wait_until
from tests.support.holders import keys_for
from tests.support.records import loan_opened_records

RECORDED_TOPIC = "0x" + keccak(text="CreditEventRecorded(bytes32,address,bytes32,bytes32,uint256)").hex()
#: A restarted gateway may wait out its dead predecessor's 10 s lease (polled every 10/3 s) before it submits.
CONFIRM_TIMEOUT = 90.0

Record = dict[str, Any]


# ---------------------------------------------------------------------------------------------- helpers


def make_records(prefix: str, count: int) -> list[Record]:
    """`count` valid loan_opened records with distinct record ids, borrowers and loans."""
    return loan_opened_records(count, seed=prefix, prefix=prefix)


def record_hashes(records: Sequence[Record], lender: str) -> set[bytes]:
    """The record hashes the chain must carry for `records`, computed without the gateway."""
    parsed = [CreditEventIn.model_validate(r) for r in records]
    keys = keys_for(*parsed)
    return {normalise_event(p, lender=lender, keys=keys).record_hash for p in parsed}


def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def post_accepted(url: str, key: str, records: Sequence[Record]) -> list[int]:
    """POST records; assert 200 with every one accepted; return their event ids."""
    response = httpx.post(f"{url}/v1/events", json=list(records), headers=headers(key), timeout=60)
    assert response.status_code == 200, f"{response.status_code}: {response.text[:500]}"
    body = response.json()
    assert body["accepted"] == len(records), body
    assert all(r["status"] == "accepted" for r in body["results"])
    return [int(r["event_id"]) for r in body["results"]]


def status_counts(engine: Engine, lender: str) -> dict[str, int]:
    """Outbox items of `lender` per status, read straight from the gateway's database."""
    with session_factory(engine)() as session:
        rows = session.execute(
            select(OutboxItem.status, func.count()).where(OutboxItem.lender == lender).group_by(OutboxItem.status)
        )
        return {status: int(n) for status, n in rows}


def log_tail(home: Path, chars: int = 3000) -> str:
    path = home / "gateway.log"
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no gateway.log)"


def wait_all_confirmed(engine: Engine, lender: str, total: int, home: Path, timeout: float = CONFIRM_TIMEOUT) -> None:
    """Wait until all `total` items of `lender` are confirmed; fail at once if any item failed."""

    def done() -> bool:
        counts = status_counts(engine, lender)
        assert counts.get("failed", 0) == 0, f"items failed: {counts}\n{log_tail(home)}"
        return counts.get("confirmed", 0) == total

    try:
        wait_until(done, timeout=timeout, interval=0.1)
    except TimeoutError:
        pytest.fail(f"not all {total} items confirmed within {timeout}s: {status_counts(engine, lender)}\n"
                    f"{log_tail(home)}")  # fmt: skip


def wait_mid_stream(engine: Engine, lender: str, total: int, timeout: float = 60.0) -> dict[str, int]:
    """Poll (tightly) until some items are confirmed and a signed batch is in flight; return those counts.

    If no signed batch is ever caught open within `timeout`, settle for "some but not all confirmed"."""
    deadline = time.monotonic() + timeout
    fallback: dict[str, int] | None = None
    while time.monotonic() < deadline:
        counts = status_counts(engine, lender)
        confirmed = counts.get("confirmed", 0)
        assert confirmed < total, f"all {total} items confirmed before the fault could be injected"
        if confirmed > 0 and counts.get("submitted", 0) > 0:
            return counts
        if confirmed > 0 and fallback is None:
            fallback = counts
            deadline = min(deadline, time.monotonic() + 2.0)
        time.sleep(0.002)
    assert fallback is not None, f"nothing confirmed within {timeout}s: {status_counts(engine, lender)}"
    return fallback


def chain_records(w3: Web3, ledger: str, lender: str) -> list[tuple[bytes, str, int]]:
    """(record hash, tx hash, log index) of every CreditEventRecorded log of `lender` on `ledger`."""
    lender_topic = "0x" + "00" * 12 + lender[2:].lower()
    response = w3.provider.make_request(
        "eth_getLogs",  # type: ignore[arg-type]
        [{"address": ledger, "fromBlock": "0x0", "toBlock": "latest", "topics": [RECORDED_TOPIC, None, lender_topic]}],
    )
    assert "error" not in response, response
    return [
        (bytes.fromhex(log["topics"][3][2:]), str(log["transactionHash"]).lower(), int(log["logIndex"], 16))
        for log in response["result"]
    ]


def assert_exactly_once(consortium: Consortium, lender: str, expected: set[bytes], engine: Engine) -> dict[str, int]:
    """The exactly-once check described in the module docstring; returns a summary for the report."""
    on_chain = chain_records(consortium.w3, consortium.deployment.ledger, lender)
    hashes = [h for h, _, _ in on_chain]
    repeated = {h.hex(): n for h, n in Counter(hashes).items() if n > 1}
    assert not repeated, f"{len(repeated)} record hashes recorded more than once: {list(repeated.items())[:5]}"
    assert len(hashes) == len(expected), f"{len(hashes)} records on chain, {len(expected)} accepted"
    assert set(hashes) == expected, (
        f"{len(expected - set(hashes))} accepted records missing on chain, {len(set(hashes) - expected)} unknown"
    )
    with session_factory(engine)() as session:
        items = session.execute(
            select(OutboxItem.record_hash, OutboxItem.status, OutboxItem.tx_hash, OutboxItem.log_index).where(
                OutboxItem.lender == lender
            )
        ).all()
        seqs = list(
            session.scalars(
                select(Batch.seq).where(Batch.lender == lender, Batch.status == "confirmed").order_by(Batch.seq)
            )
        )
        batch_states = dict(
            session.execute(
                select(Batch.status, func.count()).where(Batch.lender == lender).group_by(Batch.status)
            ).all()
        )
    assert {s for _, s, _, _ in items} == {"confirmed"}
    in_db = {bytes(h): (str(tx).lower(), li) for h, _, tx, li in items}
    assert in_db == {h: (tx, li) for h, tx, li in on_chain}, "the database and the chain disagree on where items are"
    next_seq = int(consortium.ledger.functions.nextSequence(lender).call())
    assert next_seq == len(seqs), f"nextSequence {next_seq} but {len(seqs)} confirmed batches in the database"
    assert seqs == list(range(next_seq)), f"confirmed batch seqs are not 0..{next_seq - 1}: {seqs}"
    return {"on_chain": len(hashes), "batches": next_seq, **{f"batches_{k}": int(v) for k, v in batch_states.items()}}


def grep_log(home: Path, *words: str) -> list[str]:
    """Lines of the gateway's log containing any of `words` (case-insensitive)."""
    path = home / "gateway.log"
    text = path.read_text(errors="replace") if path.exists() else ""
    return [line for line in text.splitlines() if any(w in line.lower() for w in words)]


def assert_no_internal_errors(home: Path) -> None:
    """The gateway never logged a traceback or an unexpected submitter error."""
    assert grep_log(home, "traceback", "unexpected error") == [], log_tail(home)


def post_in_threads(jobs: Sequence[Callable[[], object]]) -> None:
    """Run `jobs` in parallel threads; re-raise the first failure."""
    errors: list[BaseException] = []

    def run(job: Callable[[], object]) -> None:
        try:
            job()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if errors:
        raise errors[0]


#: Accounts of the shared dev chain that no other test touches: a governor (threshold 1), two lenders and the
#: deployer. Other packages cache transactors (nonces) for accounts 0-4 and 11-13, so these tests stay off them.
GOVERNOR, LENDER_A, LENDER_B, DEPLOYER = 14, 15, 16, 17


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


# ---------------------------------------------------------------------------------------------- scenarios


@pytest.mark.slow
def test_chain_outage_all_records_confirmed_exactly_once(tmp_path: Path, gateways: list[GatewayProcess]) -> None:
    """Ganache stops with batches in flight and records keep arriving; after it restarts on the same data
    every accepted record is on chain exactly once."""
    port, data_dir = free_port(), tmp_path / "chain"
    chain = DevChain(port=port, data_dir=data_dir, log_file=tmp_path / "chain.log")
    chain.start()
    try:
        accounts = dev_accounts(chain.accounts)  # this chain is the test's own: any of its accounts will do
        consortium = Consortium.deploy(connect(chain.rpc_url), accounts, governors=accounts[:1], threshold=1)
        lender = accounts[3]
        consortium.admit_lender(lender, "Outage Lender")
        env = GatewayEnv(tmp_path / "gateway", lender, chain.rpc_url, consortium.deployment)
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

        chain = DevChain(port=port, data_dir=data_dir, log_file=tmp_path / "chain.log")
        chain.start()
        everything = records + late
        wait_all_confirmed(engine, lender.address, len(everything), env.home)
        summary = assert_exactly_once(consortium, lender.address, record_hashes(everything, lender.address), engine)
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
def test_gateway_sigkill_mid_batch_twice_records_confirmed_exactly_once(
    tmp_path: Path,
    devchain: DevChain,
    consortium: Consortium,
    accounts: list[LocalAccount],
    gateways: list[GatewayProcess],
) -> None:
    """SIGKILL the gateway with a batch in flight, restart it, post more, SIGKILL again: exactly once."""
    lender = accounts[LENDER_A]
    env = GatewayEnv(tmp_path / "gateway", lender, devchain.rpc_url, consortium.deployment)
    key = env.add_client("loans", "submit")
    launch(env, gateways)
    engine = make_engine(env.database)

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
    assert_no_internal_errors(env.home)
    print(f"gateway SIGKILL: first kill at {kill1}, second at {kill2}; {summary}")
    engine.dispose()


@pytest.mark.slow
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
        engine.dispose()
        assert grep_log(env.home, "nonce") == [], log_tail(env.home)
        assert_no_internal_errors(env.home)
        print(f"two lenders: {lender.address}: {summary}")


@pytest.mark.slow
def test_two_gateways_sharing_one_outbox_single_submitter_exactly_once(
    tmp_path: Path,
    devchain: DevChain,
    consortium: Consortium,
    accounts: list[LocalAccount],
    gateways: list[GatewayProcess],
) -> None:
    """Two processes for one lender key on one database: both accept, one submitter at a time (the lease), and
    after the first is SIGKILLed the other takes over; every record lands exactly once."""
    lender = accounts[LENDER_A]
    rpc_url = devchain.rpc_url
    home = tmp_path / "shared"
    env_a = GatewayEnv(home, lender, rpc_url, consortium.deployment)
    env_b = GatewayEnv(home, lender, rpc_url, consortium.deployment)  # same files and database, its own port
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
    assert grep_log(home, "nonce", "out_of_order", "stale_batch") == [], log_tail(home)
    assert_no_internal_errors(home)
    print(f"shared outbox: lease owners seen {len(owners)}; {summary}")
    engine.dispose()
