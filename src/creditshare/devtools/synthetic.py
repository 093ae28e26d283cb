"""A synthetic multi-lender credit history for the demo consortium: deterministic, realistic, and valid.

`generate_history` builds the loan books of the three demo lenders as their loan systems would submit them:
a few thousand borrowers with resident ID numbers of plausible regions and birth dates and correct GB 11643
check characters (and a few companies with GB 32100 unified social credit codes), most with one loan, some
with two, a handful with loans at all three lenders at once — among them `MULTI_BORROWER`, the applicant of the
README tour. Loans follow monthly instalment schedules that the lenders report quarterly; a share of them goes
overdue (most cure, some are still overdue on the as-of date), some default after 90 days past due and some of
those are written off 90 days later.

Every record passes the gateway's validation (`records.check_rules`): dates ordered per loan and never after
`as_of`, amounts in fen with overdue ≤ outstanding, the fields each event type takes and no others. The output
depends only on (borrowers, as_of, seed): record ids and loan numbers are derived from the generation order,
so loading the same history twice gives `duplicate` for every record, never a second copy.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from creditshare.domain.identity import resident_check_char, uscc_check_char

DEFAULT_SEED = 20_260_101
DEFAULT_BORROWERS = 3_000
#: Record-id and loan-number prefix of each demo lender (Jinhe, Dongfang, Xinyuan), in `demo.LENDERS` order.
LENDER_PREFIXES = ("JH", "DF", "XY")
#: The applicant of the README tour (valid check character): active loans at all three demo lenders, currently
#: 35 days past due at the second one.
MULTI_BORROWER = "11010519900101123" + resident_check_char("11010519900101123")

#: County-level administrative division codes (GB/T 2260) across the country, the first six digits of an ID.
REGIONS = (
    "110105", "110108", "120101", "130102", "140105", "150102", "210102", "220104", "230102", "310104",
    "310115", "320102", "320506", "330106", "330206", "340104", "350203", "360102", "370202", "410105",
    "420106", "430104", "440106", "440305", "441900", "450103", "460106", "500103", "510107", "520102",
    "530102", "540102", "610113", "620102", "630102", "640104", "650102",
)  # fmt: skip

Record = dict[str, Any]

_TERMS = (3, 6, 12, 24)
_TERM_WEIGHTS = (15, 30, 40, 15)
#: Outcome of a loan: how often each happens (per cent).
_FATES = ("performing", "prepaid", "overdue_cured", "overdue_now", "default")
_FATE_WEIGHTS = (70, 8, 11, 5, 6)
_LENDER_SHARE = (45, 35, 20)
_EXAMPLE_LABELS = {"overdue_now": "overdue now", "overdue_cured": "was overdue, cured", "default": "defaulted"}


@dataclass(frozen=True)
class HistoryStats:
    """What the generated history holds (for the demo's progress line)."""

    borrowers: int
    companies: int
    loans: int
    records: int
    multi_lending: int  # borrowers with loans at two or more lenders
    all_lenders: int
    overdue_loans: int
    cured_loans: int
    defaulted_loans: int
    written_off_loans: int

    def describe(self) -> str:
        return (
            f"{self.borrowers:,} borrowers ({self.companies:,} companies), {self.loans:,} loans, "
            f"{self.records:,} records; {self.multi_lending:,} borrowers at two or more lenders "
            f"({self.all_lenders:,} at all three); {self.overdue_loans:,} loans ever overdue "
            f"({self.cured_loans:,} cured), {self.defaulted_loans:,} defaulted "
            f"({self.written_off_loans:,} written off)"
        )


@dataclass(frozen=True)
class History:
    """The demo lenders' loan books: `per_lender[i]` is lender i's records, oldest first."""

    as_of: dt.date
    seed: int
    per_lender: tuple[list[Record], ...]
    stats: HistoryStats
    #: One borrower's ID number per notable situation ("overdue now", "defaulted", "written off", ...).
    examples: dict[str, str]

    @property
    def records(self) -> int:
        return sum(len(r) for r in self.per_lender)


@dataclass
class _Loan:
    lender: int
    opened: dt.date
    principal: int
    term: int
    fate: str
    miss: int | None = None  # first missed instalment (1-based)
    dpd: int | None = None  # overdue_now: days past due on the last report


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` plus whole months, clamped to the month's last day (instalment due dates)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def resident_id(rng: random.Random, as_of: dt.date) -> str:
    """A resident ID of a 22-60 year old: region, birth date, sequence (odd for men), check character."""
    born = as_of - dt.timedelta(days=rng.randrange(22 * 365 + 6, 60 * 365))
    first17 = f"{rng.choice(REGIONS)}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + resident_check_char(first17)


def organisation_code(body: str) -> str:
    """GB 11714 organisation code: 8 characters and their MOD 11 check character."""
    check = 11 - sum(int(c) * w for c, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def uscc(rng: random.Random) -> str:
    """A unified social credit code: market-regulation authority (9), enterprise (1) or sole trader (2), region,
    organisation code, check character."""
    kind = "1" if rng.random() < 0.7 else "2"
    first17 = f"9{kind}{rng.choice(REGIONS)}" + organisation_code(f"{rng.randrange(10**8):08d}")
    return first17 + uscc_check_char(first17)


def _principal(rng: random.Random, company: bool) -> int:
    """Micro-loans: 5k-200k yuan for people, 100k-1M yuan for companies, in whole thousands (fen)."""
    low, high = (100, 1_000) if company else (5, 200)
    return round(rng.triangular(low, high, low + (high - low) / 5)) * 100_000


class _Book:
    """Collects one lender's loans as records with that lender's numbering."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.serial = 0
        self.records: list[Record] = []


def _loan_events(loan: _Loan, as_of: dt.date) -> Iterator[tuple[str, dt.date, dict[str, int]]]:
    """(event type, date, amounts) of one loan up to `as_of`, in date order."""
    p, n = loan.principal, loan.term
    due = [add_months(loan.opened, k) for k in range(n + 1)]  # due[k]: k-th instalment; due[0] = opened

    def balance(paid: int) -> int:  # equal principal instalments
        return p * (n - paid) // n

    instalment = p // n
    yield "loan_opened", loan.opened, {"principal_fen": p}
    if loan.fate == "prepaid":
        assert loan.miss is not None
        for k in range(3, loan.miss, 3):
            yield "repayment", due[k], {"outstanding_fen": balance(k)}
        yield "settled", due[loan.miss] - dt.timedelta(days=3), {}
        return
    miss = loan.miss or n + 1
    for k in range(3, min(miss, n), 3):  # quarterly reports while current
        if due[k] > as_of:
            return
        yield "repayment", due[k], {"outstanding_fen": balance(k)}
    if loan.fate == "performing":
        if due[n] <= as_of:
            yield "settled", due[n], {}
        return
    owed = balance(miss - 1)
    late = due[miss]

    def overdue(dpd: int) -> tuple[str, dt.date, dict[str, int]]:
        amount = min(owed, instalment * (1 + dpd // 30))
        return "overdue", late + dt.timedelta(days=dpd), {
            "outstanding_fen": owed, "overdue_fen": amount, "days_past_due": dpd,
        }  # fmt: skip

    if loan.fate == "overdue_now":
        assert loan.dpd is not None
        for dpd in (30, 60):
            if dpd < loan.dpd:
                yield overdue(dpd)
        yield overdue(loan.dpd)
        return
    if loan.fate == "overdue_cured":
        assert loan.dpd is not None
        yield overdue(loan.dpd)
        cured = late + dt.timedelta(days=loan.dpd + 3)
        yield "repayment", cured, {"outstanding_fen": balance(miss)}
        for k in range(miss + 1, n):
            if k % 3 == 0 and due[k] > cured and due[k] <= as_of:
                yield "repayment", due[k], {"outstanding_fen": balance(k)}
        if due[n] <= as_of:
            yield "settled", max(due[n], cured + dt.timedelta(days=1)), {}
        return
    # default: overdue at 30 and 60 days, default at 90 (balance accelerated), maybe written off at 180
    yield overdue(30)
    yield overdue(60)
    accelerated = {"outstanding_fen": owed, "overdue_fen": owed}
    yield "default", late + dt.timedelta(days=90), {**accelerated, "days_past_due": 90}
    if loan.dpd == 180:
        yield "written_off", late + dt.timedelta(days=180), {**accelerated, "days_past_due": 180}


def _choose_fate(rng: random.Random, loan: _Loan, as_of: dt.date) -> None:
    """Pick the loan's outcome (and when things happen), falling back to `performing` when the loan is too young
    for it."""
    fate = rng.choices(_FATES, _FATE_WEIGHTS)[0]
    n = loan.term
    due = [add_months(loan.opened, k) for k in range(n + 1)]
    if fate == "prepaid":
        candidates = [k for k in range(1, n) if due[k] <= as_of]
        if candidates:
            loan.fate, loan.miss = fate, rng.choice(candidates)
    elif fate == "overdue_cured":
        candidates = [k for k in range(1, n + 1) if due[k] + dt.timedelta(days=60) <= as_of]
        if candidates:
            loan.fate, loan.miss, loan.dpd = fate, rng.choice(candidates), rng.choice((3, 7, 12, 18, 25, 35, 45))
    elif fate == "overdue_now":
        recent = [k for k in range(1, n + 1) if 1 <= (as_of - due[k]).days <= 89]
        if recent:  # the first instalment due in the last 89 days is unpaid; last reported a few days ago
            k = recent[0]
            loan.fate, loan.miss, loan.dpd = fate, k, max(1, (as_of - due[k]).days - rng.randrange(5))
    elif fate == "default":
        candidates = [k for k in range(1, n + 1) if due[k] + dt.timedelta(days=90) <= as_of]
        if candidates:
            k = rng.choice(candidates)
            written_off = due[k] + dt.timedelta(days=180) <= as_of and rng.random() < 0.5
            loan.fate, loan.miss, loan.dpd = fate, k, 180 if written_off else 90


def _settled_by(loan: _Loan, as_of: dt.date) -> dt.date | None:
    """About when the loan was settled, or None if it is open or went bad by `as_of`."""
    if loan.fate == "prepaid":
        assert loan.miss is not None
        return add_months(loan.opened, loan.miss)
    if loan.fate in ("performing", "overdue_cured"):
        maturity = add_months(loan.opened, loan.term) + dt.timedelta(days=50)  # a cure may settle a bit later
        return maturity if maturity <= as_of else None
    return None


def _borrower_loans(rng: random.Random, company: bool, all_three: bool, as_of: dt.date) -> list[_Loan]:
    """A borrower's loans: mostly one, some repeat loans at the same lender, some at several lenders at once."""
    first_day, span = as_of - dt.timedelta(days=3 * 365), 3 * 365 - 14

    def new(lender: int, opened: dt.date) -> _Loan:
        loan = _Loan(lender, opened, _principal(rng, company), rng.choices(_TERMS, _TERM_WEIGHTS)[0], "performing")
        _choose_fate(rng, loan, as_of)
        return loan

    if all_three:  # borrowing from everyone within a few months: the multi-lending pattern reports should flag
        start = as_of - dt.timedelta(days=rng.randrange(60, 400))
        return [new(i, start + dt.timedelta(days=rng.randrange(0, 50))) for i in rng.sample(range(3), 3)]
    lender = rng.choices(range(3), _LENDER_SHARE)[0]
    loans = [new(lender, first_day + dt.timedelta(days=rng.randrange(span)))]
    r = rng.random()
    if r < 0.15:  # a repeat customer: a new loan at the same lender after the last one closed
        end = _settled_by(loans[0], as_of)
        if end is not None and end + dt.timedelta(days=30) < as_of:
            loans.append(new(lender, end + dt.timedelta(days=rng.randrange(7, min(180, (as_of - end).days - 7)))))
    elif r < 0.25:  # a second, overlapping loan at another lender
        other = rng.choice([i for i in range(3) if i != lender])
        opened = min(as_of - dt.timedelta(days=7), loans[0].opened + dt.timedelta(days=rng.randrange(10, 240)))
        loans.append(new(other, opened))
    return loans


def _multi_borrower_loans(as_of: dt.date) -> list[_Loan]:
    """The tour's applicant: a settled loan two years ago, then loans at all three lenders, 35 days late at one."""
    d = lambda days: as_of - dt.timedelta(days=days)  # noqa: E731
    old = d(730)
    return [
        _Loan(0, old, 2_000_000, 6, "performing"),
        _Loan(0, d(200), 3_000_000, 12, "performing"),
        # the 4th instalment fell due 37 days ago: reported 30 days past due a week ago, 35 days two days ago
        _Loan(1, add_months(d(37), -4), 4_000_000, 12, "overdue_now", miss=4, dpd=35),
        _Loan(2, d(45), 5_000_000, 12, "performing"),
    ]


def generate_history(borrowers: int = DEFAULT_BORROWERS, *, as_of: dt.date, seed: int = DEFAULT_SEED) -> History:
    """The three demo lenders' loan books for `borrowers` borrowers (the first is `MULTI_BORROWER`), with every
    event on or before `as_of`. Same arguments, same records."""
    if borrowers < 1:
        raise ValueError("borrowers must be at least 1")
    rng = random.Random(seed)
    books = [_Book(prefix) for prefix in LENDER_PREFIXES]
    all_three = max(2, borrowers // 300)  # a handful at every lender, MULTI_BORROWER first
    used = {MULTI_BORROWER}
    companies = multi = everywhere = overdue = cured = defaulted = written_off = 0
    examples: dict[str, str] = {}
    for i in range(borrowers):
        company = i > 0 and rng.random() < 0.03
        if i == 0:
            id_type, id_number, loans = "resident_id", MULTI_BORROWER, _multi_borrower_loans(as_of)
        else:
            id_type = "uscc" if company else "resident_id"
            id_number = uscc(rng) if company else resident_id(rng, as_of)
            while id_number in used:
                id_number = uscc(rng) if company else resident_id(rng, as_of)
            used.add(id_number)
            loans = _borrower_loans(rng, company, i < all_three, as_of)
        companies += company
        lenders = {loan.lender for loan in loans}
        multi += len(lenders) >= 2
        everywhere += len(lenders) == 3
        for loan in loans:
            book = books[loan.lender]
            book.serial += 1
            loan_number = f"{book.prefix}{loan.opened.year}{book.serial:06d}"
            for k, (event_type, day, amounts) in enumerate(_loan_events(loan, as_of), start=1):
                book.records.append(
                    {
                        "record_id": f"{loan_number}-{k:02d}",
                        "event_type": event_type,
                        "id_type": id_type,
                        "id_number": id_number,
                        "loan_number": loan_number,
                        "occurred_on": day.isoformat(),
                        **amounts,
                    }
                )
            overdue += loan.fate in ("overdue_cured", "overdue_now", "default")
            cured += loan.fate == "overdue_cured"
            defaulted += loan.fate == "default"
            written_off += loan.fate == "default" and loan.dpd == 180
            if i > 0 and loan.fate in _EXAMPLE_LABELS:
                label = "written off" if loan.dpd == 180 else _EXAMPLE_LABELS[loan.fate]
                examples.setdefault(label, id_number)
    for book in books:
        book.records.sort(key=lambda r: (r["occurred_on"], r["record_id"]))
    stats = HistoryStats(
        borrowers=borrowers,
        companies=companies,
        loans=sum(b.serial for b in books),
        records=sum(len(b.records) for b in books),
        multi_lending=multi,
        all_lenders=everywhere,
        overdue_loans=overdue,
        cured_loans=cured,
        defaulted_loans=defaulted,
        written_off_loans=written_off,
    )
    return History(as_of, seed, tuple(b.records for b in books), stats, examples)
