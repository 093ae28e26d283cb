"""The credit-report fold on hand-built facts (no chain): every expectation below is worked out by hand.

As of 2026-06-15 (CST), so the 24-month payment history runs June 2026 (first character) back to July 2024
(last), and the five-year cut-off is 2021-06-15.
"""

from __future__ import annotations

import datetime as dt
import random

from creditshare.domain.codec import ItemType
from creditshare.domain.report import AsOf, CreditReport, LoanEntry, Reason, Summary
from tests.support.report import (
    AS_OF_BLOCK,
    AS_OF_TIME,
    CST,
    DAY,
    NAMES,
    POLICY,
    A,
    B,
    C,
    cited,
    correction,
    dispute,
    event,
    facts,
    inquiry,
    lender,
    loan_hex,
    rec,
    report,
)

OPENED, REPAID, OVERDUE = ItemType.LOAN_OPENED, ItemType.REPAYMENT, ItemType.OVERDUE
DEFAULT, SETTLED, WRITTEN_OFF = ItemType.DEFAULT, ItemType.SETTLED, ItemType.WRITTEN_OFF
d = dt.date

MULTI_3 = Reason(
    code="MULTI_LENDING_3", grade="C", text="active loans at three or more lenders (multi-lending)", value=3
)
MULTI_2 = Reason(code="MULTI_LENDING_2", grade="B", text="active loans at two lenders", value=3)


def late_any(value: int) -> Reason:
    return Reason(code="LATE_24M_ANY", grade="B", text="a late month in the last 24 months", value=value)


def late_3(value: int) -> Reason:
    return Reason(code="LATE_24M", grade="C", text="three or more late months in the last 24 months", value=value)


def dpd_reasons(dpd: int) -> list[Reason]:
    """DPD_90 (if 90+), DPD_30 (if 30+) and DPD_1 for a worst current dpd of `dpd`."""
    out = []
    if dpd >= 90:
        out.append(Reason(code="DPD_90", grade="D", text="currently 90 or more days past due", value=dpd))
    if dpd >= 30:
        out.append(Reason(code="DPD_30", grade="C", text="currently 30 or more days past due", value=dpd))
    out.append(Reason(code="DPD_1", grade="B", text="currently past due", value=dpd))
    return out


def summary(**fields: int) -> Summary:
    """A summary with every field 0 except `fields`."""
    zero = dict.fromkeys(Summary.model_fields, 0)
    return Summary(**{**zero, **fields})


# ---------------------------------------------------------------------------------------------------- loans


def test_fold_multi_lending_three_lenders_grades_c() -> None:
    r = report(
        facts(
            [
                event(10, 0, A, 1, OPENED, d(2026, 1, 10), 1_000_000),
                event(11, 0, B, 2, OPENED, d(2025, 12, 1), 500_000),
                event(12, 0, A, 1, REPAID, d(2026, 3, 10), 800_000),
                event(13, 0, C, 3, OPENED, d(2026, 5, 20), 2_000_000),
                event(14, 0, A, 4, OPENED, d(2026, 6, 1), 300_000),  # a second loan at A: still 3 lenders
            ]
        )
    )

    assert r.summary == summary(
        active_loans=4, lenders_with_active_loans=3, total_outstanding_fen=3_600_000, loans_total=4
    )
    assert r.grade == "C"
    assert r.reasons == [MULTI_3, MULTI_2]
    # Ordered by opening date.
    assert [(x.lender, x.lender_name, x.status, x.outstanding_fen, x.payment_history) for x in r.loans] == [
        (B, "Lender B", "active", 500_000, "0000000" + "B" * 17),
        (A, "Lender A", "active", 800_000, "000000" + "B" * 18),
        (C, "Lender C", "active", 2_000_000, "00" + "B" * 22),
        (A, "Lender A", "active", 300_000, "0" + "B" * 23),
    ]
    assert r.loans[1] == LoanEntry(
        lender=A,
        lender_name="Lender A",
        loan_key=loan_hex(1),
        opened_on=d(2026, 1, 10),
        principal_fen=1_000_000,
        outstanding_fen=800_000,
        status="active",
        days_past_due=0,
        overdue_fen=0,
        last_event_on=d(2026, 3, 10),
        closed_on=None,
        payment_history="000000" + "B" * 18,
        disputed=False,
        dispute_verification_overdue=False,
        events=2,
    )


def test_fold_repayments_down_to_settled_closes_loan() -> None:
    r = report(
        facts(
            [
                event(20, 0, A, 1, OPENED, d(2025, 9, 5), 300_000),
                event(21, 0, A, 1, REPAID, d(2025, 10, 5), 200_000),
                event(22, 0, A, 1, REPAID, d(2025, 11, 5), 100_000),
                # Gateways record 0 here; whatever amount the chain carries, a settled loan owes nothing.
                event(23, 0, A, 1, SETTLED, d(2025, 12, 5), 100_000),
            ]
        )
    )

    assert r.loans == [
        LoanEntry(
            lender=A,
            lender_name="Lender A",
            loan_key=loan_hex(1),
            opened_on=d(2025, 9, 5),
            principal_fen=300_000,
            outstanding_fen=0,
            status="settled",
            days_past_due=0,
            overdue_fen=0,
            last_event_on=d(2025, 12, 5),
            closed_on=d(2025, 12, 5),
            # Jun..Jan 2026 carry Dec's E; Dec E; Nov, Oct, Sep 0; Aug 2025 back: before the loan.
            payment_history="EEEEEEE000" + "B" * 14,
            disputed=False,
            dispute_verification_overdue=False,
            events=4,
        )
    ]
    assert r.summary == summary(loans_total=1)
    assert (r.grade, r.reasons) == ("A", [])


def test_fold_overdue_then_cured_clears_current_dpd() -> None:
    r = report(
        facts(
            [
                event(30, 0, A, 1, OPENED, d(2025, 10, 10), 600_000),
                event(31, 0, A, 1, OVERDUE, d(2026, 1, 15), 500_000, 50_000, 35),
                event(32, 0, A, 1, OVERDUE, d(2026, 2, 14), 500_000, 100_000, 65),
                event(33, 0, A, 1, REPAID, d(2026, 3, 20), 380_000),  # the cure
            ]
        )
    )

    (entry,) = r.loans
    assert (entry.status, entry.days_past_due, entry.overdue_fen, entry.outstanding_fen) == ("active", 0, 0, 380_000)
    # Jun..Mar 0 (Mar reported, later months carried), Feb 2 (65 days), Jan 1 (35 days), Dec..Oct 0, then B.
    assert entry.payment_history == "000021000" + "B" * 15
    assert r.summary == summary(
        active_loans=1, lenders_with_active_loans=1, total_outstanding_fen=380_000, late_months_24m=2, loans_total=1
    )
    assert (r.grade, r.reasons) == ("B", [late_any(2)])


def test_fold_late_months_count_reported_months_only() -> None:
    r = report(
        facts(
            [
                event(40, 0, A, 1, OPENED, d(2026, 2, 1), 400_000),
                event(41, 0, A, 1, OVERDUE, d(2026, 3, 10), 400_000, 20_000, 40),  # never cured
            ]
        )
    )

    (entry,) = r.loans
    # March reported 1; April, May and June repeat it but are not reported late months.
    assert entry.payment_history == "11110" + "B" * 19
    assert (entry.status, entry.days_past_due, entry.overdue_fen) == ("overdue", 40, 20_000)
    assert r.summary == summary(
        active_loans=1,
        lenders_with_active_loans=1,
        total_outstanding_fen=400_000,
        worst_current_dpd=40,
        late_months_24m=1,
        loans_total=1,
    )
    assert r.reasons == [*dpd_reasons(40), late_any(1)]
    assert r.grade == "C"


def test_fold_repayment_with_days_past_due_is_overdue() -> None:
    r = report(
        facts(
            [
                event(45, 0, A, 1, OPENED, d(2026, 5, 1), 100_000),
                event(46, 0, A, 1, REPAID, d(2026, 6, 1), 90_000, 5_000, 12),
            ]
        )
    )

    (entry,) = r.loans
    assert (entry.status, entry.days_past_due, entry.overdue_fen) == ("overdue", 12, 5_000)
    assert entry.payment_history == "00" + "B" * 22  # 12 days is still "current" (0-29)
    assert r.summary.worst_current_dpd == 12
    assert r.summary.late_months_24m == 0
    assert (r.grade, r.reasons) == ("B", dpd_reasons(12))


def test_fold_default_then_written_off_grades_e() -> None:
    r = report(
        facts(
            [
                event(50, 0, A, 1, OPENED, d(2025, 6, 20), 1_000_000),
                event(51, 0, A, 1, OVERDUE, d(2025, 11, 10), 900_000, 300_000, 95),
                event(52, 0, A, 1, DEFAULT, d(2026, 1, 5), 900_000, 900_000, 150),
                event(53, 0, A, 1, WRITTEN_OFF, d(2026, 4, 30), 900_000),
            ]
        )
    )

    assert r.loans == [
        LoanEntry(
            lender=A,
            lender_name="Lender A",
            loan_key=loan_hex(1),
            opened_on=d(2025, 6, 20),
            principal_fen=1_000_000,
            outstanding_fen=900_000,
            status="written_off",
            days_past_due=0,
            overdue_fen=0,
            last_event_on=d(2026, 4, 30),
            closed_on=d(2026, 4, 30),
            # Jun, May carry L; Apr L; Mar, Feb carry L; Jan L; Dec carries 3; Nov 3; Oct..Jun 2025 0; then B.
            payment_history="LLLLLL3300000" + "B" * 11,
            disputed=False,
            dispute_verification_overdue=False,
            events=4,
        )
    ]
    assert r.summary == summary(defaults_5y=1, writeoffs_5y=1, late_months_24m=3, loans_total=1)  # Apr, Jan, Nov
    assert r.reasons == [
        Reason(code="WRITTEN_OFF", grade="E", text="a loan was written off within the reporting period", value=1),
        Reason(code="DEFAULTED", grade="E", text="a loan defaulted within the reporting period", value=1),
        late_3(3),
        late_any(3),
    ]
    assert r.grade == "E"


def test_fold_same_day_events_follow_chain_order() -> None:
    r = report(
        facts(
            [
                event(140, 0, A, 1, OPENED, d(2026, 3, 1), 200_000),
                event(141, 0, A, 1, REPAID, d(2026, 4, 1), 190_000),
                event(142, 0, A, 1, OVERDUE, d(2026, 4, 1), 190_000, 10_000, 31),  # same day, later in chain
                event(143, 0, B, 2, OPENED, d(2026, 3, 1), 100_000),
                event(144, 0, B, 2, REPAID, d(2026, 5, 1), 50_000),
                event(145, 0, B, 2, OVERDUE, d(2026, 4, 20), 80_000, 5_000, 31),  # later in chain, earlier day
            ]
        )
    )

    by_lender = {x.lender: x for x in r.loans}
    assert (by_lender[A].status, by_lender[A].days_past_due, by_lender[A].outstanding_fen) == ("overdue", 31, 190_000)
    assert by_lender[A].payment_history == "1110" + "B" * 20
    assert (by_lender[B].status, by_lender[B].days_past_due, by_lender[B].outstanding_fen) == ("active", 0, 50_000)
    assert by_lender[B].payment_history == "0010" + "B" * 20  # April takes its worst event
    assert r.summary.late_months_24m == 2


# ---------------------------------------------------------------------------------------------------- corrections


def test_fold_correction_replaces_original_with_its_values() -> None:
    r = report(
        facts(
            [
                event(60, 0, A, 1, OPENED, d(2026, 1, 10), 1_000_000),
                event(61, 0, A, 1, OVERDUE, d(2026, 3, 10), 1_000_000, 100_000, 45),  # recorded in error
                event(62, 0, A, 1, REPAID, d(2026, 3, 10), 900_000),
            ],
            [correction(62, 1, A, rec(61, 0), rec(62, 0))],
        )
    )

    (entry,) = r.loans
    assert (entry.status, entry.outstanding_fen, entry.days_past_due, entry.events) == ("active", 900_000, 0, 2)
    assert entry.payment_history == "000000" + "B" * 18
    assert r.summary.late_months_24m == 0
    assert (r.grade, r.reasons) == ("A", [])
    assert r.evidence == [cited("event", 60, 0), cited("event", 62, 0), cited("correction", 62, 1)]


def test_fold_correction_of_correction_keeps_only_the_last() -> None:
    r = report(
        facts(
            [
                event(60, 0, A, 1, OPENED, d(2026, 1, 10), 1_000_000),
                event(61, 0, A, 1, OVERDUE, d(2026, 3, 10), 1_000_000, 100_000, 45),
                event(62, 0, A, 1, REPAID, d(2026, 3, 10), 900_000),
                event(63, 0, A, 1, REPAID, d(2026, 3, 10), 850_000),
                event(64, 0, A, 1, OPENED, d(2026, 1, 10), 1_200_000),  # corrects the principal
            ],
            [
                correction(62, 1, A, rec(61, 0), rec(62, 0)),
                correction(63, 1, A, rec(62, 0), rec(63, 0)),
                correction(64, 1, A, rec(60, 0), rec(64, 0)),
            ],
        )
    )

    (entry,) = r.loans
    assert (entry.principal_fen, entry.outstanding_fen, entry.events) == (1_200_000, 850_000, 2)
    assert r.summary.total_outstanding_fen == 850_000
    assert r.evidence == [  # the shown events and the corrections that made them (62/1 was itself replaced)
        cited("event", 63, 0),
        cited("correction", 63, 1),
        cited("event", 64, 0),
        cited("correction", 64, 1),
    ]


def test_fold_correction_by_another_lender_does_not_replace() -> None:
    # The ledger refuses such a correction; the fold keys corrections by (lender, record hash) all the same.
    r = report(
        facts(
            [event(65, 0, A, 1, OPENED, d(2026, 1, 10), 1_000_000), event(66, 0, B, 2, OPENED, d(2026, 2, 1), 1)],
            [correction(66, 1, B, rec(65, 0), rec(66, 0))],
        )
    )
    assert sorted(x.lender for x in r.loans) == [A, B]


# ---------------------------------------------------------------------------------------------------- disputes


def test_fold_disputes_open_resolved_and_overdue() -> None:
    t = AS_OF_TIME
    r = report(
        facts(
            [
                event(70, 0, A, 1, OPENED, d(2026, 1, 10), 100_000),
                event(70, 1, A, 2, OPENED, d(2026, 2, 10), 100_000),
                event(70, 2, A, 3, OPENED, d(2026, 3, 10), 100_000),
                event(70, 3, A, 4, OPENED, d(2026, 4, 10), 100_000),
                event(70, 4, A, 5, OPENED, d(2026, 5, 10), 100_000),
            ],
            disputes=[
                dispute(71, 0, A, rec(70, 0), 0, t - 25 * DAY),  # open 25 days: overdue
                dispute(72, 0, A, rec(70, 1), 0, t - 30 * DAY),
                dispute(73, 0, A, rec(70, 1), 1, t - 5 * DAY),  # confirmed: closed
                dispute(74, 0, A, rec(70, 2), 0, t - 10 * DAY),  # open 10 days
                dispute(75, 0, A, rec(70, 3), 0, t - 20 * DAY),  # exactly 20 days: not yet overdue
                dispute(76, 0, A, rec(70, 4), 0, t - 40 * DAY),
                dispute(77, 0, A, rec(70, 4), 2, t - 30 * DAY),  # corrected: closed
                dispute(78, 0, A, rec(70, 4), 0, t - 21 * DAY),  # reopened 21 days ago: overdue
            ],
        )
    )

    assert [(x.loan_key, x.disputed, x.dispute_verification_overdue) for x in r.loans] == [
        (loan_hex(1), True, True),
        (loan_hex(2), False, False),
        (loan_hex(3), True, False),
        (loan_hex(4), True, False),
        (loan_hex(5), True, True),
    ]
    assert r.summary.open_disputes == 4
    assert (r.grade, r.reasons) == ("A", [KEPT(4)])
    # the dispute logs that opened the open disputes (not the closed one's, nor the first opening of a reopened one)
    assert r.evidence == [cited("event", 70, i) for i in range(5)] + [cited("dispute", b, 0) for b in (71, 74, 75, 78)]


def KEPT(loans: int) -> Reason:
    text = "loans with an open dispute were kept in the grade: a record stands until it is corrected"
    return Reason(code="DISPUTED_KEPT", grade="A", text=text, value=loans)


def test_fold_disputed_loans_are_kept_in_the_grade_or_left_out_as_the_policy_says() -> None:
    t = AS_OF_TIME
    defaulted = [
        event(80, 0, A, 1, OPENED, d(2025, 1, 10), 100_000),
        event(80, 1, A, 1, DEFAULT, d(2026, 1, 10), 100_000, 100_000, 120),
    ]
    fine = [event(81, 0, B, 2, OPENED, d(2026, 2, 10), 50_000)]
    disputed = facts(defaulted + fine, disputes=[dispute(82, 0, A, rec(80, 1), 0, t - 3 * DAY)])

    kept = report(disputed)
    assert kept.grade == "E"  # the default stands until it is corrected
    assert {"DEFAULTED", "MULTI_LENDING_2"} <= {r.code for r in kept.reasons}
    assert kept.reasons[-1] == KEPT(1)  # and says so, last

    left_out = report(disputed, policy=POLICY.model_copy(update={"disputed_in_grade": "left_out"}))
    assert left_out.grade == "A" and [r.code for r in left_out.reasons] == ["DISPUTED_LEFT_OUT"]
    assert left_out.reasons[0].value == 1 and "left out" in left_out.reasons[0].text
    assert left_out.summary == kept.summary  # the summary shown is the whole history either way
    assert [x.disputed for x in left_out.loans] == [x.disputed for x in kept.loans] == [True, False]

    undisputed = report(facts(defaulted + fine))
    assert "DISPUTED_KEPT" not in {r.code for r in undisputed.reasons}


def test_fold_dispute_on_corrected_record_goes_with_it() -> None:
    r = report(
        facts(
            [event(80, 0, A, 1, OPENED, d(2026, 1, 10), 100_000), event(82, 0, A, 1, OPENED, d(2026, 1, 10), 90_000)],
            [correction(82, 1, A, rec(80, 0), rec(82, 0))],
            [dispute(81, 0, A, rec(80, 0), 0, AS_OF_TIME - 30 * DAY)],
        )
    )

    (entry,) = r.loans
    assert (entry.principal_fen, entry.disputed, entry.dispute_verification_overdue) == (90_000, False, False)
    assert r.summary.open_disputes == 0
    assert r.evidence == [cited("event", 82, 0), cited("correction", 82, 1)]


# ---------------------------------------------------------------------------------------------------- five years


def test_fold_five_year_cutoff_ages_out_ended_negative_information() -> None:
    def cured_overdue(block: int, loan_no: int, cured_on: dt.date) -> list:
        return [
            event(block, 0, A, loan_no, OPENED, d(2020, 1, 10), 500_000),
            event(block, 1, A, loan_no, OVERDUE, d(2020, 5, 1), 450_000, 50_000, 60),
            event(block, 2, A, loan_no, REPAID, cured_on, 400_000),
            event(block, 3, A, loan_no, SETTLED, d(2022, 1, 1), 0),
        ]

    r = report(
        facts(
            [
                *cured_overdue(90, 1, d(2021, 6, 14)),  # cured 5 years + 1 day before: the overdue ages out
                *cured_overdue(91, 2, d(2021, 6, 16)),  # cured 5 years - 1 day before: kept
                *cured_overdue(92, 3, d(2021, 6, 15)),  # cured exactly 5 years before: not *more* than 5, kept
                event(93, 0, B, 4, OPENED, d(2019, 3, 1), 800_000),
                event(93, 1, B, 4, DEFAULT, d(2019, 9, 1), 800_000, 800_000, 180),
                event(93, 2, B, 4, WRITTEN_OFF, d(2020, 6, 1), 800_000),  # written off 6 years ago: loan left out
                event(94, 0, C, 5, OPENED, d(2019, 1, 5), 700_000),
                event(94, 1, C, 5, DEFAULT, d(2020, 6, 10), 650_000, 650_000, 180),  # ongoing: never ages out
            ]
        )
    )

    assert [(x.lender, x.loan_key, x.status, x.events, x.payment_history) for x in r.loans] == [
        (C, loan_hex(5), "default", 2, "L" * 24),
        (A, loan_hex(1), "settled", 3, "E" * 24),
        (A, loan_hex(2), "settled", 4, "E" * 24),
        (A, loan_hex(3), "settled", 4, "E" * 24),
    ]
    ongoing = r.loans[0]
    assert (ongoing.days_past_due, ongoing.overdue_fen, ongoing.outstanding_fen) == (180, 650_000, 650_000)
    assert r.summary == summary(
        active_loans=1,
        lenders_with_active_loans=1,
        total_outstanding_fen=650_000,
        worst_current_dpd=180,
        defaults_5y=1,
        loans_total=4,
    )
    assert r.reasons == [
        Reason(code="DEFAULTED", grade="E", text="a loan defaulted within the reporting period", value=1),
        *dpd_reasons(180),
    ]
    assert r.grade == "E"
    # each shown loan's opening and last event (every history month comes from the last: they all closed before
    # the window) and C's default; not the loans' other events, which no shown figure comes from
    assert r.evidence == [
        *[cited("event", block, i) for block in (90, 91, 92) for i in (0, 3)],
        cited("event", 94, 0),
        cited("event", 94, 1),
    ]


def test_fold_five_year_cutoff_from_29_february_is_28_february() -> None:
    as_of = int(dt.datetime(2028, 2, 29, 12, 0, tzinfo=CST).timestamp())
    r = report(
        facts(
            [
                event(95, 0, A, 1, OPENED, d(2020, 1, 1), 100_000),
                event(95, 1, A, 1, WRITTEN_OFF, d(2023, 2, 27), 100_000),  # before 2023-02-28: left out
                event(96, 0, B, 2, OPENED, d(2020, 1, 1), 100_000),
                event(96, 1, B, 2, WRITTEN_OFF, d(2023, 2, 28), 100_000),  # on the cut-off: kept
            ]
        ),
        as_of_time=as_of,
    )
    assert [(x.lender, x.status) for x in r.loans] == [(B, "written_off")]
    assert r.summary.writeoffs_5y == 1


def test_fold_as_of_date_is_china_standard_time() -> None:
    as_of = int(dt.datetime(2026, 6, 30, 17, 0, tzinfo=dt.UTC).timestamp())  # 2026-07-01 01:00 in CST
    r = report(facts([event(97, 0, A, 1, OPENED, d(2026, 7, 1), 100_000)]), as_of_time=as_of)
    assert r.as_of == AsOf(
        block_number=AS_OF_BLOCK, block_time=dt.datetime(2026, 6, 30, 17, 0, tzinfo=dt.UTC), date=d(2026, 7, 1)
    )
    assert r.loans[0].payment_history == "0" + "B" * 23


# ---------------------------------------------------------------------------------------------------- inquiries


def test_fold_inquiries_count_distinct_application_lenders_per_window() -> None:
    t = AS_OF_TIME
    lf, le, lh, lg, ld = lender(0xF0), lender(0xE0), lender(0x80), lender(0x90), lender(0xD0)
    r = report(
        facts(
            inquiries=[
                inquiry(100, 0, lf, 1, t - 200 * DAY),  # outside 180 days
                inquiry(101, 0, le, 1, t - 150 * DAY),
                inquiry(102, 0, B, 1, t - 100 * DAY),
                inquiry(103, 0, lh, 1, t - 89 * DAY),
                inquiry(104, 0, C, 1, t - 60 * DAY),
                inquiry(105, 0, ld, 1, t - 30 * DAY),  # exactly 30 days: inside
                inquiry(106, 0, A, 1, t - 20 * DAY),
                inquiry(107, 0, A, 1, t - 10 * DAY),  # same lender again
                inquiry(108, 0, B, 2, t - 5 * DAY),  # post-loan: not counted
                inquiry(109, 0, lg, 4, t - 1 * DAY),  # dispute verification: not counted
            ]
        )
    )

    assert r.summary == summary(
        application_inquiry_lenders_30d=2,  # D, A
        application_inquiry_lenders_90d=4,  # H, C, D, A
        application_inquiry_lenders_180d=6,  # E, B, H, C, D, A
    )
    assert r.reasons == [
        Reason(
            code="INQUIRIES_90D",
            grade="B",
            text="four or more lenders reviewed loan applications in the last 90 days",
            value=4,
        )
    ]
    assert (r.grade, r.loans) == ("B", [])
    # each counted lender's newest application inquiry (A's 106 is older than its 107)
    assert r.evidence == [cited("inquiry", b, 0) for b in (101, 102, 103, 104, 105, 107)]


# ---------------------------------------------------------------------------------------------------- misc


def test_fold_no_history_grades_a() -> None:
    assert report(facts()) == CreditReport(
        subject_key="0x" + "5a" * 32,
        as_of=AsOf(block_number=1_000, block_time=dt.datetime(2026, 6, 15, 4, 0, tzinfo=dt.UTC), date=d(2026, 6, 15)),
        summary=summary(),
        loans=[],
        grade="A",
        reasons=[],
        evidence=[],
        policy_version="2026-11-default",
    )


def test_fold_suspended_lender_records_count_with_registry_name() -> None:
    # The fold has no notion of member status: a suspended lender's loans count like any other, named from
    # `lender_names` (which keeps every member ever admitted). A lender the registry never named gets "".
    unknown = lender(0x77)
    r = report(
        facts(
            [
                event(150, 0, C, 1, OPENED, d(2026, 1, 1), 100_000),
                event(151, 0, unknown, 2, OPENED, d(2026, 2, 1), 100_000),
            ]
        ),
        names={**NAMES, C: "Lender C (suspended)"},
    )
    assert [(x.lender, x.lender_name, x.status) for x in r.loans] == [
        (C, "Lender C (suspended)", "active"),
        (unknown, "", "active"),
    ]
    assert r.summary.lenders_with_active_loans == 2


def evidence_example() -> tuple[list, list, list, list]:
    t = AS_OF_TIME
    events = [
        event(110, 0, A, 1, OPENED, d(2026, 1, 10), 500_000),
        event(110, 1, A, 1, OVERDUE, d(2026, 2, 10), 500_000, 20_000, 31),  # wrong: corrected below
        event(113, 0, A, 1, REPAID, d(2026, 2, 10), 450_000),
    ]
    corrections = [correction(113, 1, A, rec(110, 1), rec(113, 0))]
    disputes = [
        dispute(112, 0, A, rec(110, 1), 0, t - 2 * DAY),
        dispute(114, 0, A, rec(110, 1), 2, t - 1 * DAY),
        dispute(115, 0, A, rec(110, 0), 0, t - 1 * DAY),
    ]
    inquiries = [inquiry(99, 0, C, 1, t - 181 * DAY), inquiry(111, 0, B, 1, t - 3 * DAY)]
    return events, corrections, disputes, inquiries


def test_fold_evidence_lists_every_fact_used_in_chain_order() -> None:
    r = report(facts(*evidence_example()))

    assert r.evidence == [
        cited("event", 110, 0),
        cited("inquiry", 111, 0),
        cited("event", 113, 0),
        cited("correction", 113, 1),
        cited("dispute", 115, 0),
    ]  # not the replaced event 110/1 nor its disputes, not the inquiry older than 180 days
    assert r.evidence[0].tx_hash == "0x" + "00" * 31 + "6e"
    (entry,) = r.loans
    assert (entry.outstanding_fen, entry.disputed, entry.dispute_verification_overdue) == (450_000, True, False)
    assert r.summary.open_disputes == 1


def test_fold_payment_history_worked_example() -> None:
    r = report(
        facts(
            [
                event(120, 0, A, 1, OPENED, d(2024, 8, 15), 1_200_000),
                event(121, 0, A, 1, REPAID, d(2024, 10, 3), 1_100_000, 10_000, 29),  # 29 days: 0
                event(122, 0, A, 1, OVERDUE, d(2024, 11, 5), 1_100_000, 30_000, 30),  # 1
                event(123, 0, A, 1, OVERDUE, d(2024, 12, 5), 1_100_000, 60_000, 61),  # 2
                event(124, 0, A, 1, OVERDUE, d(2025, 1, 5), 1_100_000, 90_000, 92),  # 3
                event(125, 0, A, 1, OVERDUE, d(2025, 2, 5), 1_100_000, 120_000, 120),  # 4
                event(126, 0, A, 1, OVERDUE, d(2025, 3, 5), 1_100_000, 150_000, 151),  # 5
                event(127, 0, A, 1, OVERDUE, d(2025, 4, 5), 1_100_000, 170_000, 179),  # 5
                event(128, 0, A, 1, OVERDUE, d(2025, 5, 5), 1_100_000, 180_000, 180),  # 6
                event(129, 0, A, 1, OVERDUE, d(2025, 6, 5), 1_100_000, 400_000, 400),  # 6
                event(130, 0, A, 1, OVERDUE, d(2025, 7, 2), 700_000, 35_000, 35),  # July: 1 ...
                event(130, 1, A, 1, REPAID, d(2025, 7, 10), 600_000),  # ... and 0: the worst, 1, shows
                event(131, 0, A, 1, REPAID, d(2025, 12, 1), 100_000),  # December: 0 ...
                event(131, 1, A, 1, SETTLED, d(2025, 12, 20), 0),  # ... and E: 0 shows
            ]
        )
    )

    (entry,) = r.loans
    # Jun-Jan 2026: E carried; Dec-Aug 2025: 0; Jul 1; Jun, May 6; Apr, Mar 5; Feb 4; Jan 3; Dec 2024 2; Nov 1;
    # Oct, Sep, Aug 0; Jul 2024: B.
    assert entry.payment_history == "EEEEEE00000166554321000B"
    assert entry.status == "settled"
    assert r.summary.late_months_24m == 9
    assert r.reasons == [late_3(9), late_any(9)]
    assert r.grade == "C"


def test_fold_shuffled_facts_give_identical_report() -> None:
    events, corrections, disputes, inquiries = evidence_example()
    events += [
        event(140, 0, A, 2, OPENED, d(2026, 3, 1), 200_000),
        event(141, 0, A, 2, REPAID, d(2026, 4, 1), 190_000),
        event(142, 0, A, 2, OVERDUE, d(2026, 4, 1), 190_000, 10_000, 31),
    ]
    baseline = report(facts(events, corrections, disputes, inquiries))
    assert [(x.loan_key, x.status) for x in baseline.loans] == [(loan_hex(1), "active"), (loan_hex(2), "overdue")]
    assert baseline.summary == summary(
        active_loans=2,
        lenders_with_active_loans=1,
        total_outstanding_fen=640_000,
        worst_current_dpd=31,
        late_months_24m=1,
        application_inquiry_lenders_30d=1,
        application_inquiry_lenders_90d=1,
        application_inquiry_lenders_180d=1,
        open_disputes=1,
        loans_total=2,
    )
    # the example's 5, loan 2's opening and its April overdue (the repayment of the same day sets nothing shown)
    assert (baseline.grade, len(baseline.evidence)) == ("C", 7)

    rng = random.Random(20260615)
    expected = baseline.model_dump_json()
    for _ in range(25):
        shuffled = [list(x) for x in (events, corrections, disputes, inquiries)]
        for part in shuffled:
            rng.shuffle(part)
        assert report(facts(*shuffled)).model_dump_json() == expected


def test_fold_open_dispute_on_aged_out_loan_neither_counted_nor_cited() -> None:
    """A dispute counts only on a record the report shows: the loan written off 6 years ago is left out."""
    r = report(
        facts(
            events=[
                event(10, 0, A, 1, OPENED, d(2019, 1, 1), 100_000),
                event(11, 0, A, 1, WRITTEN_OFF, d(2020, 1, 1), 100_000),
            ],
            disputes=[dispute(12, 0, A, rec(11, 0), 0, AS_OF_TIME - 3 * DAY)],
        )
    )
    assert (r.loans, r.summary.open_disputes, r.evidence) == ([], 0, [])


def test_fold_settled_loan_shows_no_days_past_due() -> None:
    r = report(
        facts(
            events=[
                event(10, 0, A, 1, OPENED, d(2026, 1, 5), 100_000),
                event(11, 0, A, 1, SETTLED, d(2026, 4, 1), 0, overdue_fen=10, days_past_due=40),
            ]
        )
    )
    (entry,) = r.loans
    assert (entry.status, entry.days_past_due, entry.overdue_fen, entry.outstanding_fen) == ("settled", 0, 0, 0)
