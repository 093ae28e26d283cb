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
import json
from collections import defaultdict
from dataclasses import dataclass
from enum import IntEnum
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from creditshare.codec import EPOCH, ItemType
from creditshare.db import IndexBlock, IndexCorrection, IndexDispute, IndexEvent, IndexInquiry, IndexMemberEvent
from creditshare.exceptions import ConfigError

CST = dt.timezone(dt.timedelta(hours=8))
NEGATIVE_TYPES = {ItemType.OVERDUE, ItemType.DEFAULT, ItemType.WRITTEN_OFF}


class Purpose(IntEnum):
    """Why a report was requested (the on-chain inquiry's purpose code)."""

    LOAN_APPLICATION = 1  # pre-loan review: the only purpose counted as a "recent inquiry"
    POST_LOAN = 2
    GUARANTEE = 3
    DISPUTE_VERIFICATION = 4
    REGULATORY = 5

    @property
    def label(self) -> str:
        return self.name.lower()


# ---------------------------------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class EventFact:
    block: int
    log_index: int
    tx_hash: bytes
    lender: str
    record_hash: bytes
    loan_key: bytes
    item_type: int
    occurred_day: int
    amount_fen: int
    overdue_fen: int
    days_past_due: int


@dataclass(frozen=True)
class CorrectionFact:
    block: int
    log_index: int
    tx_hash: bytes
    lender: str
    original_hash: bytes
    record_hash: bytes


@dataclass(frozen=True)
class DisputeFact:
    block: int
    log_index: int
    tx_hash: bytes
    lender: str
    record_hash: bytes
    outcome: int  # 0 opened, 1 confirmed, 2 corrected
    block_time: int


@dataclass(frozen=True)
class InquiryFact:
    block: int
    log_index: int
    tx_hash: bytes
    lender: str
    purpose: int
    block_time: int


@dataclass(frozen=True)
class SubjectFacts:
    """Everything on chain about one subject, up to the as-of block."""

    events: tuple[EventFact, ...]
    corrections: tuple[CorrectionFact, ...]
    disputes: tuple[DisputeFact, ...]
    inquiries: tuple[InquiryFact, ...]


# ---------------------------------------------------------------------------------------------------- policy


class Rule(BaseModel):
    code: str
    grade: Literal["A", "B", "C", "D", "E"]
    metric: str
    min: int
    text: str


class Policy(BaseModel):
    """Thresholds of the report (package default: data/policy.json; override with a file of the same shape)."""

    version: str
    negative_info_years: int = Field(5, ge=1)
    dispute_verification_days: int = Field(20, ge=1)
    history_months: int = Field(24, ge=1, le=120)
    rules: list[Rule]

    @classmethod
    def load(cls, path: Path | None = None) -> Policy:
        try:
            text = (
                path.read_text("utf-8")
                if path
                else resources.files("creditshare.data").joinpath("policy.json").read_text("utf-8")
            )
            return cls.model_validate(json.loads(text))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"report policy {path or 'default'} is unreadable: {exc}") from exc


# ---------------------------------------------------------------------------------------------------- report


class Reason(BaseModel):
    code: str
    grade: str
    text: str
    value: int


class Evidence(BaseModel):
    kind: Literal["event", "correction", "dispute", "inquiry"]
    tx_hash: str
    log_index: int
    block_number: int


class LoanEntry(BaseModel):
    lender: str
    lender_name: str
    loan_key: str
    opened_on: dt.date | None
    principal_fen: int | None
    outstanding_fen: int
    status: Literal["active", "overdue", "default", "settled", "written_off"]
    days_past_due: int
    overdue_fen: int
    last_event_on: dt.date
    closed_on: dt.date | None
    payment_history: str = Field(description="24 months, newest first; see docs/reports.md for the alphabet")
    disputed: bool
    dispute_verification_overdue: bool
    events: int


class Summary(BaseModel):
    active_loans: int
    lenders_with_active_loans: int = Field(description="multi-lending count")
    total_outstanding_fen: int
    worst_current_dpd: int
    defaults_5y: int
    writeoffs_5y: int
    late_months_24m: int
    application_inquiry_lenders_30d: int
    application_inquiry_lenders_90d: int
    application_inquiry_lenders_180d: int
    open_disputes: int


class AsOf(BaseModel):
    block_number: int
    block_time: dt.datetime
    date: dt.date


class CreditReport(BaseModel):
    subject_key: str
    as_of: AsOf
    summary: Summary
    loans: list[LoanEntry]
    grade: Literal["A", "B", "C", "D", "E"]
    reasons: list[Reason]
    evidence: list[Evidence]
    policy_version: str


_STATUS = {
    ItemType.LOAN_OPENED: "active",
    ItemType.REPAYMENT: "active",
    ItemType.OVERDUE: "overdue",
    ItemType.DEFAULT: "default",
    ItemType.SETTLED: "settled",
    ItemType.WRITTEN_OFF: "written_off",
}
_SEVERITY = {"B": -2, "E": -1, "0": 0, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "L": 7}


def _day(n: int) -> dt.date:
    return EPOCH + dt.timedelta(days=n)


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _is_negative(e: EventFact) -> bool:
    return e.item_type in NEGATIVE_TYPES or e.days_past_due > 0


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


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


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
    order = lambda f: (f.block, f.log_index)  # noqa: E731
    as_of_dt = dt.datetime.fromtimestamp(as_of_time, dt.UTC)
    as_of_day = as_of_dt.astimezone(CST).date()
    cutoff = _years_before(as_of_day, policy.negative_info_years)
    evidence: list[Evidence] = []

    def cite(kind: Any, f: Any) -> None:
        evidence.append(Evidence(kind=kind, tx_hash=_hex(f.tx_hash), log_index=f.log_index, block_number=f.block))

    # Corrections replace their originals (same lender: the ledger only accepts a lender's own corrections).
    replaced = {(c.lender, c.original_hash) for c in facts.corrections}
    for c in sorted(facts.corrections, key=order):
        cite("correction", c)
    live = sorted((e for e in facts.events if (e.lender, e.record_hash) not in replaced), key=order)

    # Disputes: the last dispute log of a record decides whether it is open.
    open_since: dict[tuple[str, bytes], int] = {}
    for d in sorted(facts.disputes, key=order):
        key = (d.lender, d.record_hash)
        if d.outcome == 0:
            open_since[key] = d.block_time
        else:
            open_since.pop(key, None)
    verify_limit = policy.dispute_verification_days * 86_400

    # Disputes count (and are cited) only on records the report shows; set once the loans are folded.
    shown: set[tuple[str, bytes]] = set()
    open_disputes = {k: t for k, t in open_since.items() if k in {(e.lender, e.record_hash) for e in live}}

    loans_by_key: dict[tuple[str, bytes], list[EventFact]] = defaultdict(list)
    for e in live:
        loans_by_key[(e.lender, e.loan_key)].append(e)

    entries: list[LoanEntry] = []
    late_months = defaults = writeoffs = 0
    months = _months_back(as_of_day, policy.history_months)
    for (lender, loan_key), events in loans_by_key.items():
        events.sort(key=lambda e: (e.occurred_day, e.block, e.log_index))
        kept: list[EventFact] = []
        for i, e in enumerate(events):
            if _is_negative(e):
                if e.item_type == ItemType.WRITTEN_OFF:
                    end: dt.date | None = _day(e.occurred_day)
                else:
                    later = next((f for f in events[i + 1 :] if not _is_negative(f)), None)
                    end = _day(later.occurred_day) if later else None
                if end is not None and end < cutoff:
                    continue  # aged out
            kept.append(e)
        last = events[-1]
        if not kept or kept[-1] is not last:
            continue  # the loan's final state aged out (a write-off over 5 years ago): leave the loan out
        for e in kept:
            cite("event", e)
            shown.add((e.lender, e.record_hash))
        opened = next((e for e in kept if e.item_type == ItemType.LOAN_OPENED), None)
        status = _STATUS[ItemType(last.item_type)]
        if status == "active" and last.days_past_due:
            status = "overdue"
        current_dpd = last.days_past_due if status in ("overdue", "default") else 0
        history = []
        for first, final in months:
            in_month = [e for e in kept if first <= _day(e.occurred_day) <= final]
            before = [e for e in kept if _day(e.occurred_day) < first]
            if in_month:
                char = max((month_char(e) for e in in_month), key=_SEVERITY.__getitem__)
                late_months += char in "123456L"  # reported late months only, not carried-forward ones
                history.append(char)
            elif before:
                history.append(month_char(before[-1]))
            else:
                history.append("B")
        text = "".join(history)
        defaults += any(e.item_type == ItemType.DEFAULT for e in kept)
        writeoffs += any(e.item_type == ItemType.WRITTEN_OFF for e in kept)
        dispute_times = [
            open_disputes[(e.lender, e.record_hash)] for e in kept if (e.lender, e.record_hash) in open_disputes
        ]
        entries.append(
            LoanEntry(
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
                payment_history=text,
                disputed=bool(dispute_times),
                dispute_verification_overdue=any(as_of_time - t > verify_limit for t in dispute_times),
                events=len(kept),
            )
        )
    entries.sort(key=lambda l: (l.opened_on or l.last_event_on, l.lender, l.loan_key))  # noqa: E741

    active = [l for l in entries if l.status in ("active", "overdue", "default")]  # noqa: E741
    inquiry_lenders = {}
    for days in (30, 90, 180):
        since = as_of_time - days * 86_400
        inquiry_lenders[days] = len(
            {q.lender for q in facts.inquiries if q.purpose == Purpose.LOAN_APPLICATION and q.block_time >= since}
        )
    for d in sorted(facts.disputes, key=order):
        if (d.lender, d.record_hash) in shown:
            cite("dispute", d)
    for q in sorted(facts.inquiries, key=order):  # the inquiries the counts used
        if q.purpose == Purpose.LOAN_APPLICATION and q.block_time >= as_of_time - 180 * 86_400:
            cite("inquiry", q)
    summary = Summary(
        active_loans=len(active),
        lenders_with_active_loans=len({l.lender for l in active}),  # noqa: E741
        total_outstanding_fen=sum(l.outstanding_fen for l in active),  # noqa: E741
        worst_current_dpd=max((l.days_past_due for l in active), default=0),  # noqa: E741
        defaults_5y=defaults,
        writeoffs_5y=writeoffs,
        late_months_24m=late_months,
        application_inquiry_lenders_30d=inquiry_lenders[30],
        application_inquiry_lenders_90d=inquiry_lenders[90],
        application_inquiry_lenders_180d=inquiry_lenders[180],
        open_disputes=sum(1 for k in open_disputes if k in shown),
    )
    metrics = summary.model_dump()
    reasons = [
        Reason(code=r.code, grade=r.grade, text=r.text, value=int(metrics[r.metric]))
        for r in policy.rules
        if int(metrics.get(r.metric, 0)) >= r.min
    ]
    grade = max((r.grade for r in reasons), default="A")
    evidence.sort(key=lambda ev: (ev.block_number, ev.log_index))
    return CreditReport(
        subject_key=_hex(subject_key),
        as_of=AsOf(block_number=as_of_block, block_time=as_of_dt, date=as_of_day),
        summary=summary,
        loans=entries,
        grade=grade,  # type: ignore[arg-type]
        reasons=reasons,
        evidence=evidence,
        policy_version=policy.version,
    )


# ---------------------------------------------------------------------------------------------------- index reads


def load_facts(session: Session, subject_key: bytes, as_of_block: int) -> SubjectFacts:
    """The subject's facts from the index (four indexed reads)."""
    events = tuple(
        EventFact(
            r.block_number,
            r.log_index,
            r.tx_hash,
            r.lender,
            r.record_hash,
            r.loan_key,
            r.item_type,
            r.occurred_day,
            r.amount_fen,
            r.overdue_fen,
            r.days_past_due,
        )
        for r in session.execute(
            select(IndexEvent).where(IndexEvent.subject_key == subject_key, IndexEvent.block_number <= as_of_block)
        ).scalars()
    )
    hashes = [e.record_hash for e in events]
    corrections: tuple[CorrectionFact, ...] = ()
    disputes: tuple[DisputeFact, ...] = ()
    if hashes:
        corrections = tuple(
            CorrectionFact(r.block_number, r.log_index, r.tx_hash, r.lender, r.original_hash, r.record_hash)
            for r in session.execute(
                select(IndexCorrection).where(
                    IndexCorrection.original_hash.in_(hashes), IndexCorrection.block_number <= as_of_block
                )
            ).scalars()
        )
        disputes = tuple(
            DisputeFact(r.block_number, r.log_index, r.tx_hash, r.lender, r.record_hash, r.outcome, r.block_time)
            for r in session.execute(
                select(IndexDispute).where(
                    IndexDispute.record_hash.in_(hashes), IndexDispute.block_number <= as_of_block
                )
            ).scalars()
        )
    inquiries = tuple(
        InquiryFact(r.block_number, r.log_index, r.tx_hash, r.lender, r.purpose, r.block_time)
        for r in session.execute(
            select(IndexInquiry).where(
                IndexInquiry.subject_key == subject_key, IndexInquiry.block_number <= as_of_block
            )
        ).scalars()
    )
    return SubjectFacts(events, corrections, disputes, inquiries)


def lender_names(session: Session, as_of_block: int | None = None) -> dict[str, str]:
    """Display name of every member ever admitted (suspended and removed members keep theirs)."""
    query = select(IndexMemberEvent.address, IndexMemberEvent.name).where(IndexMemberEvent.name.is_not(None))
    if as_of_block is not None:
        query = query.where(IndexMemberEvent.block_number <= as_of_block)
    return {address: name for address, name in session.execute(query) if name}


def block_time(session: Session, block: int) -> int | None:
    row = session.get(IndexBlock, block)
    return None if row is None else int(row.timestamp)


def build_report(
    session: Session, subject_key: bytes, *, as_of_block: int, as_of_time: int, policy: Policy
) -> CreditReport:
    """Read the subject's facts from the index and fold them."""
    facts = load_facts(session, subject_key, as_of_block)
    names = lender_names(session, as_of_block)
    return fold(subject_key, facts, as_of_block=as_of_block, as_of_time=as_of_time, lender_names=names, policy=policy)
