"""The console's people and their sessions (owned by `console`), and the objections borrowers file through the
lender's customer channel (owned by `read.borrower`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from creditshare.core.clock import utcnow
from creditshare.core.db.base import Base


class ConsoleUser(Base):
    """A person who signs in to the console: an underwriter, an auditor or an admin. Only the Argon2id hash of the
    password is stored; `failed_logins` and `locked_until` implement the lock-out."""

    __tablename__ = "console_users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    password_changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConsoleSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored, beside the CSRF token
    every form of that session must carry."""

    __tablename__ = "console_sessions"
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("console_users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class BorrowerObjection(Base):
    """An objection a borrower filed through this lender (征信业管理条例 art. 25): against one event of their
    report, answered within 20 days. The statement stays here, sealed; the chain will only see its hash."""

    __tablename__ = "borrower_objections"
    __table_args__ = (Index("ix_borrower_objections_subject", "subject_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    subject_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    event_id: Mapped[int] = mapped_column(Integer)
    record_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    statement: Mapped[str] = mapped_column(Text)
    filed_by: Mapped[str] = mapped_column(String(64))
    filed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(16), default="open")
    #: The dispute on chain: the record's lender, the objection's hash, the opening transaction and the dispute's
    #: id (`<block>-<log index>`) once mined. Rows from before disputes went on chain have none.
    record_lender: Mapped[str | None] = mapped_column(String(42), nullable=True)
    objection_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    dispute_id: Mapped[str | None] = mapped_column(String(24), nullable=True, index=True)
