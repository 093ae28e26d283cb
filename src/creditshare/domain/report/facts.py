"""The facts a report is folded from: one subject's index rows, as plain immutable values.

Each fact carries its chain position (block, log index) and transaction, so the report can cite it. Facts are
named tuples: a hostile member can put tens of thousands of them on one borrower, and a tuple is built from an
index row at C speed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class EventFact(NamedTuple):
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


class CorrectionFact(NamedTuple):
    block: int
    log_index: int
    tx_hash: bytes
    lender: str
    original_hash: bytes
    record_hash: bytes


class DisputeFact(NamedTuple):
    block: int
    log_index: int
    tx_hash: bytes
    lender: str
    record_hash: bytes
    outcome: int  # 0 opened, 1 confirmed, 2 corrected
    block_time: int


class InquiryFact(NamedTuple):
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
