"""A hostile member can put tens of thousands of events on one borrower (gas is free on the consortium's chain):
the report must still answer within budget, whether they are one loan's events or thousands of loans.

The index rows are written directly (this is about the report, not the follower); the fold used to be quadratic
(4,000 events of one loan took ~1.1 s).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from creditshare.core.db import make_engine, session_factory, transaction
from creditshare.core.db.tables import IndexEvent
from creditshare.domain.codec import ItemType
from creditshare.domain.report import CreditReport, Policy
from creditshare.read.reports import build_report

SUBJECT = b"\x05" * 32
EVENTS = 50_000
#: What the suite asserts for a 50,000-event subject (index reads and fold, in process), with its other worker and
#: chains busy on the same two cores (0.65-1.54 s measured there). The target is 0.2 s: the measured figures are
#: in docs/benchmarks.md.
BUDGET_SECONDS = 2.5
AS_OF_TIME = 1_800_000_000  # 2027-01-15
POLICY = Policy.load()


def write_events(factory: sessionmaker[Session], count: int, loans: int) -> None:
    """`count` events of SUBJECT at one lender spread over `loans` loans, with overdues and repayments."""
    rng = random.Random(count * 7 + loans)
    rows = []
    for i in range(count):
        kind = ItemType.LOAN_OPENED if loans > 1 else rng.choice([ItemType.REPAYMENT, ItemType.OVERDUE])
        dpd = rng.randrange(1, 200) if kind == ItemType.OVERDUE else 0
        rows.append(
            {
                "block_number": i // 100 + 1,
                "log_index": i % 100,
                "tx_hash": os.urandom(32),
                "lender": "0x" + "ab" * 20,
                "subject_key": SUBJECT,
                "record_hash": os.urandom(32),
                "loan_key": (i % loans).to_bytes(32, "big"),
                "item_type": int(kind),
                "occurred_day": 18_000 + (i * 3) % 2_500,
                "amount_fen": 1_000_000,
                "overdue_fen": 10_000 if dpd else 0,
                "days_past_due": dpd,
            }
        )
    with transaction(factory) as session:
        session.execute(insert(IndexEvent), rows)


@pytest.fixture
def index(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'index.db'}")
    yield session_factory(engine)
    engine.dispose()


def timed_report(factory: sessionmaker[Session], runs: int = 5) -> tuple[float, CreditReport]:
    """The fastest of `runs` reports of SUBJECT (the machine's other work only ever slows a run down)."""
    best, report = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        with factory() as session:
            report = build_report(session, SUBJECT, as_of_block=10**9, as_of_time=AS_OF_TIME, policy=POLICY)
        best = min(best, time.perf_counter() - started)
    assert report is not None
    return best, report


@pytest.mark.slow
@pytest.mark.parametrize("loans", [1, EVENTS], ids=["one_loan", "one_event_per_loan"])
def test_report_of_a_flooded_subject_within_budget_and_bounded(
    index: sessionmaker[Session], tmp_path: Path, loans: int
) -> None:
    write_events(index, EVENTS, loans)

    seconds, report = timed_report(index)

    assert report.summary.loans_total == loans
    assert len(report.loans) <= POLICY.max_loans_listed
    assert len(report.evidence) <= POLICY.max_loans_listed * (4 + POLICY.history_months)
    print(f"{EVENTS:,} events over {loans:,} loan(s): report in {seconds * 1000:.0f} ms")
    assert seconds <= BUDGET_SECONDS, f"{seconds * 1000:.0f} ms for {EVENTS:,} events"


@pytest.mark.slow
def test_report_time_grows_linearly_not_quadratically(tmp_path: Path) -> None:
    """Ten times the events of one loan cost about ten times as long: quadratic would be a hundred, and a loaded
    machine slows the small run's fixed costs unevenly (29x measured with both workers busy)."""
    times = []
    for count in (EVENTS // 10, EVENTS):
        engine = make_engine(f"sqlite:///{tmp_path / f'{count}.db'}")
        try:
            factory = session_factory(engine)
            write_events(factory, count, 1)
            times.append(timed_report(factory)[0])
        finally:
            engine.dispose()
    assert times[1] / times[0] < 50, times
