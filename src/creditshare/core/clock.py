"""The one clock of the gateway: dates are China Standard Time, instants are UTC.

A record dated "today" in Beijing is not in the future, whatever the server's time zone; submissions, reports
and ID validation all ask this module for today's date.
"""

from __future__ import annotations

import datetime as dt

#: China Standard Time (UTC+8, no daylight saving).
CST = dt.timezone(dt.timedelta(hours=8))


def utcnow() -> dt.datetime:
    """The current instant, timezone-aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def today_cst() -> dt.date:
    """Today's date in China Standard Time."""
    return dt.datetime.now(CST).date()


def aware(value: dt.datetime) -> dt.datetime:
    """A datetime read from a timezone-aware column: SQLite hands them back naive (in UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
