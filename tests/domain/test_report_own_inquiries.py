"""Own-report inquiries (purpose 6, a person's own request) in the report fold: they never count as credit
applications or recent inquiries and never touch a grade; the details list them as the person's own request."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from creditshare.domain.codec import ItemType
from creditshare.domain.purposes import Purpose
from creditshare.domain.report.details import details
from creditshare.domain.report.facts import InquiryFact
from tests.support.report import AS_OF_BLOCK, AS_OF_TIME, DAY, NAMES, POLICY, A, B, C, event, facts, inquiry, report

OWN = int(Purpose.OWN_REPORT)
APPLICATION = int(Purpose.LOAN_APPLICATION)
d = dt.date

LOANS = [
    event(10, 0, A, 1, ItemType.LOAN_OPENED, d(2026, 1, 5), 1_000_000),
    event(11, 0, B, 2, ItemType.LOAN_OPENED, d(2026, 2, 5), 2_000_000),
]
#: Three lenders reviewed applications in the last 90 days: one short of INQUIRIES_90D (four).
APPLICATIONS = [
    inquiry(20, 0, A, APPLICATION, AS_OF_TIME - 80 * DAY),
    inquiry(21, 0, B, APPLICATION, AS_OF_TIME - 40 * DAY),
    inquiry(22, 0, C, APPLICATION, AS_OF_TIME - 5 * DAY),
]


def test_fold_own_reports_at_many_lenders_change_nothing_in_the_report() -> None:
    own = [inquiry(30 + n, 0, "0x" + f"{0x40 + n:02x}" * 20, OWN, AS_OF_TIME - n * DAY) for n in range(6)]
    without = report(facts(LOANS, inquiries=APPLICATIONS))
    with_own = report(facts(LOANS, inquiries=APPLICATIONS + own))

    assert with_own == without  # summary, grade, reasons and cited evidence alike
    assert (with_own.summary.application_inquiry_lenders_30d, with_own.summary.application_inquiry_lenders_90d) == (
        1,
        3,
    )
    assert "INQUIRIES_90D" not in {r.code for r in with_own.reasons}  # six more lenders, none an application
    assert all(e.block_number < 30 for e in with_own.evidence if e.kind == "inquiry")


def test_details_list_own_reports_as_the_persons_own_request_newest_first() -> None:
    f = facts(
        LOANS,
        inquiries=[*APPLICATIONS, inquiry(40, 0, A, OWN, AS_OF_TIME - 50 * DAY), inquiry(41, 0, B, OWN, AS_OF_TIME)],
    )
    got = details(f, report(f), NAMES, POLICY)

    assert [(i.block, i.lender_name, i.purpose) for i in got.inquiries] == [
        (41, "Lender B", "own_report"),
        (40, "Lender A", "own_report"),
        (22, "Lender C", "loan_application"),
        (21, "Lender B", "loan_application"),
        (20, "Lender A", "loan_application"),
    ]
    assert got.inquiry_counts[1] == {"loan_application": 1, "own_report": 1}
    assert got.inquiry_counts[12] == {"loan_application": 3, "own_report": 2}  # a row of its own, never merged


_own_inquiries = st.lists(
    st.builds(
        lambda block, log_index, lender, age: InquiryFact(
            block, log_index, block.to_bytes(32, "big"), lender, OWN, AS_OF_TIME - age
        ),
        st.integers(1, AS_OF_BLOCK),
        st.integers(0, 5),
        st.sampled_from([A, B, C, "0x" + "77" * 20]),
        st.integers(-DAY, 400 * DAY),  # also just after the as-of time: a clock a little ahead
    ),
    max_size=20,
)


@settings(max_examples=200, deadline=None)
@given(own=_own_inquiries, applications=st.sampled_from([[], APPLICATIONS[:1], APPLICATIONS]))
def test_fold_any_own_reports_leave_the_report_as_it_was(
    own: list[InquiryFact], applications: list[InquiryFact]
) -> None:
    base = report(facts(LOANS, inquiries=applications))
    assert report(facts(LOANS, inquiries=[*applications, *own])) == base
