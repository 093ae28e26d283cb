"""The same chain read by different indexes gives the same reports.

One history (multi-lending, corrections of corrections, disputes, inquiries of every purpose, a lender suspended
at the end) is recorded once on the session's Ganache chain; then it is indexed into SQLite and into a fresh
PostgreSQL database, and by two independent followers ("two gateways") — one of which followed the chain while
the history was being written, in small block ranges.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import func, select
from web3 import Web3

from creditshare.chain.governance import Action
from creditshare.core.db.tables import IndexCorrection, IndexDispute, IndexEvent, IndexInquiry, IndexMemberEvent
from creditshare.domain.codec import ItemType
from creditshare.read.reports import lender_names
from tests.support import Consortium
from tests.support.report import (
    LENDER_A,
    LENDER_B,
    LENDER_C,
    Index,
    LedgerWriter,
    event_item,
    inquiry_of,
    open_index,
    report_consortium,
)

OPENED, REPAID, OVERDUE = ItemType.LOAN_OPENED, ItemType.REPAYMENT, ItemType.OVERDUE
DEFAULT, SETTLED, WRITTEN_OFF = ItemType.DEFAULT, ItemType.SETTLED, ItemType.WRITTEN_OFF
INDEX_MODELS = (IndexEvent, IndexInquiry, IndexCorrection, IndexDispute, IndexMemberEvent)


@dataclass
class History:
    c: Consortium
    subjects: list[bytes]
    head: int
    early: Index  # a gateway that followed the chain while the history was written


def write_history(c: Consortium, accounts: list[LocalAccount], early: Index) -> list[bytes]:
    """Record the history; `early` syncs in the middle. Returns the subjects (the last one has no record)."""
    w = LedgerWriter(c)
    a, b, lc = accounts[LENDER_A], accounts[LENDER_B], accounts[LENDER_C]
    s = [uuid.uuid4().bytes * 2 for _ in range(5)]
    today = dt.date.today()

    def ago(days: int) -> dt.date:
        return today - dt.timedelta(days=days)

    def key(name: str) -> bytes:
        return Web3.keccak(text=f"{name}:{uuid.uuid4()}")

    # Subject 0: loans at three lenders (multi-lending), one overdue.
    k0a, k0b, k0c = key("0a"), key("0b"), key("0c")
    w.batch(a, [event_item(s[0], k0a, OPENED, ago(300), 1_000_000), inquiry_of(s[0], 1)])
    w.batch(
        b,
        [event_item(s[0], k0b, OPENED, ago(200), 500_000), event_item(s[0], k0b, OVERDUE, ago(20), 500_000, 9_000, 45)],
    )
    w.batch(lc, [event_item(s[0], k0c, OPENED, ago(40), 2_000_000), inquiry_of(s[0], 2)])

    # Subject 1: an overdue recorded in error, corrected, and the correction corrected; a dispute on the opening.
    k1 = key("1")
    opened, wrong = w.batch(
        a, [event_item(s[1], k1, OPENED, ago(400), 800_000), event_item(s[1], k1, OVERDUE, ago(100), 800_000, 1, 31)]
    )
    early.sync()  # the second gateway catches up mid-history
    first = w.correct(wrong, event_item(s[1], k1, REPAID, ago(100), 700_000))
    w.correct(first, event_item(s[1], k1, REPAID, ago(100), 650_000))
    w.toggle_dispute(opened)  # open
    w.batch(b, [inquiry_of(s[1], 1), inquiry_of(s[2], 1), inquiry_of(s[3], 4)])

    # Subject 2: default then written off; a dispute opened and resolved; a settled loan at another lender.
    k2, k2b = key("2"), key("2b")
    (_, defaulted, _) = w.batch(
        b,
        [
            event_item(s[2], k2, OPENED, ago(700), 300_000),
            event_item(s[2], k2, DEFAULT, ago(250), 300_000, 300_000, 120),
            event_item(s[2], k2, WRITTEN_OFF, ago(90), 300_000),
        ],
    )
    w.toggle_dispute(defaulted)
    w.toggle_dispute(defaulted, outcome=1)
    w.batch(lc, [event_item(s[2], k2b, OPENED, ago(500), 50_000), event_item(s[2], k2b, SETTLED, ago(10), 0)])

    # Subject 3: only inquiries (above). Subject 4: nothing at all.
    early.sync()
    c.enact(Action.SUSPEND, lc.address)  # its records keep counting, under its name
    return s


@pytest.fixture(scope="module")
def history(w3: Web3, accounts: list[LocalAccount], tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    c = report_consortium(w3, accounts)
    early = open_index(w3, c, f"sqlite:///{tmp_path_factory.mktemp('early') / 'index.db'}", max_range=3)
    subjects = write_history(c, accounts, early)
    head = w3.eth.block_number
    assert early.sync() == head
    yield History(c, subjects, head, early)
    early.engine.dispose()


def row_counts(index: Index) -> dict[str, int]:
    with index.factory() as session:
        return {m.__tablename__: session.scalar(select(func.count()).select_from(m)) or 0 for m in INDEX_MODELS}


def assert_history_reports(reports: list[dict], lender_c: str) -> None:
    """What the history must show, so identical reports cannot be identically empty."""
    s0, s1, s2, s3, s4 = reports
    assert s0["summary"]["lenders_with_active_loans"] == 3
    assert s0["summary"]["worst_current_dpd"] == 45
    assert s0["grade"] == "C"
    suspended = [x for x in s0["loans"] if x["lender"] == lender_c.lower()]
    assert [x["lender_name"] for x in suspended] == ["Report Lender C"]
    assert [(x["outstanding_fen"], x["events"], x["disputed"]) for x in s1["loans"]] == [(650_000, 2, True)]
    # the correction that made the shown event (the first correction was itself corrected)
    assert sum(1 for e in s1["evidence"] if e["kind"] == "correction") == 1
    assert sorted(x["status"] for x in s2["loans"]) == ["settled", "written_off"]
    assert s2["summary"]["open_disputes"] == 0
    assert s2["grade"] == "E"
    assert s3["summary"]["application_inquiry_lenders_30d"] == 0  # a dispute-verification inquiry only
    assert s3["evidence"] == []  # not counted, so not cited: evidence lists what the report used
    assert (s4["loans"], s4["evidence"], s4["grade"]) == ([], [], "A")


def test_reports_identical_sqlite_and_postgres(
    w3: Web3, history: History, tmp_path: Path, pg_url: str, accounts: list[LocalAccount]
) -> None:
    lite = open_index(w3, history.c, f"sqlite:///{tmp_path / 'index.db'}")
    pg = open_index(w3, history.c, pg_url)
    try:
        assert lite.sync() == pg.sync() == history.head
        assert row_counts(lite) == row_counts(pg)
        with lite.factory() as a, pg.factory() as b:
            assert lender_names(a) == lender_names(b)
            assert lender_names(a)[accounts[LENDER_C].address.lower()] == "Report Lender C"
        from_lite = lite.reports(history.subjects, history.head)
        from_pg = pg.reports(history.subjects, history.head)
        assert from_lite == from_pg
        assert_history_reports(from_pg, accounts[LENDER_C].address)
        # An earlier as-of block reads the same on both backends too.
        middle = history.c.deployment.block + (history.head - history.c.deployment.block) // 2
        at = int(w3.eth.get_block(middle)["timestamp"])
        assert lite.reports(history.subjects, middle, at) == pg.reports(history.subjects, middle, at)
    finally:
        lite.engine.dispose()
        pg.engine.dispose()


def test_reports_identical_two_followers_one_chain(
    w3: Web3, history: History, tmp_path: Path, accounts: list[LocalAccount]
) -> None:
    late = open_index(w3, history.c, f"sqlite:///{tmp_path / 'index.db'}")
    try:
        assert late.sync() == history.head
        assert late.sync() == history.head  # re-syncing at the head writes nothing twice
        assert row_counts(late) == row_counts(history.early)
        from_late = late.reports(history.subjects, history.head)
        assert from_late == history.early.reports(history.subjects, history.head)
        assert_history_reports(from_late, accounts[LENDER_C].address)
    finally:
        late.engine.dispose()
