"""Decoding in a second process (`read.decode_worker`): the index it gives is the one decoding here gives, and a
decoding process that dies costs nothing but the hand-over (the run decodes here, the next starts a new child)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time

import psutil
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from web3 import Web3

from creditshare.chain.governance import Action, Role
from creditshare.core.db.tables import IndexEvent, IndexInquiry, IndexMemberEvent
from creditshare.domain.codec import ItemType
from creditshare.read.decode_worker import DecodeWorker
from creditshare.read.follower import Follower
from tests.read.conftest import IndexDb, assert_index_matches_chain
from tests.support import Consortium, credit_item, inquiry_item


def _children() -> set[int]:
    """This process's live decoding children: spawned pool workers (`spawn_main` in their command line, unlike
    multiprocessing's resource tracker, which stays for the process's life), not zombies waiting to be reaped."""
    live = set()
    for child in psutil.Process(os.getpid()).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "spawn_main" in " ".join(child.cmdline()):
                live.add(child.pid)
        except psutil.NoSuchProcess:
            pass
    return live


def _record_some(c: Consortium, accounts: list[LocalAccount]) -> None:
    lender_a, lender_b = accounts[3], accounts[4]
    for n in range(3):
        day = dt.date(2025, 1, 10 + n)
        c.record(lender_a, [credit_item(ItemType.LOAN_OPENED, day, 100_000 * (n + 1)) for _ in range(5)])
        c.record(lender_b, [credit_item(ItemType.OVERDUE, day, 50_000, 5_000, 3), inquiry_item(1)])
    c.enact(Action.ADMIT, accounts[5].address, Role.LENDER, name="Lender C")


def test_decoded_in_a_second_process_the_index_is_the_same(
    consortium: Consortium, w3: Web3, accounts: list[LocalAccount], index_db: IndexDb
) -> None:
    _record_some(consortium, accounts)
    here = Follower(w3, index_db.open(), consortium.deployment, decode_offload=False)
    other_db = IndexDb(index_db.path.with_name("offloaded.db"))
    offloaded_factory = other_db.open()
    offloaded = Follower(w3, offloaded_factory, consortium.deployment, decode_offload=True, rows_per_write=4)
    offloaded.decoder.min_logs = 1  # every run goes to the child
    before = _children()
    try:
        here.sync()
        offloaded.sync()
        assert _children() - before, "no decoding process was started"
        assert_index_matches_chain(w3, offloaded_factory, consortium.deployment)
        for model in (IndexEvent, IndexInquiry, IndexMemberEvent):
            columns = [c for c in model.__table__.columns]  # type: ignore[attr-defined]
            with index_db.open()() as a, offloaded_factory() as b:
                query = select(*columns).order_by(model.block_number, model.log_index)  # type: ignore[attr-defined]
                assert list(a.execute(query)) == list(b.execute(query))
    finally:
        offloaded.close()
        other_db.close()
    deadline = time.monotonic() + 10
    while _children() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _children() - before, "close() left the decoding process running"


def test_a_killed_decoding_process_is_replaced_and_its_run_decoded_here(
    consortium: Consortium, w3: Web3, accounts: list[LocalAccount]
) -> None:
    _record_some(consortium, accounts)
    deployment = consortium.deployment
    query = {"fromBlock": hex(deployment.block), "address": [deployment.ledger, deployment.registry]}
    logs = w3.provider.make_request("eth_getLogs", [query])["result"]  # type: ignore[arg-type]
    times = {int(e["blockNumber"], 16): int(w3.eth.get_block(int(e["blockNumber"], 16))["timestamp"]) for e in logs}
    worker = DecodeWorker(deployment.ledger, deployment.registry, offload=True, min_logs=1)
    expected = worker.decode_here(logs, times)
    assert len(expected.table("events")) == 18 and not expected.quarantine
    before = _children()
    try:
        assert worker.submit(logs, times).result() == expected  # the child starts and decodes
        (child,) = _children() - before
        pending = worker.submit(logs, times)
        os.kill(child, signal.SIGKILL)  # mid-run or just after: either way the rows must come
        assert pending.result() == expected
        for _ in range(2):  # the first may still find the dead child's pool and decode here; the second a new one
            assert worker.submit(logs, times).result() == expected
        assert _children() - before - {child}, "no new decoding process"
    finally:
        worker.close()
