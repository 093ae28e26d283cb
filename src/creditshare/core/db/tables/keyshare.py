"""A key-share holder's own tables (owned by `keyshare`): its hash-chained evaluation log and its anchors.

A holder runs its own database; the gateway's tables are simply unused there (one metadata, one migration chain).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from creditshare.core.db.base import Base


class KeyshareLogEntry(Base):
    """One answered evaluation request: who asked, why, how many points, and the hash chaining it to the previous
    entry. Never updated or deleted; quotas are sums over it."""

    __tablename__ = "keyshare_log"
    __table_args__ = (Index("ix_keyshare_log_member_at", "member", "at"),)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    request_id: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    at: Mapped[int] = mapped_column(BigInteger)  # unix seconds
    member: Mapped[str] = mapped_column(String(42))
    purpose: Mapped[str] = mapped_column(String(8))
    inquiry: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    count: Mapped[int] = mapped_column(Integer)
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class KeyshareAnchor(Base):
    """A log head this holder put on chain: the entry it covers and the transaction."""

    __tablename__ = "keyshare_anchors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    head: Mapped[bytes] = mapped_column(LargeBinary(32))
    tx_hash: Mapped[str] = mapped_column(String(66))
    at: Mapped[int] = mapped_column(BigInteger)


class SubjectKeyCache(Base):
    """A gateway's cache of its own customers' OPRF outputs, so a submission for a known borrower needs no round
    trip to the key-share holders. `lookup` is HMAC(lender's cache key, id); `sealed` is the output under the
    lender's record key, bound to `lookup`. Readable only with this lender's keys: nothing here helps anyone
    else."""

    __tablename__ = "subject_key_cache"
    lookup: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
