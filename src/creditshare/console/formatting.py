"""How the console writes numbers, IDs and histories: ¥ with thousands separators, ISO dates, masked IDs, and
the repayment grid in the letters Chinese underwriters read (N / 1–6 / D / C / /)."""

from __future__ import annotations

import datetime as dt

from creditshare.core.clock import CST

#: `fold`'s payment-history alphabet → the grid's letters (see the legend on the report page).
_GRID = {"0": "N", "L": "D", "E": "C", "B": "/"}


def yuan(fen: int | None) -> str:
    """¥1,234.56 from 123456 fen; an em dash when unknown."""
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


def iso_date(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return "—"
    return value.date().isoformat() if isinstance(value, dt.datetime) else value.isoformat()


def cst_time(value: dt.datetime | str) -> str:
    """An instant (or its ISO 8601 text, as the alert feed carries it) as Beijing time, to the second."""
    instant = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")


def mask_id(normalised: str) -> str:
    """The first 6 and last 4 characters of an ID, the rest starred (as bank statements print it)."""
    if len(normalised) <= 10:
        return normalised[:2] + "*" * max(0, len(normalised) - 2)
    return normalised[:6] + "*" * (len(normalised) - 10) + normalised[-4:]


def grid(history: str) -> list[str]:
    """The 24 history characters as the grid's letters, newest month first."""
    return [_GRID.get(c, c) for c in history]


def short_hash(value: str) -> str:
    """0x1234…abcd: enough to recognise a hash, short enough for a table cell."""
    return value if len(value) <= 14 else f"{value[:6]}…{value[-4:]}"
