"""One loan of a report: its events aged by the five-year rule, its state and figures, and — for the loans a
report lists — its 24-month payment history and the events each shown figure comes from.

Everything here is linear in the loan's events (or n log n with the sort): a hostile member can put tens of
thousands of events on one borrower, spread over one loan or thousands, and the report must still answer in
milliseconds. So the cheap figures every loan needs for the summary are kept apart from the details only listed
loans need.
"""

from __future__ import annotations

import datetime as dt
import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter

from creditshare.domain.codec import EPOCH, ItemType, day_number
from creditshare.domain.report.facts import EventFact

NEGATIVE_TYPES = frozenset({int(ItemType.OVERDUE), int(ItemType.DEFAULT), int(ItemType.WRITTEN_OFF)})
#: Plain ints of the types the fold tests per event (an enum member lookup costs more than the test itself).
_OPENED, _DEFAULT, _SETTLED, _WRITTEN_OFF = (
    int(ItemType.LOAN_OPENED),
    int(ItemType.DEFAULT),
    int(ItemType.SETTLED),
    int(ItemType.WRITTEN_OFF),
)
_CHARGED_OFF = frozenset({_DEFAULT, _WRITTEN_OFF})
#: Payment-history characters that mark a late month.
LATE_CHARS = "123456L"

_STATUS = {
    ItemType.LOAN_OPENED: "active",
    ItemType.REPAYMENT: "active",
    ItemType.OVERDUE: "overdue",
    ItemType.DEFAULT: "default",
    ItemType.SETTLED: "settled",
    ItemType.WRITTEN_OFF: "written_off",
}
_SEVERITY = {"B": -2, "E": -1, "0": 0, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "L": 7}

Month = tuple[int, int]  # (first day, last day) as day numbers


def day(n: int) -> dt.date:
    """The date of day number `n` (days since 1970-01-01)."""
    return EPOCH + dt.timedelta(days=n)


def is_negative(e: EventFact) -> bool:
    return e.item_type in NEGATIVE_TYPES or e.days_past_due > 0


_LATE_DIGITS = "0123456"


def month_char(e: EventFact) -> str:
    """The payment-history character of one event."""
    if e.item_type in _CHARGED_OFF:
        return "L"
    if e.item_type == _SETTLED:
        return "E"
    return _LATE_DIGITS[min(6, e.days_past_due // 30)] if e.days_past_due else "0"


def months_back(as_of: dt.date, n: int) -> list[Month]:
    """The as-of month and the n-1 months before it, newest first."""
    months = []
    year, month = as_of.year, as_of.month
    for _ in range(n):
        first = dt.date(year, month, 1)
        nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
        months.append((day_number(first), day_number(nxt) - 1))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months


def aged(events: Sequence[EventFact], cutoff_day: int) -> list[EventFact]:
    """A loan's events (in occurred-on order) without the negative ones whose behaviour ended before `cutoff_day`:
    an overdue or default ends at the loan's next non-negative event, a write-off at its own date. The next
    non-negative day is carried backwards through the loan, so this is one pass."""
    kept: list[EventFact] = []
    next_cure: int | None = None  # occurred-on day of the nearest later non-negative event
    for e in reversed(events):
        if not is_negative(e):
            next_cure = e.occurred_day
            kept.append(e)
            continue
        end = e.occurred_day if e.item_type == _WRITTEN_OFF else next_cure
        if end is None or end >= cutoff_day:
            kept.append(e)
    kept.reverse()
    return kept


@dataclass(frozen=True)
class Window:
    """The history months, newest first, and their first days in ascending order (for binary searches)."""

    months: list[Month]
    starts: list[int]
    first_day: int  # of the oldest month
    last_day: int  # of the as-of month

    @classmethod
    def back_from(cls, as_of: dt.date, n: int) -> Window:
        months = months_back(as_of, n)
        starts = sorted(first for first, _ in months)
        return cls(months, starts, starts[0], months[0][1])


def late_months(kept: Sequence[EventFact], window: Window) -> int:
    """How many months of the history have a reported late event (a month is late exactly when one of its own
    events is: late characters outrank every other). Only the events inside the window are looked at."""
    if not kept or kept[-1].occurred_day < window.first_day:
        return 0
    if len(kept) == 1:
        e = kept[0]
        return int(e.occurred_day <= window.last_day and month_char(e) in LATE_CHARS)
    days = [e.occurred_day for e in kept]
    inside = kept[bisect_left(days, window.first_day) : bisect_right(days, window.last_day)]
    return len({bisect_right(window.starts, e.occurred_day) for e in inside if month_char(e) in LATE_CHARS})


def payment_history(kept: Sequence[EventFact], months: Sequence[Month]) -> tuple[str, list[EventFact]]:
    """The history string (newest month first) and the event each character comes from: the month's most severe
    event, or the last one before the month when it has none ("B" before the first event). Two binary searches
    a month."""
    days = [e.occurred_day for e in kept]
    history = []
    sources = []
    for first, final in months:
        start, stop = bisect_left(days, first), bisect_right(days, final)
        if stop > start:
            source = max(kept[start:stop], key=lambda e: _SEVERITY[month_char(e)])
        elif start > 0:
            source = kept[start - 1]
        else:
            history.append("B")
            continue
        history.append(month_char(source))
        sources.append(source)
    return "".join(history), sources


@dataclass(slots=True)
class Loan:
    """One loan's figures: what the summary needs of every loan."""

    lender: str
    loan_key: bytes
    kept: list[EventFact]  # in occurred-on order, aged
    opened: EventFact | None
    last: EventFact
    status: str
    current_dpd: int
    late_months: int
    defaulted: bool
    written_off: bool

    @property
    def active(self) -> bool:
        return self.status in ("active", "overdue", "default")

    @property
    def outstanding_fen(self) -> int:
        return 0 if self.status == "settled" else self.last.amount_fen

    def first(self, kind: ItemType) -> EventFact | None:
        return next((e for e in self.kept if e.item_type == kind), None)

    def order(self) -> tuple[int, str, bytes]:
        """Listing order: opened (or last event) date, lender, loan key."""
        return (self.opened or self.last).occurred_day, self.lender, self.loan_key

    def recency(self) -> tuple[bool, int, int, int]:
        """Active loans first, then the latest reported."""
        return self.active, self.last.occurred_day, self.last.block, self.last.log_index


#: Occurred-on order of a loan's events (same day: chain order); C-level, as it runs per event.
_BY_DAY = itemgetter(7, 0, 1)  # occurred_day, block, log_index


_STATUS_OF = {int(kind): status for kind, status in _STATUS.items()}


def fold_loan(lender: str, loan_key: bytes, events: list[EventFact], cutoff_day: int, window: Window) -> Loan | None:
    """One loan's figures, or None when its final state aged out (a write-off over five years ago)."""
    if len(events) == 1:
        return _single(lender, loan_key, events[0], cutoff_day, window)
    events.sort(key=_BY_DAY)
    kept = aged(events, cutoff_day)
    last = events[-1]
    if not kept or kept[-1] is not last:
        return None
    status = _STATUS_OF[last.item_type]
    if status == "active" and last.days_past_due:
        status = "overdue"
    types = {e.item_type for e in kept}
    return Loan(
        lender,
        loan_key,
        kept,
        next((e for e in kept if e.item_type == _OPENED), None) if _OPENED in types else None,
        last,
        status,
        last.days_past_due if status in ("overdue", "default") else 0,
        late_months(kept, window),
        _DEFAULT in types,
        _WRITTEN_OFF in types,
    )


def _single(lender: str, loan_key: bytes, e: EventFact, cutoff_day: int, window: Window) -> Loan | None:
    """`fold_loan` of a loan of one event — what a flood of fake loans looks like, so without the general
    path's sort, ageing pass and sets."""
    kind, day, dpd = e.item_type, e.occurred_day, e.days_past_due
    if kind == _WRITTEN_OFF and day < cutoff_day:
        return None  # only a write-off ends on its own, so only it ages out alone
    status = _STATUS_OF[kind]
    if status == "active" and dpd:
        status = "overdue"
    late = window.first_day <= day <= window.last_day and month_char(e) in LATE_CHARS
    return Loan(
        lender,
        loan_key,
        [e],
        e if kind == _OPENED else None,
        e,
        status,
        dpd if status in ("overdue", "default") else 0,
        int(late),
        kind == _DEFAULT,
        kind == _WRITTEN_OFF,
    )


def listed(loans: list[Loan], limit: int) -> list[Loan]:
    """The loans a report lists, in listing order: all of them, or of a lender with more than `limit`, its active
    ones first, then its most recently reported. The cap is per lender, so one member flooding a borrower with
    loans cannot push other lenders' loans out of the listing (the summary still counts every loan)."""
    by_lender: dict[str, list[Loan]] = {}
    for loan in loans:
        by_lender.setdefault(loan.lender, []).append(loan)
    shown: list[Loan] = []
    for own in by_lender.values():
        shown += heapq.nlargest(limit, own, key=Loan.recency) if len(own) > limit else own
    return sorted(shown, key=Loan.order)
