"""The on-chain item encoding: four 32-byte words per credit event or inquiry.

Layout of the data word (big-endian, byte 0 first), mirrored in `ICreditLedger.sol` and docs/data-dictionary.md:

    credit event: type(1) | occurred-on day(4) | amount fen(8) | overdue amount fen(8) | days past due(2) | 0(9)
    inquiry:      type(1)=16 | purpose code(1) | 0(30)

Keeping the fields in one word keeps calldata (zero bytes are cheap) and log data small.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import IntEnum

MAX_U32 = 2**32 - 1
MAX_U64 = 2**64 - 1
MAX_U16 = 2**16 - 1
EPOCH = dt.date(1970, 1, 1)

#: Largest amount a record carries: 10^15 fen (10 trillion yuan) — far above any micro-loan, far below uint64.
MAX_FEN = 10**15
#: Most days past due a record carries (100 years).
MAX_DAYS_PAST_DUE = 36_500
#: Earliest day a credit event may have happened on (the ledger checks it too).
EARLIEST_DATE = dt.date(1990, 1, 1)
#: The ledger's Purpose codes of inquiries (mirrors `domain.purposes.Purpose`).
PURPOSE_CODES = range(1, 7)


class ItemType(IntEnum):
    """Item types as the ledger knows them (byte 0 of the data word)."""

    LOAN_OPENED = 1
    REPAYMENT = 2
    OVERDUE = 3
    DEFAULT = 4
    SETTLED = 5
    WRITTEN_OFF = 6
    INQUIRY = 16


@dataclass(frozen=True)
class EventData:
    """Decoded data word of a credit event."""

    item_type: ItemType
    occurred_on: dt.date
    amount_fen: int
    overdue_fen: int
    days_past_due: int


def day_number(day: dt.date) -> int:
    """Days since 1970-01-01."""
    return (day - EPOCH).days


def pack_event_data(
    item_type: ItemType, occurred_on: dt.date, amount_fen: int, overdue_fen: int = 0, days_past_due: int = 0
) -> int:
    """Pack a credit event's fields into the data word; raises ValueError on any out-of-range field."""
    try:
        kind = ItemType(item_type)
    except ValueError:
        raise ValueError(f"unknown item type {item_type!r}") from None
    if kind is ItemType.INQUIRY:
        raise ValueError("use pack_inquiry_data for inquiries")
    day = day_number(occurred_on)
    if not 0 <= day <= MAX_U32:
        raise ValueError(f"occurred_on out of range: {occurred_on}")
    for label, value, top in (
        ("amount_fen", amount_fen, MAX_U64),
        ("overdue_fen", overdue_fen, MAX_U64),
        ("days_past_due", days_past_due, MAX_U16),
    ):
        if not 0 <= value <= top:
            raise ValueError(f"{label} out of range: {value}")
    return (int(item_type) << 248) | (day << 216) | (amount_fen << 152) | (overdue_fen << 88) | (days_past_due << 72)


def pack_inquiry_data(purpose: int) -> int:
    """Pack an inquiry's data word."""
    if not 1 <= purpose <= 255:
        raise ValueError(f"purpose code out of range: {purpose}")
    return (int(ItemType.INQUIRY) << 248) | (purpose << 240)


def item_type_of(data: int) -> int:
    """Byte 0 of a data word."""
    return data >> 248


@dataclass(frozen=True)
class EventWord:
    """The fields of a credit event's data word as raw integers, whatever their values (logs are untrusted)."""

    item_type: int
    occurred_day: int
    amount_fen: int
    overdue_fen: int
    days_past_due: int


def split_event_word(data: int) -> EventWord:
    """The raw fields of a credit event's data word (no range or type checks)."""
    return EventWord(
        item_type=data >> 248,
        occurred_day=(data >> 216) & MAX_U32,
        amount_fen=(data >> 152) & MAX_U64,
        overdue_fen=(data >> 88) & MAX_U64,
        days_past_due=(data >> 72) & MAX_U16,
    )


def unpack_event_data(data: int) -> EventData:
    """Inverse of `pack_event_data` (raises ValueError for an unknown item type)."""
    word = split_event_word(data)
    return EventData(
        item_type=ItemType(word.item_type),
        occurred_on=EPOCH + dt.timedelta(days=word.occurred_day),
        amount_fen=word.amount_fen,
        overdue_fen=word.overdue_fen,
        days_past_due=word.days_past_due,
    )


#: Bits below the days-past-due field of a credit event's word, and below the purpose of an inquiry's: always 0.
_EVENT_PADDING = (1 << 72) - 1
_INQUIRY_PADDING = (1 << 240) - 1


def event_word_problem(data: int, latest_day: int) -> str | None:
    """Why a credit event's data word is not one an honest gateway writes, or None. The rules are those the
    gateway applies to every record it accepts (`domain.records.check_rules`) and the ledger re-checks; the index
    applies them to other members' logs, which it must not trust. `latest_day` is the log's block day + 1."""
    word = split_event_word(data)
    if word.item_type not in _EVENT_TYPES:
        return f"unknown item type {word.item_type}"
    if data & _EVENT_PADDING:
        return "the unused bytes of the data word are not zero"
    if not day_number(EARLIEST_DATE) <= word.occurred_day <= latest_day:
        return f"occurred-on day {word.occurred_day} outside {day_number(EARLIEST_DATE)}..{latest_day}"
    if word.amount_fen > MAX_FEN or word.overdue_fen > MAX_FEN or word.days_past_due > MAX_DAYS_PAST_DUE:
        return "an amount or the days past due is out of range"
    kind = ItemType(word.item_type)
    late = word.overdue_fen or word.days_past_due
    if kind is ItemType.LOAN_OPENED and (word.amount_fen == 0 or late):
        return "a new loan has a principal and nothing overdue"
    if kind is ItemType.SETTLED and (word.amount_fen or late):
        return "a settled loan has nothing outstanding or overdue"
    if kind is ItemType.OVERDUE and not (word.overdue_fen and word.days_past_due):
        return "an overdue event has an overdue amount and days past due"
    if kind is not ItemType.WRITTEN_OFF and word.overdue_fen > word.amount_fen:
        return "the overdue amount exceeds the outstanding amount"
    return None


def inquiry_word_problem(data: int) -> str | None:
    """Why an inquiry's data word is not one an honest gateway writes, or None."""
    if data >> 248 != ItemType.INQUIRY:
        return f"item type {data >> 248} is not an inquiry"
    if data & _INQUIRY_PADDING:
        return "the unused bytes of the data word are not zero"
    if unpack_inquiry_purpose(data) not in PURPOSE_CODES:
        return f"unknown purpose code {unpack_inquiry_purpose(data)}"
    return None


def unpack_inquiry_purpose(data: int) -> int:
    """Purpose code of an inquiry's data word."""
    return (data >> 240) & 0xFF


def encode_items(items: list[tuple[bytes, bytes, bytes, int]]) -> list[bytes]:
    """Flatten (subject key, loan key or consent hash, record hash, data word) tuples into batch words."""
    words: list[bytes] = []
    for subject_key, key, record_hash, data in items:
        words.extend((subject_key, key, record_hash, data.to_bytes(32, "big")))
    return words


_EVENT_TYPES = frozenset(t.value for t in ItemType if t is not ItemType.INQUIRY)
