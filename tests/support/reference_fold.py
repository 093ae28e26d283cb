"""The pre-loan credit report: a deterministic fold of one subject's on-chain facts.

Rules (docs/reports.md has them with examples):

* Chain order is (block, log index). The report is "as of" the index's last block; its block time is "now", so
  every gateway computes the same report from the same chain state, whatever its clock says.
* Corrections replace: a record whose (lender, record hash) was corrected is dropped; the correction's own event
  stands (corrections of corrections follow naturally).
* Per loan (lender, loan key) events are ordered by occurred-on day, then chain order; the last one is the
  loan's state.
* Negative information (overdue, default, written off, or any event with days past due) is left out once its
  behaviour ended more than `negative_info_years` before the as-of date: an overdue or default ends at the first
  later non-negative event of the loan, a write-off at its own date; ongoing behaviour never ages out. A loan
  whose write-off aged out is left out entirely.
* An open dispute marks its record; one open longer than `dispute_verification_days` is flagged overdue.
* Suspended and removed lenders' records still count.
* Payment history: 24 characters, newest month first (Metro 2's payment-history shape): `0` current,
  `1`-`6` 30/60/90/120/150/180+ days late, `L` charged off (default or written off), `E` closed with a zero
  balance, `B` before the loan was opened. A month with no event repeats the state of the last one before it
  (no cure reported means none happened); only months with a reported late event count as late months.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from creditshare.core.clock import CST
from creditshare.domain.codec import EPOCH, ItemType
from creditshare.domain.purposes import Purpose
from creditshare.domain.report.facts import DisputeFact, EventFact, InquiryFact, SubjectFacts
from creditshare.domain.report.models import AsOf, CreditReport, Evidence, LoanEntry, Reason, Summary
from creditshare.domain.report.policy import Policy

NEGATIVE_TYPES = {ItemType.OVERDUE, ItemType.DEFAULT, ItemType.WRITTEN_OFF}
#: Windows (days before the as-of time) in which application inquiries are counted per lender.
INQUIRY_WINDOWS = (30, 90, 180)

_STATUS = {
    ItemType.LOAN_OPENED: "active",
    ItemType.REPAYMENT: "active",
    ItemType.OVERDUE: "overdue",
    ItemType.DEFAULT: "default",
    ItemType.SETTLED: "settled",
    ItemType.WRITTEN_OFF: "written_off",
}
_SEVERITY = {"B": -2, "E": -1, "0": 0, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "L": 7}

RecordRef = tuple[str, bytes]  # (lender, record hash)


def _day(n: int) -> dt.date:
    return EPOCH + dt.timedelta(days=n)


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _is_negative(e: EventFact) -> bool:
    return e.item_type in NEGATIVE_TYPES or e.days_past_due > 0


def _chain_order(fact: Any) -> tuple[int, int]:
    return fact.block, fact.log_index


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def month_char(e: EventFact) -> str:
    """The payment-history character of one event."""
    if e.item_type in (ItemType.DEFAULT, ItemType.WRITTEN_OFF):
        return "L"
    if e.item_type == ItemType.SETTLED:
        return "E"
    return str(min(6, e.days_past_due // 30)) if e.days_past_due else "0"


def _months_back(as_of: dt.date, n: int) -> list[tuple[dt.date, dt.date]]:
    """(first day, last day) of the as-of month and the n-1 months before it, newest first."""
    months = []
    year, month = as_of.year, as_of.month
    for _ in range(n):
        first = dt.date(year, month, 1)
        nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
        months.append((first, nxt - dt.timedelta(days=1)))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months


@dataclass(frozen=True)
class _Frame:
    """What every part of the fold measures against: the as-of instant and the windows derived from it."""

    as_of_time: int
    as_of_day: dt.date
    cutoff: dt.date  # negative information that ended before this day has aged out
    months: list[tuple[dt.date, dt.date]]
    verify_limit: int  # seconds a dispute may stay open before it is flagged overdue


@dataclass(frozen=True)
class _FoldedLoan:
    entry: LoanEntry
    kept: list[EventFact]
    late_months: int


# ---------------------------------------------------------------------------------------------------- parts


def live_events(facts: SubjectFacts) -> list[EventFact]:
    """The events not replaced by a correction, in chain order (the ledger only accepts a lender's own
    corrections, so (lender, original hash) identifies what a correction replaces)."""
    replaced = {(c.lender, c.original_hash) for c in facts.corrections}
    return sorted((e for e in facts.events if (e.lender, e.record_hash) not in replaced), key=_chain_order)


def open_disputes(disputes: Iterable[DisputeFact], live: Sequence[EventFact]) -> dict[RecordRef, int]:
    """The records of `live` with an open dispute, each with the time it was opened: the last dispute log of a
    record decides whether it is open."""
    open_since: dict[RecordRef, int] = {}
    for d in sorted(disputes, key=_chain_order):
        key = (d.lender, d.record_hash)
        if d.outcome == 0:
            open_since[key] = d.block_time
        else:
            open_since.pop(key, None)
    shown = {(e.lender, e.record_hash) for e in live}
    return {key: opened for key, opened in open_since.items() if key in shown}


def aged(events: Sequence[EventFact], cutoff: dt.date) -> list[EventFact]:
    """A loan's events (in occurred-on order) without the negative ones whose behaviour ended before `cutoff`:
    an overdue or default ends at the loan's next non-negative event, a write-off at its own date."""
    kept: list[EventFact] = []
    for i, e in enumerate(events):
        if _is_negative(e):
            if e.item_type == ItemType.WRITTEN_OFF:
                end: dt.date | None = _day(e.occurred_day)
            else:
                later = next((f for f in events[i + 1 :] if not _is_negative(f)), None)
                end = _day(later.occurred_day) if later else None
            if end is not None and end < cutoff:
                continue
        kept.append(e)
    return kept


def payment_history(kept: Sequence[EventFact], months: Sequence[tuple[dt.date, dt.date]]) -> tuple[str, int]:
    """The history string (newest month first) and how many months in it had a reported late event."""
    history = []
    late = 0
    for first, final in months:
        in_month = [e for e in kept if first <= _day(e.occurred_day) <= final]
        before = [e for e in kept if _day(e.occurred_day) < first]
        if in_month:
            char = max((month_char(e) for e in in_month), key=_SEVERITY.__getitem__)
            late += char in "123456L"  # reported late months only, not carried-forward ones
            history.append(char)
        elif before:
            history.append(month_char(before[-1]))
        else:
            history.append("B")
    return "".join(history), late


def _fold_loan(
    lender: str,
    loan_key: bytes,
    events: list[EventFact],
    disputes: dict[RecordRef, int],
    frame: _Frame,
    lender_names: dict[str, str],
) -> _FoldedLoan | None:
    """One loan's entry, or None when its final state aged out (a write-off over five years ago)."""
    events.sort(key=lambda e: (e.occurred_day, e.block, e.log_index))
    kept = aged(events, frame.cutoff)
    last = events[-1]
    if not kept or kept[-1] is not last:
        return None
    opened = next((e for e in kept if e.item_type == ItemType.LOAN_OPENED), None)
    status = _STATUS[ItemType(last.item_type)]
    if status == "active" and last.days_past_due:
        status = "overdue"
    current_dpd = last.days_past_due if status in ("overdue", "default") else 0
    history, late = payment_history(kept, frame.months)
    dispute_times = [disputes[(e.lender, e.record_hash)] for e in kept if (e.lender, e.record_hash) in disputes]
    entry = LoanEntry(
        lender=lender,
        lender_name=lender_names.get(lender, ""),
        loan_key=_hex(loan_key),
        opened_on=_day(opened.occurred_day) if opened else None,
        principal_fen=opened.amount_fen if opened else None,
        outstanding_fen=0 if status == "settled" else last.amount_fen,
        status=status,  # type: ignore[arg-type]
        days_past_due=current_dpd,
        overdue_fen=last.overdue_fen if current_dpd else 0,
        last_event_on=_day(last.occurred_day),
        closed_on=_day(last.occurred_day) if status in ("settled", "written_off") else None,
        payment_history=history,
        disputed=bool(dispute_times),
        dispute_verification_overdue=any(frame.as_of_time - t > frame.verify_limit for t in dispute_times),
        events=len(kept),
    )
    return _FoldedLoan(entry, kept, late)


def counted_inquiries(inquiries: Iterable[InquiryFact], as_of_time: int, days: int) -> list[InquiryFact]:
    """Application-review inquiries within `days` before the as-of time: the only ones other reports count."""
    since = as_of_time - days * 86_400
    return [q for q in inquiries if q.purpose == Purpose.LOAN_APPLICATION and q.block_time >= since]


def grade(summary: Summary, policy: Policy) -> tuple[str, list[Reason]]:
    """The worst grade among the policy rules the summary meets (A when none), and those rules as reasons."""
    metrics = summary.model_dump()
    reasons = [
        Reason(code=r.code, grade=r.grade, text=r.text, value=int(metrics[r.metric]))
        for r in policy.rules
        if int(metrics.get(r.metric, 0)) >= r.min
    ]
    return max((r.grade for r in reasons), default="A"), reasons


def _loan_order(loan: LoanEntry) -> tuple[dt.date, str, str]:
    return loan.opened_on or loan.last_event_on, loan.lender, loan.loan_key


def _evidence(kind: Literal["event", "correction", "dispute", "inquiry"], fact: Any) -> Evidence:
    return Evidence(kind=kind, tx_hash=_hex(fact.tx_hash), log_index=fact.log_index, block_number=fact.block)


# ---------------------------------------------------------------------------------------------------- fold


def fold(
    subject_key: bytes,
    facts: SubjectFacts,
    *,
    as_of_block: int,
    as_of_time: int,
    lender_names: dict[str, str],
    policy: Policy,
) -> CreditReport:
    """Build the report of one subject from its facts. Pure: same inputs, same report."""
    as_of_dt = dt.datetime.fromtimestamp(as_of_time, dt.UTC)
    as_of_day = as_of_dt.astimezone(CST).date()
    frame = _Frame(
        as_of_time=as_of_time,
        as_of_day=as_of_day,
        cutoff=_years_before(as_of_day, policy.negative_info_years),
        months=_months_back(as_of_day, policy.history_months),
        verify_limit=policy.dispute_verification_days * 86_400,
    )
    live = live_events(facts)
    disputes = open_disputes(facts.disputes, live)
    by_loan: dict[tuple[str, bytes], list[EventFact]] = defaultdict(list)
    for e in live:
        by_loan[(e.lender, e.loan_key)].append(e)
    folded = [
        loan
        for (lender, loan_key), events in by_loan.items()
        if (loan := _fold_loan(lender, loan_key, events, disputes, frame, lender_names)) is not None
    ]
    entries = sorted((loan.entry for loan in folded), key=_loan_order)
    shown = {(e.lender, e.record_hash) for loan in folded for e in loan.kept}

    active = [l for l in entries if l.status in ("active", "overdue", "default")]  # noqa: E741
    inquiry_lenders = {
        days: len({q.lender for q in counted_inquiries(facts.inquiries, as_of_time, days)}) for days in INQUIRY_WINDOWS
    }
    summary = Summary(
        active_loans=len(active),
        lenders_with_active_loans=len({l.lender for l in active}),  # noqa: E741
        total_outstanding_fen=sum(l.outstanding_fen for l in active),  # noqa: E741
        worst_current_dpd=max((l.days_past_due for l in active), default=0),  # noqa: E741
        defaults_5y=sum(any(e.item_type == ItemType.DEFAULT for e in loan.kept) for loan in folded),
        writeoffs_5y=sum(any(e.item_type == ItemType.WRITTEN_OFF for e in loan.kept) for loan in folded),
        late_months_24m=sum(loan.late_months for loan in folded),
        application_inquiry_lenders_30d=inquiry_lenders[30],
        application_inquiry_lenders_90d=inquiry_lenders[90],
        application_inquiry_lenders_180d=inquiry_lenders[180],
        open_disputes=sum(1 for key in disputes if key in shown),
    )
    report_grade, reasons = grade(summary, policy)
    # The shipped policy keeps loans with an open dispute in the grade, and a reason says how many there are.
    assert policy.disputed_in_grade == "kept", "the reference models the shipped policy only"
    disputed_loans = sum(1 for loan in folded if any((e.lender, e.record_hash) in disputes for e in loan.kept))
    if disputed_loans:
        text = "loans with an open dispute were kept in the grade: a record stands until it is corrected"
        reasons.append(Reason(code="DISPUTED_KEPT", grade="A", text=text, value=disputed_loans))

    # Evidence: every log the report used: corrections, the events shown, disputes of shown records, and the
    # inquiries the counts used (disputes and inquiries are cited only when the report uses them).
    evidence = [_evidence("correction", c) for c in facts.corrections]
    evidence += [_evidence("event", e) for loan in folded for e in loan.kept]
    evidence += [_evidence("dispute", d) for d in facts.disputes if (d.lender, d.record_hash) in shown]
    evidence += [_evidence("inquiry", q) for q in counted_inquiries(facts.inquiries, as_of_time, INQUIRY_WINDOWS[-1])]
    evidence.sort(key=lambda ev: (ev.block_number, ev.log_index))
    return CreditReport(
        subject_key=_hex(subject_key),
        as_of=AsOf(block_number=as_of_block, block_time=as_of_dt, date=as_of_day),
        summary=summary,
        loans=entries,
        grade=report_grade,  # type: ignore[arg-type]
        reasons=reasons,
        evidence=evidence,
        policy_version=policy.version,
    )
