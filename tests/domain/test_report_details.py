"""`domain.report.details`: what the console shows beside the report, from the same facts."""

from __future__ import annotations

import datetime as dt

from creditshare.domain.codec import ItemType
from creditshare.domain.report.details import details
from tests.support.report import (
    AS_OF_TIME,
    DAY,
    NAMES,
    POLICY,
    A,
    B,
    C,
    correction,
    event,
    facts,
    inquiry,
    rec,
    report,
)

d = dt.date


def test_details_list_kept_events_adverse_with_their_5_year_date_and_inquiries_by_window() -> None:
    f = facts(
        events=[
            event(10, 0, A, 1, ItemType.LOAN_OPENED, d(2025, 1, 5), 1_000_000),
            event(11, 0, B, 2, ItemType.LOAN_OPENED, d(2025, 2, 5), 2_000_000),
            event(12, 0, B, 2, ItemType.OVERDUE, d(2026, 5, 1), 1_900_000, 300_000, 45),
            event(13, 0, C, 3, ItemType.LOAN_OPENED, d(2019, 1, 1), 500_000),
            event(14, 0, C, 3, ItemType.DEFAULT, d(2019, 6, 1), 500_000, 500_000, 120),
            event(15, 0, C, 3, ItemType.SETTLED, d(2020, 1, 1), 0),  # the default ended in 2020: aged out by 2026
            event(16, 0, A, 1, ItemType.REPAYMENT, d(2025, 3, 5), 100_000),
            event(17, 0, A, 1, ItemType.REPAYMENT, d(2025, 3, 6), 120_000),  # corrects block 16's record
        ],
        corrections=[correction(17, 1, A, rec(16, 0), rec(17, 0))],
        inquiries=[
            inquiry(20, 0, B, 1, AS_OF_TIME - 400 * DAY),  # older than 12 months: listed, not counted
            inquiry(21, 0, C, 2, AS_OF_TIME - 200 * DAY),
            inquiry(22, 0, B, 1, AS_OF_TIME - 50 * DAY),
            inquiry(23, 0, A, 1, AS_OF_TIME - 10 * DAY),
        ],
    )
    r = report(f)
    got = details(f, r, NAMES, POLICY)

    kinds = [(e.lender_name, e.kind, e.on) for e in got.events]
    assert ("Lender A", "repayment", d(2025, 3, 5)) not in kinds  # replaced by its correction
    assert ("Lender A", "repayment", d(2025, 3, 6)) in kinds
    assert ("Lender C", "default", d(2019, 6, 1)) not in kinds  # aged out under the 5-year rule
    assert [(e.lender_name, e.kind, e.leaves_report_on) for e in got.adverse] == [
        ("Lender B", "overdue", d(2031, 5, 1))
    ]
    assert got.overdue_now_fen == 300_000
    assert got.worst_status_24m == "1"  # 45 days late
    assert [i.block for i in got.inquiries] == [23, 22, 21, 20]  # newest (highest block) first
    assert got.inquiry_counts == {
        1: {"loan_application": 1},
        3: {"loan_application": 2},
        6: {"loan_application": 2},
        12: {"loan_application": 2, "post_loan": 1},
    }
    assert got.newest_event_by_lender["Lender B"] == d(2026, 5, 1)
    assert all(e.tx_hash.startswith("0x") and len(e.record_hash) == 66 for e in got.events)
