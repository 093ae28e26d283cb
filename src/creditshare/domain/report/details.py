"""What a person reading a report needs beside the report itself: the inquiry history and its counts by purpose,
each kept event with its provenance, the adverse events with the day each leaves the report, the worst status of
the last 24 months and the amount overdue now.

Computed from the same facts and the same report as `fold`, so the page and the JSON API cannot disagree: the
details only list what the report kept (corrected records and aged-out negatives are not shown).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from creditshare.domain.codec import ItemType
from creditshare.domain.purposes import Purpose
from creditshare.domain.report.facts import SubjectFacts
from creditshare.domain.report.fold import years_before
from creditshare.domain.report.loans import day
from creditshare.domain.report.models import CreditReport
from creditshare.domain.report.policy import Policy

#: Windows of the inquiry counts, in months (the PBOC report's 1/3/6/12-month query summary).
INQUIRY_WINDOWS = (1, 3, 6, 12)
_ADVERSE = frozenset({ItemType.OVERDUE, ItemType.DEFAULT, ItemType.WRITTEN_OFF})
#: Payment-history characters from worst to best (`fold`'s alphabet).
_WORST_FIRST = "L654321E0B"


@dataclass(frozen=True)
class InquiryLine:
    """One inquiry: who looked the subject up, when, and why."""

    on: dt.date
    lender: str
    lender_name: str
    purpose: str
    tx_hash: str
    block: int


@dataclass(frozen=True)
class EventLine:
    """One kept credit event and where it is on chain."""

    lender: str
    lender_name: str
    loan_key: str
    kind: str
    on: dt.date
    amount_fen: int
    overdue_fen: int
    days_past_due: int
    record_hash: str
    tx_hash: str
    block: int
    log_index: int
    disputed: bool
    leaves_report_on: dt.date | None  # adverse events only: the day the 5-year rule drops it


@dataclass(frozen=True)
class ReportDetails:
    inquiries: list[InquiryLine]
    inquiry_counts: dict[int, dict[str, int]]  # months → purpose label → count
    events: list[EventLine]
    overdue_now_fen: int
    worst_status_24m: str  # a payment-history character ('0' when nothing late)
    newest_event_by_lender: dict[str, dt.date]

    @property
    def adverse(self) -> list[EventLine]:
        return [e for e in self.events if e.leaves_report_on is not None]


def _years_after(when: dt.date, years: int) -> dt.date:
    return years_before(when, -years)


def _months_before(when: dt.date, months: int) -> dt.date:
    total = when.year * 12 + when.month - 1 - months
    year, month = divmod(total, 12)
    for last in (when.day, 30, 29, 28):
        try:
            return dt.date(year, month + 1, last)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def details(facts: SubjectFacts, report: CreditReport, lender_names: dict[str, str], policy: Policy) -> ReportDetails:
    """The details of `report`, folded from `facts` as of the report's date."""
    as_of = report.as_of.date
    names = {address.lower(): name for address, name in lender_names.items()}
    inquiries = sorted(
        (
            InquiryLine(
                dt.datetime.fromtimestamp(i.block_time, dt.UTC).date(),
                i.lender,
                names.get(i.lender.lower(), i.lender),
                Purpose(i.purpose).label if i.purpose in Purpose._value2member_map_ else str(i.purpose),
                "0x" + i.tx_hash.hex(),
                i.block,
            )
            for i in facts.inquiries
            if i.block <= report.as_of.block_number
        ),
        key=lambda line: (line.block, line.on),
        reverse=True,
    )
    counts = {
        months: _count_by_purpose([i for i in inquiries if i.on > _months_before(as_of, months)])
        for months in INQUIRY_WINDOWS
    }
    kept_loans = {(loan.lender.lower(), loan.loan_key) for loan in report.loans}
    disputed = {loan.loan_key for loan in report.loans if loan.disputed}
    replaced = {(c.lender.lower(), c.original_hash) for c in facts.corrections}
    cutoff = years_before(as_of, policy.negative_info_years)
    events = []
    for e in sorted(facts.events, key=lambda f: (f.occurred_day, f.block, f.log_index), reverse=True):
        loan_key = "0x" + e.loan_key.hex()
        if (e.lender.lower(), loan_key) not in kept_loans or (e.lender.lower(), e.record_hash) in replaced:
            continue
        on = day(e.occurred_day)
        adverse = ItemType(e.item_type) in _ADVERSE or e.days_past_due > 0
        leaves = _years_after(on, policy.negative_info_years) if adverse else None
        if leaves is not None and on < cutoff:
            continue  # aged out of the report
        events.append(
            EventLine(
                e.lender,
                names.get(e.lender.lower(), e.lender),
                loan_key,
                ItemType(e.item_type).name.lower(),
                on,
                e.amount_fen,
                e.overdue_fen,
                e.days_past_due,
                "0x" + e.record_hash.hex(),
                "0x" + e.tx_hash.hex(),
                e.block,
                e.log_index,
                loan_key in disputed,
                leaves,
            )
        )
    history = "".join(loan.payment_history for loan in report.loans)
    newest: dict[str, dt.date] = {}
    for loan in report.loans:
        newest[loan.lender_name] = max(newest.get(loan.lender_name, loan.last_event_on), loan.last_event_on)
    return ReportDetails(
        inquiries=inquiries,
        inquiry_counts=counts,
        events=events,
        overdue_now_fen=sum(loan.overdue_fen for loan in report.loans if loan.status in ("overdue", "default")),
        worst_status_24m=next((c for c in _WORST_FIRST if c in history), "0"),
        newest_event_by_lender=newest,
    )


def _count_by_purpose(lines: list[InquiryLine]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in lines:
        counts[line.purpose] = counts.get(line.purpose, 0) + 1
    return counts
