"""The chain index follower against the session's real chain (Ganache and anvil) and a real SQLite file: decoding
of every indexed log, idempotent re-reads, restarts, confirmations, range shrinking behind a capping node,
reorganisations and the deployment guard."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3
from web3.types import TxReceipt

from creditshare.chain.artifacts import DecodedEvent
from creditshare.chain.governance import Action, MemberStatus, Role
from creditshare.core.db import Base, transaction
from creditshare.core.db.tables import (
    IndexBlock,
    IndexCorrection,
    IndexDispute,
    IndexEvent,
    IndexInquiry,
    IndexMemberEvent,
    IndexState,
)
from creditshare.core.exceptions import ChainError
from creditshare.devtools.devchain import DevChain
from creditshare.devtools.localnet import wait_until
from creditshare.domain import codec
from creditshare.domain.codec import ItemType
from creditshare.read.follower import Follower, IndexMismatch
from tests.read.conftest import (
    IndexDb,
    ProxyFactory,
    assert_index_matches_chain,
    block_hash,
    follower_via,
    head,
    index_log_keys,
    mine,
    row_counts,
    state_of,
)
from tests.support import Consortium, credit_item, events, inquiry_item, random_key
from tests.support.engines import on_every_engine

pytestmark = on_every_engine

Item = tuple[bytes, bytes, bytes, int]


def rows(factory: sessionmaker[Session], model: type[Base]) -> list[dict[str, Any]]:
    """Every row of an index table without its surrogate id, in chain order."""
    table = model.__table__
    with factory() as session:
        result = session.execute(select(table).order_by(table.c.block_number, table.c.log_index))
        return [{k: v for k, v in row._mapping.items() if k != "id"} for row in result]


def record_hashes(factory: sessionmaker[Session]) -> set[bytes]:
    with factory() as session:
        return set(session.scalars(select(IndexEvent.record_hash)))


def tx_bytes(event: DecodedEvent) -> bytes:
    return bytes.fromhex(event.transaction_hash[2:])


def at(event: DecodedEvent) -> dict[str, Any]:
    return {"block_number": event.block_number, "log_index": event.log_index}


def event_row(
    event: DecodedEvent,
    lender: LocalAccount,
    item: Item,
    item_type: ItemType,
    day: dt.date,
    amount: int,
    overdue: int = 0,
    dpd: int = 0,
) -> dict[str, Any]:
    subject, loan, record_hash, _ = item
    return {
        **at(event),
        "tx_hash": tx_bytes(event),
        "lender": lender.address.lower(),
        "subject_key": subject,
        "record_hash": record_hash,
        "loan_key": loan,
        "item_type": int(item_type),
        "occurred_day": codec.day_number(day),
        "amount_fen": amount,
        "overdue_fen": overdue,
        "days_past_due": dpd,
    }


def timestamp(w3: Web3, block: int) -> int:
    return int(w3.eth.get_block(block)["timestamp"])


def set_cursor(factory: sessionmaker[Session], last_block: int, last_hash: bytes | None) -> None:
    with transaction(factory) as session:
        state = session.get(IndexState, 1)
        assert state is not None
        state.last_block, state.last_hash = last_block, last_hash


# ---------------------------------------------------------------------------------------------------- decoding


def test_sync_every_event_type_indexed_with_decoded_fields(
    consortium: Consortium, w3: Web3, factory: sessionmaker[Session], accounts: list[LocalAccount]
) -> None:
    c = consortium
    lender_a, lender_b, governor, newcomer = accounts[3], accounts[4], accounts[1], accounts[5]
    subject, loan = random_key(), random_key()
    opened = credit_item(ItemType.LOAN_OPENED, dt.date(2025, 1, 15), 1_000_000, subject_key=subject, loan_key=loan)
    late = credit_item(ItemType.OVERDUE, dt.date(2025, 3, 20), 800_000, 120_000, 34, subject, loan)
    application = inquiry_item(1, subject)
    batch_a = c.record(lender_a, [opened, late, application])
    fixed = credit_item(ItemType.OVERDUE, dt.date(2025, 3, 20), 800_000, 100_000, 33, subject, loan)
    ref = (lender_a.address, 0, 1, [opened[2], late[2], bytes(32)])
    correction = c.tx(lender_a).transact(c.ledger.functions.correctRecord(1, ref, codec.encode_items([fixed])))
    written_off = credit_item(ItemType.WRITTEN_OFF, dt.date(2024, 12, 31), 300_000, 300_000, 400)
    post_loan = inquiry_item(2, written_off[0])
    batch_b = c.record(lender_b, [written_off, post_loan])
    objection_1, upheld, objection_3 = bytes([0x0B]) * 32, (1).to_bytes(32, "big"), bytes([0x0C]) * 32
    dispute_1 = c.tx(governor).transact(c.ledger.functions.openDispute(lender_a.address, fixed[2], objection_1))
    dispute_2 = c.tx(lender_a).transact(c.ledger.functions.resolveDispute(lender_a.address, fixed[2], 1, upheld))
    # Any lender opens a dispute on another lender's record, for the borrower.
    dispute_3 = c.tx(lender_a).transact(c.ledger.functions.openDispute(lender_b.address, written_off[2], objection_3))
    c.enact(Action.ADMIT, newcomer.address, Role.LENDER, name="Lender C")
    c.enact(Action.CHANGE_ROLE, newcomer.address, Role.AUDITOR)
    c.enact(Action.SUSPEND, newcomer.address)
    c.enact(Action.REINSTATE, newcomer.address)
    c.enact(Action.REMOVE, newcomer.address)
    # Another deployment's logs in the same blocks must not leak into this index.
    other = Consortium.deploy(w3, accounts, governors=accounts[:3], threshold=2)
    assert other.deployment.block > c.deployment.block

    step = Follower(w3, factory, c.deployment).sync()

    assert step.indexed == step.target == head(w3)
    ev_a = events(batch_a, "CreditEventRecorded")
    (ev_fixed,) = events(correction, "CreditEventRecorded")
    (ev_b,) = events(batch_b, "CreditEventRecorded")
    assert rows(factory, IndexEvent) == [
        event_row(ev_a[0], lender_a, opened, ItemType.LOAN_OPENED, dt.date(2025, 1, 15), 1_000_000),
        event_row(ev_a[1], lender_a, late, ItemType.OVERDUE, dt.date(2025, 3, 20), 800_000, 120_000, 34),
        event_row(ev_fixed, lender_a, fixed, ItemType.OVERDUE, dt.date(2025, 3, 20), 800_000, 100_000, 33),
        event_row(ev_b, lender_b, written_off, ItemType.WRITTEN_OFF, dt.date(2024, 12, 31), 300_000, 300_000, 400),
    ]

    inquiries = [
        (events(batch_a, "InquiryRecorded")[0], lender_a, application, 1),
        (events(batch_b, "InquiryRecorded")[0], lender_b, post_loan, 2),
    ]
    assert rows(factory, IndexInquiry) == [
        {
            **at(q),
            "tx_hash": tx_bytes(q),
            "lender": who.address.lower(),
            "subject_key": item[0],
            "consent_hash": item[1],
            "inquiry_hash": item[2],
            "purpose": purpose,
            "block_time": timestamp(w3, q.block_number),
        }
        for q, who, item, purpose in inquiries
    ]

    (corrected,) = events(correction, "CreditEventCorrected")
    assert rows(factory, IndexCorrection) == [
        {
            **at(corrected),
            "tx_hash": tx_bytes(corrected),
            "lender": lender_a.address.lower(),
            "original_hash": late[2],
            "record_hash": fixed[2],
            "subject_key": late[0],  # the original's subject, looked up when the correction was stored
        }
    ]

    disputes = [
        (events(dispute_1, "DisputeOpened")[0], lender_a, fixed, governor, 0, objection_1),
        (events(dispute_2, "DisputeResolved")[0], lender_a, fixed, lender_a, 1, upheld),
        (events(dispute_3, "DisputeOpened")[0], lender_b, written_off, lender_a, 0, objection_3),
    ]
    assert rows(factory, IndexDispute) == [
        {
            **at(d),
            "tx_hash": tx_bytes(d),
            "lender": lender.address.lower(),
            "record_hash": item[2],
            "actor": actor.address.lower(),
            "outcome": outcome,
            "block_time": timestamp(w3, d.block_number),
            "subject_key": item[0],  # the disputed record's subject
            "detail": detail,
        }
        for d, lender, item, actor, outcome, detail in disputes
    ]

    members = [(r["address"], r["name"], r["role"], r["status"]) for r in rows(factory, IndexMemberEvent)]
    g = [a.address.lower() for a in accounts[:3]]
    n = newcomer.address.lower()
    active = int(MemberStatus.ACTIVE)
    assert members == [
        (g[0], "Governor 1", int(Role.GOVERNOR), active),
        (g[1], "Governor 2", int(Role.GOVERNOR), active),
        (g[2], "Governor 3", int(Role.GOVERNOR), active),
        (lender_a.address.lower(), "Lender A", int(Role.LENDER), active),
        (lender_b.address.lower(), "Lender B", int(Role.LENDER), active),
        (n, "Lender C", int(Role.LENDER), active),
        (n, None, int(Role.AUDITOR), None),
        (n, None, None, int(MemberStatus.SUSPENDED)),
        (n, None, None, active),
        (n, None, None, int(MemberStatus.REMOVED)),
    ]
    assert_index_matches_chain(w3, factory, c.deployment)

    with factory() as session:
        blocks = {int(b.number): (bytes(b.hash), int(b.timestamp)) for b in session.scalars(select(IndexBlock))}
    for table_keys in index_log_keys(factory).values():
        for block, _ in table_keys:
            assert blocks[block] == (block_hash(w3, block), timestamp(w3, block))
    state = state_of(factory)
    assert (state.chain_id, state.ledger_address, state.registry_address) == (
        c.deployment.chain_id,
        c.deployment.ledger.lower(),
        c.deployment.registry.lower(),
    )
    assert state.last_hash == block_hash(w3, state.last_block)


# ---------------------------------------------------------------------------------------------------- idempotence


def test_sync_rerun_over_same_range_inserts_nothing_twice(
    consortium: Consortium, w3: Web3, factory: sessionmaker[Session]
) -> None:
    c = consortium
    for i in range(4):
        c.record(c.accounts[3 + i % 2], [credit_item(), credit_item(), inquiry_item()])
    follower = Follower(w3, factory, c.deployment, max_range=5)
    follower.sync()
    counts = row_counts(factory)
    assert counts["idx_events"] == 8 and counts["idx_inquiries"] == 4 and counts["idx_member_events"] == 5

    again = follower.sync()  # nothing new
    assert again.rows == 0 and row_counts(factory) == counts

    # The cursor lost (as if its update never committed): everything is read a second time.
    set_cursor(factory, c.deployment.block - 1, None)
    Follower(w3, factory, c.deployment, max_range=3).sync()
    assert row_counts(factory) == counts

    # Rewound into the middle, with a different range size so the ranges overlap the earlier ones differently.
    middle = (c.deployment.block + head(w3)) // 2
    set_cursor(factory, middle, block_hash(w3, middle))
    Follower(w3, factory, c.deployment, max_range=2).sync()
    assert row_counts(factory) == counts
    assert_index_matches_chain(w3, factory, c.deployment)


def test_sync_writes_a_wide_range_in_bounded_transactions(consortium: Consortium, w3: Web3, index_db: IndexDb) -> None:
    c = consortium
    for i in range(5):
        c.record(c.accounts[3 + i % 2], [credit_item(), credit_item(), credit_item(), inquiry_item()])
    factory = index_db.open()
    cursors: list[int] = []

    @sqlalchemy.event.listens_for(index_db.engines[-1], "commit")
    def on_commit(conn: Any) -> None:
        cursors.append(conn.execute(select(IndexState.last_block)).scalar_one())

    step = Follower(w3, factory, c.deployment, max_range=1000, rows_per_write=4).sync()

    counts = row_counts(factory)
    assert counts["idx_events"] == 15 and counts["idx_inquiries"] == 5
    assert step.indexed == head(w3) and step.rows == sum(n for table, n in counts.items() if table != "idx_blocks")
    assert_index_matches_chain(w3, factory, c.deployment)
    # One range, several commits: each moved the cursor to the end of a run of whole blocks, never backwards.
    assert len(cursors) >= 5 and cursors == sorted(cursors) and cursors[-1] == head(w3)


def test_sync_restarted_mid_way_loses_and_duplicates_nothing(
    consortium: Consortium, w3: Web3, index_db: IndexDb
) -> None:
    c = consortium
    receipts: list[TxReceipt] = [c.record(c.accounts[3 + i % 2], [credit_item(), inquiry_item()]) for i in range(6)]
    first_factory = index_db.open()
    first = Follower(w3, first_factory, c.deployment, max_range=2)
    while first.state().last_block < receipts[2]["blockNumber"]:
        first.sync_once()
    partial = state_of(first_factory)
    assert partial.last_block < head(w3)
    assert 0 < row_counts(first_factory)["idx_events"] < 6
    index_db.engines[0].dispose()  # the first process is gone

    second_factory = index_db.open()
    result = Follower(w3, second_factory, c.deployment, max_range=3).sync()

    assert result.indexed == head(w3)
    assert row_counts(second_factory)["idx_events"] == 6
    assert row_counts(second_factory)["idx_inquiries"] == 6
    assert_index_matches_chain(w3, second_factory, c.deployment)


# ---------------------------------------------------------------------------------------------------- confirmations


def test_sync_with_confirmations_keeps_last_block_at_head_minus_n(
    consortium: Consortium, w3: Web3, factory: sessionmaker[Session]
) -> None:
    c = consortium
    receipt = c.record(c.accounts[3], [credit_item()])
    tip = head(w3)
    assert receipt["blockNumber"] == tip
    follower = Follower(w3, factory, c.deployment, confirmations=3)

    step = follower.sync()

    assert step.indexed == step.target == tip - 3
    state = state_of(factory)
    assert state.last_block == tip - 3 and state.last_hash == block_hash(w3, tip - 3)
    assert row_counts(factory)["idx_events"] == 0  # recorded in the head block: not yet 3 blocks deep

    mine(w3, 2)
    assert follower.sync().indexed == tip - 1
    assert row_counts(factory)["idx_events"] == 0
    mine(w3, 1)
    assert follower.sync().indexed == tip
    assert row_counts(factory)["idx_events"] == 1
    assert state_of(factory).last_block == head(w3) - 3
    assert_index_matches_chain(w3, factory, c.deployment)


# ---------------------------------------------------------------------------------------------------- range limits


def test_sync_node_refusing_wide_ranges_halves_range_and_indexes_everything(
    consortium: Consortium, w3: Web3, factory: sessionmaker[Session], capping_proxy: ProxyFactory
) -> None:
    c = consortium
    for i in range(4):
        c.record(c.accounts[3 + i % 2], [credit_item(), inquiry_item()])
    mine(w3, 40)
    proxy = capping_proxy(5)
    follower = follower_via(proxy.url, factory, c.deployment, max_range=40)

    step = follower.sync()

    assert step.indexed == head(w3)
    assert_index_matches_chain(w3, factory, c.deployment)
    assert row_counts(factory)["idx_events"] == 4
    spans = [(r.span, r.refused) for r in proxy.logs_requests]
    assert spans[:4] == [(40, True), (20, True), (10, True), (5, False)]
    accepted = [r.span for r in proxy.logs_requests if not r.refused]
    assert max(accepted) <= 5
    assert all(r.span > 5 for r in proxy.logs_requests if r.refused)
    assert sum(accepted) == head(w3) - c.deployment.block + 1  # every block read exactly once


def test_sync_node_refusing_even_one_block_raises_chain_error(
    consortium: Consortium, w3: Web3, factory: sessionmaker[Session], capping_proxy: ProxyFactory
) -> None:
    mine(w3, 8)
    proxy = capping_proxy(0)
    follower = follower_via(proxy.url, factory, consortium.deployment, max_range=8)

    with pytest.raises(ChainError, match="Exceeds max range"):
        follower.sync_once()

    assert [r.span for r in proxy.logs_requests] == [8, 4, 2, 1]
    assert state_of(factory).last_block == consortium.deployment.block - 1
    assert sum(row_counts(factory).values()) == 0


def test_run_failing_node_reports_last_error_then_recovers(
    consortium: Consortium, w3: Web3, factory: sessionmaker[Session], capping_proxy: ProxyFactory
) -> None:
    c = consortium
    proxy = capping_proxy(1_000)
    follower = follower_via(proxy.url, factory, c.deployment)
    follower.state()  # the cursor exists before the thread starts
    stop = threading.Event()
    thread = threading.Thread(target=follower.run, args=(stop, 0.05), daemon=True)
    thread.start()
    try:
        wait_until(lambda: state_of(factory).last_block == head(w3), timeout=15)
        proxy.failing = True
        wait_until(lambda: follower.last_error is not None, timeout=15)
        assert "node failing" in str(follower.last_error)
        receipt = c.record(c.accounts[3], [credit_item()])
        proxy.failing = False
        wait_until(lambda: state_of(factory).last_block >= receipt["blockNumber"], timeout=15)
        wait_until(lambda: follower.last_error is None, timeout=15)
    finally:
        stop.set()
        thread.join(timeout=15)
    assert not thread.is_alive()
    assert row_counts(factory)["idx_events"] == 1
    assert_index_matches_chain(w3, factory, c.deployment)


# ---------------------------------------------------------------------------------------------------- reorgs


def test_sync_after_reorganisation_keeps_only_the_new_branch(
    consortium: Consortium, w3: Web3, factory: sessionmaker[Session]
) -> None:
    c = consortium
    lender = c.accounts[3]
    base = credit_item()
    c.record(lender, [base])
    follower = Follower(w3, factory, c.deployment)
    follower.sync()
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]

    branch_a = [credit_item(), credit_item(), credit_item()]
    c.record(lender, branch_a[:2])
    c.record(lender, branch_a[2:])
    c.record(lender, [inquiry_item()])
    follower.sync()
    assert record_hashes(factory) == {base[2], *(item[2] for item in branch_a)}
    assert row_counts(factory)["idx_inquiries"] == 1
    old_head = head(w3)

    assert w3.provider.make_request("evm_revert", [snapshot])["result"] is True  # type: ignore[arg-type]
    c.tx(lender).resync_nonce()
    branch_b = [credit_item()]
    c.record(lender, branch_b)
    mine(w3, old_head + 1 - head(w3))  # the new branch outgrows the old one
    assert head(w3) == old_head + 1

    step = follower.sync()

    assert step.indexed == head(w3)
    assert record_hashes(factory) == {base[2], branch_b[0][2]}
    assert row_counts(factory)["idx_inquiries"] == 0
    state = state_of(factory)
    assert state.last_block == head(w3) and state.last_hash == block_hash(w3, head(w3))
    assert_index_matches_chain(w3, factory, c.deployment)
    with factory() as session:
        stored = list(session.execute(select(IndexBlock.number, IndexBlock.hash)))
    assert stored and all(bytes(h) == block_hash(w3, int(n)) for n, h in stored)


def test_sync_after_reorganisation_to_shorter_branch_rolls_back(
    consortium: Consortium, w3: Web3, factory: sessionmaker[Session]
) -> None:
    """The new branch is lower than the indexed block (the index's last block no longer exists at all)."""
    c = consortium
    lender = c.accounts[4]
    base = credit_item()
    c.record(lender, [base])
    follower = Follower(w3, factory, c.deployment)
    follower.sync()
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    branch_a = [credit_item() for _ in range(3)]
    for item in branch_a:
        c.record(lender, [item])
    mine(w3, 3)
    follower.sync()
    old_head = head(w3)

    assert w3.provider.make_request("evm_revert", [snapshot])["result"] is True  # type: ignore[arg-type]
    c.tx(lender).resync_nonce()
    branch_b = credit_item()
    c.record(lender, [branch_b])
    assert head(w3) < old_head

    step = follower.sync()

    assert step.indexed == head(w3)
    assert record_hashes(factory) == {base[2], branch_b[2]}
    state = state_of(factory)
    assert state.last_block == head(w3) and state.last_hash == block_hash(w3, head(w3))
    assert_index_matches_chain(w3, factory, c.deployment)
    with factory() as session:
        assert session.scalar(select(IndexBlock.number).order_by(IndexBlock.number.desc()).limit(1)) == head(w3)


# ---------------------------------------------------------------------------------------------------- guards


def test_follower_on_index_of_another_deployment_raises_index_error(
    consortium: Consortium, w3: Web3, factory: sessionmaker[Session], accounts: list[LocalAccount]
) -> None:
    Follower(w3, factory, consortium.deployment).sync()
    before = row_counts(factory)
    other = Consortium.deploy(w3, accounts, governors=accounts[:3], threshold=2)

    with pytest.raises(IndexMismatch, match="not of this deployment"):
        Follower(w3, factory, other.deployment).sync_once()
    with pytest.raises(IndexMismatch):
        Follower(w3, factory, dataclasses.replace(consortium.deployment, chain_id=31337)).sync()

    state = state_of(factory)
    assert state.ledger_address == consortium.deployment.ledger.lower()
    assert row_counts(factory) == before


# ---------------------------------------------------------------------------------------------------- CLI


def test_sync_cli_indexes_configured_database_behind_confirmations(
    consortium: Consortium, w3: Web3, devchain: DevChain, index_db: IndexDb, tmp_path: Path
) -> None:
    c = consortium
    for i in range(3):
        c.record(c.accounts[3 + i % 2], [credit_item(), inquiry_item()])
    home = tmp_path / "home"
    c.deployment.save(home / "deployment.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITSHARE_")}
    env.update(
        CREDITSHARE_HOME=str(home),
        CREDITSHARE_RPC_URL=devchain.rpc_url,
        CREDITSHARE_DATABASE_URL=index_db.url,
        CREDITSHARE_CONFIRMATIONS="2",
        CREDITSHARE_INDEX_RANGE="3",
    )
    tip = head(w3)

    result = subprocess.run(
        [sys.executable, "-m", "creditshare.cli", "sync"], capture_output=True, text=True, env=env, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert f"indexed to block {tip - 2}" in result.stdout
    factory = index_db.open()
    assert state_of(factory).last_block == tip - 2
    assert row_counts(factory)["idx_events"] == 1  # the later two batches are in the 2 unconfirmed blocks
    assert_index_matches_chain(w3, factory, c.deployment)


def test_sync_logs_of_another_branch_than_their_headers_store_nothing(
    consortium: Consortium, w3: Web3, factory: sessionmaker[Session], capping_proxy: ProxyFactory
) -> None:
    """A node that answers the logs from one branch and the headers from another (a reorganisation in between, or
    a node that lies): each log's block hash is checked against the header read for its block."""
    c = consortium
    c.record(c.accounts[3], [credit_item()])
    proxy = capping_proxy(1_000)
    proxy.rewrite["eth_getLogs"] = lambda logs: [{**log, "blockHash": "0x" + "ee" * 32} for log in logs]
    follower = follower_via(proxy.url, factory, c.deployment)

    with pytest.raises(ChainError, match="another branch"):
        follower.sync()
    assert row_counts(factory)["idx_events"] == 0 and state_of(factory).last_block == c.deployment.block - 1

    proxy.rewrite.clear()
    follower.sync()
    assert row_counts(factory)["idx_events"] == 1
