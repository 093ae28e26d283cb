"""Database engine and schema shared by the outbox, the API clients and (later) the index.

SQLite (WAL mode, synchronous=FULL so an accepted record survives a crash) is the embedded default; any
PostgreSQL URL works with the same code.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

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
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class ApiClient(Base):
    """A caller of the gateway's API. Only the SHA-256 of its key is stored."""

    __tablename__ = "api_clients"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    scopes: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


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


class Lock(Base):
    """A lease held by one process (e.g. the submitter of one lender key)."""

    __tablename__ = "locks"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # No checkpoint inside a committing request: `checkpoint()` runs them in the background instead.
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create an engine (and the schema if missing) for a SQLite or PostgreSQL URL."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    Base.metadata.create_all(engine)
    return engine


class Sessions(sessionmaker[Session]):
    """The session factory of one engine.

    On SQLite it also serialises this process's write transactions with a lock: a writer that finds the
    database locked would otherwise poll with SQLite's busy handler, sleeping up to 100 ms between tries, which
    shows up directly as request tail latency. Other processes sharing the file still use the busy timeout.
    """

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, expire_on_commit=False)
        self.write_lock: AbstractContextManager[Any] = (
            threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()
        )


def checkpoint(engine: Engine) -> None:
    """Copy the SQLite WAL into the database without blocking readers or writers (no-op elsewhere)."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


def session_factory(engine: Engine) -> Sessions:
    return Sessions(engine)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A write transaction: commits on success, rolls back on error."""
    lock = factory.write_lock if isinstance(factory, Sessions) else nullcontext()
    with lock, factory() as session, session.begin():
        yield session


# ---------------------------------------------------------------------------------------------------- index
# The index: every member's on-chain events, as read from the logs. Rows are keyed by (block, log index) so
# re-reading a range never inserts twice; a reorganisation deletes rows above the common block.


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


class IndexEvent(Base):
    """A CreditEventRecorded log."""

    __tablename__ = "idx_events"
    __table_args__ = (UniqueConstraint("block_number", "log_index", name="uq_idx_events_log"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    log_index: Mapped[int] = mapped_column(Integer)
    tx_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    lender: Mapped[str] = mapped_column(String(42))
    subject_key: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    record_hash: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    loan_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    item_type: Mapped[int] = mapped_column(Integer)
    occurred_day: Mapped[int] = mapped_column(Integer)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    overdue_fen: Mapped[int] = mapped_column(BigInteger)
    days_past_due: Mapped[int] = mapped_column(Integer)


class IndexInquiry(Base):
    """An InquiryRecorded log."""

    __tablename__ = "idx_inquiries"
    __table_args__ = (UniqueConstraint("block_number", "log_index", name="uq_idx_inquiries_log"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    log_index: Mapped[int] = mapped_column(Integer)
    tx_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    lender: Mapped[str] = mapped_column(String(42))
    subject_key: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    inquiry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    consent_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    purpose: Mapped[int] = mapped_column(Integer)
    block_time: Mapped[int] = mapped_column(BigInteger)


class IndexCorrection(Base):
    """A CreditEventCorrected log: `record_hash` replaces `original_hash` of the same lender."""

    __tablename__ = "idx_corrections"
    __table_args__ = (
        UniqueConstraint("block_number", "log_index", name="uq_idx_corrections_log"),
        Index("ix_idx_corrections_original", "original_hash"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    log_index: Mapped[int] = mapped_column(Integer)
    tx_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    lender: Mapped[str] = mapped_column(String(42))
    original_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    record_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class IndexDispute(Base):
    """A DisputeOpened (outcome 0) or DisputeResolved (outcome 1 confirmed, 2 corrected) log."""

    __tablename__ = "idx_disputes"
    __table_args__ = (
        UniqueConstraint("block_number", "log_index", name="uq_idx_disputes_log"),
        Index("ix_idx_disputes_record", "record_hash"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    log_index: Mapped[int] = mapped_column(Integer)
    tx_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    lender: Mapped[str] = mapped_column(String(42))
    record_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    actor: Mapped[str] = mapped_column(String(42))
    outcome: Mapped[int] = mapped_column(Integer)
    block_time: Mapped[int] = mapped_column(BigInteger)


class IndexMemberEvent(Base):
    """A registry log about a member (admitted, role or status changed)."""

    __tablename__ = "idx_member_events"
    __table_args__ = (UniqueConstraint("block_number", "log_index", name="uq_idx_member_events_log"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    log_index: Mapped[int] = mapped_column(Integer)
    address: Mapped[str] = mapped_column(String(42))
    name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    role: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)


class AuditEntry(Base):
    """One entry of the hash-chained audit log of report and verify requests."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[str] = mapped_column(String(32))  # ISO 8601 UTC, as hashed
    caller: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str | None] = mapped_column(String(32), nullable=True)
    consent_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    subject_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    result_size: Mapped[int] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)  # one successor per entry: no forks
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
