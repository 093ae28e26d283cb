"""The facts a report is folded from: one subject's index rows, as plain immutable values.

Each fact carries its chain position (block, log index) and transaction, so the report can cite it.
"""

from __future__ import annotations

from dataclasses import dataclass


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
