"""One submitter really is one: a submitter that stalls past its lease cannot write once another took over, and
a landed batch is only taken as ours when its digest is ours.

* the lease's fencing token, checked inside each write transaction (SQLite and PostgreSQL);
* `find_batch` matching digests on a real chain;
* end to end: two gateways on one outbox, the first one's node hangs in the middle of its work (a proxy holds its
  calls) until the second has taken the lease over and confirmed everything; when the first wakes up it writes
  nothing, and every confirmed item's log on chain carries that item's own record hash.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hexbytes import HexBytes
from sqlalchemy import select

from creditshare.chain.ledger import BatchConflict, LedgerClient, batch_digest
from creditshare.chain.rpc import connect
from creditshare.chain.transactor import SignedTx
from creditshare.core.db import make_engine, session_factory
from creditshare.core.db.lease import Lease, LeaseLost
from creditshare.core.db.tables import Batch, Lock
from creditshare.devtools.devchain import DevChain, dev_accounts, free_port
from creditshare.devtools.rpc_proxy import RpcProxy
from creditshare.write.batches import BatchStore
from tests.support import Consortium, credit_item
from tests.support.gateways import GatewayEnv, GatewayProcess, wait_until
from tests.write.test_faults import (
    assert_exactly_once,
    grep_log,
    launch,
    make_records,
    post_accepted,
    record_hashes,
    status_counts,
    wait_all_confirmed,
)

LENDER = "0x" + "ab" * 20


def test_lease_taken_over_fences_the_old_holders_writes(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        factory = session_factory(engine)
        stalled = Lease(factory, "submitter:test", seconds=0.3)
        assert stalled.acquire() and stalled.token == 1
        store = BatchStore(factory, LENDER, stalled.fence)
        signed = SignedTx(HexBytes(b"\x01"), "0x" + "11" * 32, 0)
        store.store_signed(0, signed, [], 0, bytes(32))  # the holder writes

        time.sleep(0.5)  # the holder stalls past its lease...
        successor = Lease(factory, "submitter:test", seconds=10)
        assert successor.acquire() and successor.token == 2  # ...and another takes it over

        with pytest.raises(LeaseLost):
            store.store_signed(1, SignedTx(HexBytes(b"\x02"), "0x" + "22" * 32, 1), [], 0, bytes(32))
        with pytest.raises(LeaseLost):
            store.requeue(1, "stale_batch", "must not happen")
        with factory() as session:
            assert [b.seq for b in session.scalars(select(Batch))] == [0]  # nothing written after the take-over
            lock = session.get(Lock, "submitter:test")
            assert lock is not None and (lock.owner, lock.token) == (successor.owner, 2)
        assert not stalled.acquire()  # and it cannot take the lease back while the successor holds it

        successor.release()  # released, the row stays and its token only grows
        assert stalled.acquire() and stalled.token == 3
    finally:
        engine.dispose()


def test_find_batch_other_digest_for_the_sequence_is_a_conflict(consortium: Consortium) -> None:
    lender = consortium.accounts[3]
    item = credit_item()
    consortium.record(lender, [item])
    client = LedgerClient(consortium.ledger, consortium.registry, lender.address)
    tx = consortium.tx(lender)
    landed = client.find_batch(tx, 0, batch_digest([item[2]]), consortium.deployment.block)
    assert landed is not None and landed.status == 1
    with pytest.raises(BatchConflict):  # the batch that took sequence 0 is not one of another item
        client.find_batch(tx, 0, batch_digest([bytes(reversed(item[2]))]), consortium.deployment.block)


@pytest.mark.slow
def test_stalled_submitter_wakes_after_takeover_and_writes_nothing(
    tmp_path: Path, gateways: list[GatewayProcess]
) -> None:
    chain = DevChain(port=free_port(), log_file=tmp_path / "chain.log")
    chain.start()
    proxy = RpcProxy(chain.rpc_url).start()
    try:
        accounts = dev_accounts(chain.accounts)
        consortium = Consortium.deploy(connect(chain.rpc_url), accounts, governors=accounts[:1], threshold=1)
        lender = accounts[3]
        consortium.admit_lender(lender, "Shared Lender")
        home = tmp_path / "shared"
        env_a = GatewayEnv(home, lender, proxy.url, consortium.deployment)  # A reaches the node through the proxy
        env_b = GatewayEnv(home, lender, chain.rpc_url, consortium.deployment)
        key = env_a.add_client("loans", "submit")
        launch(env_a, gateways)
        engine = make_engine(env_a.database)

        first = make_records("STALL-A", 800)
        for i in range(0, len(first), 200):
            post_accepted(env_a.url, key, first[i : i + 200])
        wait_until(lambda: status_counts(engine, lender.address).get("confirmed", 0) >= 200, timeout=60)
        proxy.hold()  # A's node hangs in the middle of A's work: A stops renewing its lease
        wait_until(lambda: proxy.held > 0, timeout=30)

        launch(env_b, gateways)  # B takes the lease over once A's expires, recovers, and sends the rest
        second = make_records("STALL-B", 400)
        post_accepted(env_b.url, key, second)
        everything = first + second
        wait_all_confirmed(engine, lender.address, len(everything), home)
        with session_factory(engine)() as session:
            lock = session.get(Lock, f"submitter:{lender.address.lower()}")
            assert lock is not None and lock.token >= 2  # it changed hands

        proxy.release()  # A wakes up with what it knew before
        wait_until(lambda: grep_log(env_a.home, "standing by"), timeout=60)
        time.sleep(2)
        summary = assert_exactly_once(consortium, lender.address, record_hashes(everything, lender.address), engine)
        assert status_counts(engine, lender.address) == {"confirmed": len(everything)}
        print(f"stalled submitter: {summary}")
        engine.dispose()
    finally:
        proxy.stop()
        chain.stop()
