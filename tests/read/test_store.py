"""`store_batch` on both databases: a range above the cursor is written once (by COPY on PostgreSQL), a re-read
range adds nothing, and two writers of one range — the second waiting on the first's lock of the cursor — store
it once instead of failing on a duplicate key."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from eth_abi import encode as abi_encode
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creditshare.chain.artifacts import REGISTRY, event_topic
from creditshare.chain.governance import MemberStatus, Role
from creditshare.core.db import make_engine, session_factory, transaction
from creditshare.core.db.engine import Sessions
from creditshare.core.db.tables import IndexBlock, IndexEvent, IndexMemberEvent, IndexState
from creditshare.read.decode import IndexRows, Item, decode_logs
from creditshare.read.store import store_batch

LENDER = "0x" + "ab" * 20


def _rows(first: int, last: int, *, member: bool = False) -> tuple[IndexRows, dict[int, tuple[bytes, int]]]:
    """Two credit events per block from `first` to `last` (and the lender's admission first, if `member`)."""
    rows = IndexRows()
    if member:
        admitted = {"block_number": first, "log_index": 0, "address": LENDER, "name": "A",
                    "role": Role.LENDER.value, "status": MemberStatus.ACTIVE.value}  # fmt: skip
        rows.items.append(Item("members", admitted, {}, "MemberAdmitted"))
    for block in range(first, last + 1):
        for index in (1, 2):
            tag = bytes([block % 256, index]) * 16
            event = {"block_number": block, "log_index": index, "tx_hash": tag, "subject_key": tag,
                     "lender": LENDER, "record_hash": tag, "loan_key": tag, "item_type": 1,
                     "occurred_day": 20_000, "amount_fen": 100_00, "overdue_fen": 0, "days_past_due": 0}  # fmt: skip
            rows.items.append(Item("events", event, {}, "CreditEventRecorded"))
    return rows, {block: (bytes([block % 256]) * 32, 1_700_000_000 + block) for block in range(first, last + 1)}


@contextmanager
def _index(url: str) -> Iterator[Sessions]:
    """Sessions of a fresh index database whose cursor stands before block 1."""
    engine = make_engine(url)
    try:
        sessions = session_factory(engine)
        with transaction(sessions) as session:
            session.add(IndexState(id=1, chain_id=1, ledger_address="0x" + "22" * 20,
                                   registry_address="0x" + "11" * 20, last_block=0, last_hash=None))  # fmt: skip
        yield sessions
    finally:
        engine.dispose()


@pytest.fixture
def factory(database_url: str) -> Iterator[Sessions]:
    with _index(database_url) as sessions:
        yield sessions


def _count(factory: Sessions, model: type[IndexEvent] | type[IndexBlock] | type[IndexMemberEvent]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _cursor(session: Session) -> int:
    state = session.get(IndexState, 1)
    assert state is not None
    return state.last_block


def test_range_stored_once_and_a_reread_adds_nothing(factory: Sessions) -> None:
    first, blocks = _rows(1, 5, member=True)
    with transaction(factory) as session:
        store_batch(session, first, blocks, 5)
    assert (_count(factory, IndexEvent), _count(factory, IndexBlock), _count(factory, IndexMemberEvent)) == (10, 5, 1)

    again, _ = _rows(1, 5, member=True)  # the same range read again: below the cursor, so duplicates are skipped
    with transaction(factory) as session:
        store_batch(session, again, blocks, 5)
    assert (_count(factory, IndexEvent), _count(factory, IndexBlock), _count(factory, IndexMemberEvent)) == (10, 5, 1)

    later, later_blocks = _rows(6, 8)
    with transaction(factory) as session:
        store_batch(session, later, later_blocks, 8)
    assert (_count(factory, IndexEvent), _count(factory, IndexBlock)) == (16, 8)
    with factory() as session:
        assert _cursor(session) == 8


def test_two_writers_of_one_range_store_it_once(pg_url: str) -> None:
    """Without the lock on the cursor, the second writer would also see the range as new and COPY it again."""
    with _index(pg_url) as factory:
        errors: list[BaseException] = []

        def second_writer() -> None:
            rows, blocks = _rows(1, 5, member=True)
            try:
                with transaction(factory) as session:
                    store_batch(session, rows, blocks, 5)
            except BaseException as exc:  # reported to the test below
                errors.append(exc)

        rows, blocks = _rows(1, 5, member=True)
        with factory() as session, session.begin():
            store_batch(session, rows, blocks, 5)
            other = threading.Thread(target=second_writer)
            other.start()
            time.sleep(0.5)
            assert other.is_alive(), "the second writer did not wait for the first one's lock on the cursor"
        other.join(timeout=30)
        assert not other.is_alive()
        assert errors == []
        assert (_count(factory, IndexEvent), _count(factory, IndexBlock), _count(factory, IndexMemberEvent)) == (
            10,
            5,
            1,
        )


def test_member_name_with_control_characters_is_stored(factory: Sessions) -> None:
    """The registry bounds a name's length only; a NUL in it once made PostgreSQL refuse the range, and the
    follower would have retried it forever."""
    registry = "0x" + "11" * 20
    raw = {
        "address": registry,
        "topics": ["0x" + event_topic(REGISTRY, "MemberAdmitted").hex(), "0x" + "00" * 12 + LENDER[2:]],
        "data": "0x" + abi_encode(["uint8", "string"], [Role.LENDER.value, "Bad\x00name\nhere"]).hex(),
        "blockNumber": "0x1",
        "logIndex": "0x0",
        "transactionHash": "0x" + "cd" * 32,
    }
    rows = decode_logs([raw], "0x" + "22" * 20, registry, {1: 1_700_000_000})
    assert rows.quarantine == []
    with transaction(factory) as session:
        store_batch(session, rows, {1: (b"\x01" * 32, 1_700_000_000)}, 1)
    with factory() as session:
        assert session.scalar(select(IndexMemberEvent.name)) == "Bad\ufffdname\ufffdhere"
