"""The index: every member's on-chain events as read from the logs (owned by `read`).

Rows are keyed by (block, log index) so re-reading a range never inserts twice; a reorganisation deletes rows
above the common block.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from creditshare.core.db.base import Base


def unique_position(table: str) -> UniqueConstraint:
    """A log's (block, log index) is unique in its table: re-reading a range inserts nothing twice."""
    return UniqueConstraint("block_number", "log_index", name=f"uq_{table}_log")


class LogRow:
    """The columns of every row copied from a log: an id and the log's position in the chain."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    log_index: Mapped[int] = mapped_column(Integer)


class LedgerLog(LogRow):
    """A row copied from a ledger log: also its transaction and the lender that recorded it."""

    tx_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    lender: Mapped[str] = mapped_column(String(42))


class IndexState(Base):
    """Where the follower is: the last indexed block and its hash (one row)."""

    __tablename__ = "idx_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    ledger_address: Mapped[str] = mapped_column(String(42))
    registry_address: Mapped[str] = mapped_column(String(42))
    last_block: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)


class IndexBlock(Base):
    """Hash and time of every indexed block that had our logs, plus each range end (for reorg checks)."""

    __tablename__ = "idx_blocks"
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    timestamp: Mapped[int] = mapped_column(BigInteger)


class IndexEvent(LedgerLog, Base):
    """A CreditEventRecorded log."""

    __tablename__ = "idx_events"
    __table_args__ = (unique_position("idx_events"),)
    subject_key: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    record_hash: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    loan_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    item_type: Mapped[int] = mapped_column(Integer)
    occurred_day: Mapped[int] = mapped_column(BigInteger)  # uint32 on chain: more than PostgreSQL's integer
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    overdue_fen: Mapped[int] = mapped_column(BigInteger)
    days_past_due: Mapped[int] = mapped_column(Integer)


class IndexInquiry(LedgerLog, Base):
    """An InquiryRecorded log."""

    __tablename__ = "idx_inquiries"
    __table_args__ = (unique_position("idx_inquiries"),)
    subject_key: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    inquiry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    consent_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    purpose: Mapped[int] = mapped_column(Integer)
    block_time: Mapped[int] = mapped_column(BigInteger)


class IndexCorrection(LedgerLog, Base):
    """A CreditEventCorrected log: `record_hash` replaces `original_hash` of the same lender. `subject_key` is the
    original's (looked up when the log is stored), so a report finds a subject's corrections by one indexed read."""

    __tablename__ = "idx_corrections"
    __table_args__ = (
        unique_position("idx_corrections"),
        Index("ix_idx_corrections_original", "original_hash"),
        Index("ix_idx_corrections_subject", "subject_key"),
    )
    original_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    record_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    subject_key: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)


class IndexDispute(LedgerLog, Base):
    """A DisputeOpened (outcome 0) or DisputeResolved (outcome 1 upheld, 2 corrected) log; `subject_key` is the
    disputed record's (looked up when the log is stored). `detail` is the objection hash of an opening, the
    correction's record hash or the reason code of a resolution."""

    __tablename__ = "idx_disputes"
    __table_args__ = (
        unique_position("idx_disputes"),
        Index("ix_idx_disputes_record", "record_hash"),
        Index("ix_idx_disputes_subject", "subject_key"),
        Index("ix_idx_disputes_lender", "lender"),
        Index("ix_idx_disputes_actor", "actor"),
    )
    record_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    actor: Mapped[str] = mapped_column(String(42))
    outcome: Mapped[int] = mapped_column(Integer)
    block_time: Mapped[int] = mapped_column(BigInteger)
    subject_key: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    detail: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)


class IndexMemberEvent(LogRow, Base):
    """A registry log about a member (admitted, role or status changed)."""

    __tablename__ = "idx_member_events"
    __table_args__ = (unique_position("idx_member_events"),)
    address: Mapped[str] = mapped_column(String(42))
    name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    role: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)


class IndexQuarantine(Base):
    """A log of our contracts the index could not accept (out of range, unknown type, a correction or dispute of
    a record it does not hold, by someone without the right...): kept raw with the reason, never in a report."""

    __tablename__ = "idx_quarantine"
    __table_args__ = (unique_position("idx_quarantine"), Index("ix_idx_quarantine_reason", "reason"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    log_index: Mapped[int] = mapped_column(Integer)
    tx_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    address: Mapped[str] = mapped_column(String(42))  # the contract that emitted it
    sender: Mapped[str | None] = mapped_column(String(42), nullable=True)  # the member it names, if any
    event: Mapped[str | None] = mapped_column(String(64), nullable=True)  # its event name, if known
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)
    topics: Mapped[bytes] = mapped_column(LargeBinary)  # the topics, 32 bytes each, as the node returned them
    data: Mapped[bytes] = mapped_column(LargeBinary)
