"""The hash-chained audit log of report and verify requests (owned by `read.audit`)."""

from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from creditshare.core.db.base import Base


class AuditEntry(Base):
    """One entry of the hash-chained audit log of report and verify requests."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[str] = mapped_column(String(32))  # ISO 8601 UTC, as hashed
    caller: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str | None] = mapped_column(String(32), nullable=True)
    consent_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    subject_key: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    result_size: Mapped[int] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)  # one successor per entry: no forks
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
