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
from operator import itemgetter
from typing import Any, Literal

from creditshare.core.clock import CST
from creditshare.domain.codec import ItemType, day_number
from creditshare.domain.purposes import Purpose
from creditshare.domain.report.facts import DisputeFact, EventFact, InquiryFact, SubjectFacts
from creditshare.domain.report.loans import Loan, Window, day, fold_loan, listed, payment_history
from creditshare.domain.report.models import AsOf, CreditReport, Evidence, LoanEntry, Reason, Summary
from creditshare.domain.report.policy import Policy

#: Windows (days before the as-of time) in which application inquiries are counted per lender (the last is the
#: widest).
INQUIRY_WINDOWS = (30, 90, 180)

RecordRef = tuple[str, bytes]  # (lender, record hash)


def years_before(when: dt.date, years: int) -> dt.date:
    try:
        return when.replace(year=when.year - years)
    except ValueError:  # 29 February
        return when.replace(year=when.year - years, day=28)


def _chain_order(fact: Any) -> tuple[int, int]:
    return fact.block, fact.log_index


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


_LOAN_OF = itemgetter(3, 5)  # (lender, loan_key) of an EventFact


@dataclass(frozen=True)
class _Frame:
    """What every part of the fold measures against: the as-of instant and the windows derived from it."""

    as_of_time: int
    cutoff_day: int  # negative information that ended before this day has aged out
    window: Window  # the payment-history months
    verify_limit: int  # seconds a dispute may stay open before it is flagged overdue


def live_events(facts: SubjectFacts) -> Sequence[EventFact]:
    """The events not replaced by a correction (the ledger only accepts a lender's own corrections, so (lender,
    original hash) identifies what a correction replaces). In no particular order: each loan sorts its own."""
    if not facts.corrections:
        return facts.events
    replaced = {(c.lender, c.original_hash) for c in facts.corrections}
    return [e for e in facts.events if (e.lender, e.record_hash) not in replaced]


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
    if not open_since:
        return {}
    shown = {(e.lender, e.record_hash) for e in live}
    return {key: opened for key, opened in open_since.items() if key in shown}


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


@dataclass(frozen=True)
class _Listed:
    """A listed loan: its entry and the events its shown figures come from."""

    entry: LoanEntry
    determining: list[EventFact]


def _listed_loan(loan: Loan, disputes: dict[RecordRef, int], frame: _Frame, names: dict[str, str]) -> _Listed:
    """The entry of a listed loan, and its determining events: opened, last, the source of each history
    character, its first default and write-off, and the event with its longest-open dispute."""
    history, sources = payment_history(loan.kept, frame.window.months)
    disputed = [(disputes[(e.lender, e.record_hash)], e) for e in loan.kept if (e.lender, e.record_hash) in disputes]
    oldest = min(disputed, key=lambda pair: pair[0], default=None)
    determining = [loan.opened, loan.last, *sources, loan.first(ItemType.DEFAULT), loan.first(ItemType.WRITTEN_OFF)]
    if oldest:
        determining.append(oldest[1])
    closed = loan.status in ("settled", "written_off")
    entry = LoanEntry.model_construct(  # fields built right here: validating them again costs ~10 µs a loan
        lender=loan.lender,
        lender_name=names.get(loan.lender, ""),
        loan_key=_hex(loan.loan_key),
        opened_on=day(loan.opened.occurred_day) if loan.opened else None,
        principal_fen=loan.opened.amount_fen if loan.opened else None,
        outstanding_fen=loan.outstanding_fen,
        status=loan.status,
        days_past_due=loan.current_dpd,
        overdue_fen=loan.last.overdue_fen if loan.current_dpd else 0,
        last_event_on=day(loan.last.occurred_day),
        closed_on=day(loan.last.occurred_day) if closed else None,
        payment_history=history,
        disputed=oldest is not None,
        dispute_verification_overdue=oldest is not None and frame.as_of_time - oldest[0] > frame.verify_limit,
        events=len(loan.kept),
    )
    return _Listed(entry, [e for e in determining if e is not None])


def _evidence(kind: Literal["event", "correction", "dispute", "inquiry"], fact: Any) -> Evidence:
    return Evidence.model_construct(
        kind=kind, tx_hash=_hex(fact.tx_hash), log_index=fact.log_index, block_number=fact.block
    )


def _cite(
    shown: list[_Listed], facts: SubjectFacts, disputes: dict[RecordRef, int], counted: list[InquiryFact]
) -> list[Evidence]:
    """The logs the listed figures come from, in chain order: each listed loan's determining events, the
    corrections that produced them, the dispute logs that opened their open disputes, and each counted lender's
    newest application inquiry. Bounded per loan, so a flood of logs on one borrower cannot swell the report."""
    events = {(e.lender, e.record_hash): e for listed_loan in shown for e in listed_loan.determining}
    evidence = [_evidence("event", e) for e in events.values()]
    evidence += [_evidence("correction", c) for c in facts.corrections if (c.lender, c.record_hash) in events]
    opening: dict[RecordRef, DisputeFact] = {}
    for d in facts.disputes:
        key = (d.lender, d.record_hash)
        if key in events and d.outcome == 0 and disputes.get(key) == d.block_time:
            opening[key] = max(opening.get(key, d), d, key=_chain_order)
    evidence += [_evidence("dispute", d) for d in opening.values()]
    newest: dict[str, InquiryFact] = {}
    for q in counted:
        newest[q.lender] = max(newest.get(q.lender, q), q, key=_chain_order)
    evidence += [_evidence("inquiry", q) for q in newest.values()]
    evidence.sort(key=lambda ev: (ev.block_number, ev.log_index))
    return evidence


def _summarise(loans: list[Loan], counted: list[InquiryFact], as_of_time: int, open_disputes: int) -> Summary:
    """The summary of `loans` and the counted application inquiries."""
    active = [loan for loan in loans if loan.active]
    return Summary(
        active_loans=len(active),
        lenders_with_active_loans=len({loan.lender for loan in active}),
        total_outstanding_fen=sum(loan.outstanding_fen for loan in active),
        worst_current_dpd=max((loan.current_dpd for loan in active), default=0),
        defaults_5y=sum(loan.defaulted for loan in loans),
        writeoffs_5y=sum(loan.written_off for loan in loans),
        late_months_24m=sum(loan.late_months for loan in loans),
        application_inquiry_lenders_30d=len({q.lender for q in counted_inquiries(counted, as_of_time, 30)}),
        application_inquiry_lenders_90d=len({q.lender for q in counted_inquiries(counted, as_of_time, 90)}),
        application_inquiry_lenders_180d=len({q.lender for q in counted}),
        open_disputes=open_disputes,
        loans_total=len(loans),
    )


def _graded(
    summary: Summary,
    loans: list[Loan],
    disputes: dict[RecordRef, int],
    counted: list[InquiryFact],
    as_of_time: int,
    policy: Policy,
) -> tuple[str, list[Reason]]:
    """The grade and its reasons. Loans with an open dispute are graded as the policy's `disputed_in_grade` says
    — `kept` (the record stands until it is corrected) or `left_out` — and a reason says which, and how many."""
    disputed = [loan for loan in loans if any((e.lender, e.record_hash) in disputes for e in loan.kept)]
    if not disputed:
        return grade(summary, policy)
    if policy.disputed_in_grade == "left_out":
        left_out = {id(loan) for loan in disputed}
        others = [loan for loan in loans if id(loan) not in left_out]
        report_grade, reasons = grade(_summarise(others, counted, as_of_time, 0), policy)
        text = "loans with an open dispute were left out of the grade until the dispute is answered"
    else:
        report_grade, reasons = grade(summary, policy)
        text = "loans with an open dispute were kept in the grade: a record stands until it is corrected"
    code = "DISPUTED_LEFT_OUT" if policy.disputed_in_grade == "left_out" else "DISPUTED_KEPT"
    return report_grade, [*reasons, Reason(code=code, grade="A", text=text, value=len(disputed))]


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
        cutoff_day=day_number(years_before(as_of_day, policy.negative_info_years)),
        window=Window.back_from(as_of_day, policy.history_months),
        verify_limit=policy.dispute_verification_days * 86_400,
    )
    live = live_events(facts)
    disputes = open_disputes(facts.disputes, live)
    by_loan: dict[tuple[str, bytes], list[EventFact]] = defaultdict(list)
    for key, e in zip(map(_LOAN_OF, live), live, strict=True):  # the key by a C-level getter: it runs per event
        by_loan[key].append(e)
    loans = [
        loan
        for (lender, loan_key), events in by_loan.items()
        if (loan := fold_loan(lender, loan_key, events, frame.cutoff_day, frame.window)) is not None
    ]
    kept = {(e.lender, e.record_hash) for loan in loans for e in loan.kept} if disputes else set()
    counted = counted_inquiries(facts.inquiries, as_of_time, INQUIRY_WINDOWS[-1])
    summary = _summarise(loans, counted, as_of_time, sum(1 for key in disputes if key in kept))
    report_grade, reasons = _graded(summary, loans, disputes, counted, as_of_time, policy)
    shown = [_listed_loan(loan, disputes, frame, lender_names) for loan in listed(loans, policy.max_loans_listed)]
    return CreditReport(
        subject_key=_hex(subject_key),
        as_of=AsOf(block_number=as_of_block, block_time=as_of_dt, date=as_of_day),
        summary=summary,
        loans=[listed_loan.entry for listed_loan in shown],
        grade=report_grade,  # type: ignore[arg-type]
        reasons=reasons,
        evidence=_cite(shown, facts, disputes, counted),
        policy_version=policy.version,
    )
