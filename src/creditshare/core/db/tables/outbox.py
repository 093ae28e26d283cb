"""The write path's tables: the outbox, the signed batches and the submitter lease (owned by `write`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from creditshare.core.clock import utcnow
from creditshare.core.db.base import Base


class Batch(Base):
    """One signed ledger transaction carrying a batch of outbox items, with its lender sequence number."""

    __tablename__ = "batches"
    __table_args__ = (Index("ix_batches_lender_status", "lender", "status"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lender: Mapped[str] = mapped_column(String(42))
    seq: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # signed | confirmed | failed
    nonce: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(66), unique=True)
    raw_tx: Mapped[bytes] = mapped_column(LargeBinary)
    item_count: Mapped[int] = mapped_column(Integer)
    search_from_block: Mapped[int] = mapped_column(BigInteger, default=0)
    #: keccak256 of the batch's record hashes (zero for inquiries), as the ledger's BatchRecorded log carries it:
    #: a landed batch with this sequence is ours only if its digest is this one.
    digest: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    block_number: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    gas_used: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)


class OutboxItem(Base):
    """An accepted record (credit event, correction or inquiry) on its way to the chain.

    Only keys and hashes are kept in clear; the full record (with the ID number) is sealed in `payload`.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("lender", "record_id", name="uq_outbox_lender_record"),
        Index("ix_outbox_status_id", "status", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lender: Mapped[str] = mapped_column(String(42))
    kind: Mapped[str] = mapped_column(String(16))  # event | correction | inquiry
    record_id: Mapped[str] = mapped_column(String(64))
    subject_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    item_key: Mapped[bytes] = mapped_column(LargeBinary(32))  # loan key, or consent hash for inquiries
    record_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    data_word: Mapped[bytes] = mapped_column(LargeBinary(32))
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"), nullable=True)
    corrects: Mapped[OutboxItem | None] = relationship(remote_side="OutboxItem.id", lazy="raise")
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|submitted|confirmed|failed
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), nullable=True, index=True)
    batch_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    block_number: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    log_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    accepted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    retryable: Mapped[bool] = mapped_column(Boolean, default=True)
    #: How `payload` is sealed: 2 binds every column that goes on chain into the AEAD's associated data; 1 (rows
    #: from before that) bound only lender and record id, and is re-sealed after checking at start.
    seal_version: Mapped[int] = mapped_column(Integer, default=2, server_default="1")


class Lock(Base):
    """A lease held by one process (e.g. the submitter of one lender key)."""

    __tablename__ = "locks"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    #: Fencing token: advanced every time the lease changes hands, so a holder that lost it (a paused process
    #: whose lease expired and was taken) can no longer write what only the holder may.
    token: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
