"""A holder's evaluation log: every answered request, hash-chained, so a holder cannot later drop or rewrite what
it answered once a head is anchored on chain; quotas are sums over the same rows.

entry_hash = SHA-256(prev_hash ‖ seq ‖ request_id ‖ at ‖ member ‖ purpose ‖ inquiry ‖ count), fixed widths,
prev_hash of the first entry = 32 zero bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from creditshare.core.db.tables import KeyshareAnchor, KeyshareLogEntry

GENESIS = bytes(32)


@dataclass(frozen=True)
class Entry:
    """The fields of one log entry that its hash covers."""

    seq: int
    request_id: bytes
    at: int
    member: str
    purpose: str
    inquiry: bytes | None
    count: int

    def digest(self, prev_hash: bytes) -> bytes:
        return hashlib.sha256(
            prev_hash
            + self.seq.to_bytes(8, "big")
            + self.request_id
            + self.at.to_bytes(8, "big")
            + bytes.fromhex(self.member[2:].lower())
            + self.purpose.encode().ljust(8, b"\0")
            + (self.inquiry or GENESIS)
            + self.count.to_bytes(4, "big")
        ).digest()


def nth_request_id(request_id: bytes, n: int) -> bytes:
    """The id of the `n`-th entry (n ≥ 1) of a request that names several inquiries (the first entry has the
    request's own id): derived, so a replay of the request collides on every one of them."""
    return hashlib.sha256(request_id + n.to_bytes(4, "big")).digest()


def head(session: Session) -> tuple[int, bytes]:
    """(seq, hash) of the newest entry; (0, GENESIS) for an empty log."""
    row = session.execute(
        select(KeyshareLogEntry.seq, KeyshareLogEntry.entry_hash).order_by(KeyshareLogEntry.seq.desc()).limit(1)
    ).first()
    return (0, GENESIS) if row is None else (int(row[0]), bytes(row[1]))


def used(session: Session, member: str, now: int) -> tuple[int, int]:
    """Points evaluated for `member` in the minute and in the day up to unix time `now` (one indexed read)."""
    minute = now - 59
    in_minute = func.sum(case((KeyshareLogEntry.at >= minute, KeyshareLogEntry.count), else_=0))
    row = session.execute(
        select(func.coalesce(in_minute, 0), func.coalesce(func.sum(KeyshareLogEntry.count), 0)).where(
            KeyshareLogEntry.member == member, KeyshareLogEntry.at >= now - 86_399
        )
    ).one()
    return int(row[0]), int(row[1])


def oldest_since(session: Session, member: str, since: int) -> int | None:
    """Time of `member`'s oldest entry at or after `since` (when its quota window frees up)."""
    value = session.scalar(
        select(func.min(KeyshareLogEntry.at)).where(KeyshareLogEntry.member == member, KeyshareLogEntry.at >= since)
    )
    return None if value is None else int(value)


def append(session: Session, fields: Entry, after: tuple[int, bytes]) -> tuple[Entry, bytes]:
    """Add an entry of `fields` (its `seq` is ignored) after the head `after` = (seq, hash) — the caller holds the
    holder's write lock, knows the head and commits; a second writer would collide on the sequence number.
    Returns the entry as stored and its hash."""
    seq, prev = after
    entry = replace(fields, seq=seq + 1)
    session.add(
        KeyshareLogEntry(
            seq=entry.seq,
            request_id=entry.request_id,
            at=entry.at,
            member=entry.member,
            purpose=entry.purpose,
            inquiry=entry.inquiry,
            count=entry.count,
            prev_hash=prev,
            entry_hash=(digest := entry.digest(prev)),
        )
    )
    return entry, digest


@dataclass(frozen=True)
class Verification:
    """The outcome of re-hashing the log: how many entries chain correctly and the first one that does not."""

    entries: int
    head: bytes
    broken_at: int | None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify(session: Session, *, chunk: int = 10_000) -> Verification:
    """Re-hash the whole log from the start, in `chunk`-sized pages."""
    prev, expected_seq, last = GENESIS, 1, 0
    while True:
        page = select(KeyshareLogEntry).where(KeyshareLogEntry.seq >= expected_seq)
        rows = session.scalars(page.order_by(KeyshareLogEntry.seq).limit(chunk)).all()
        if not rows:
            return Verification(last, prev, None)
        for row in rows:
            entry = Entry(row.seq, row.request_id, row.at, row.member, row.purpose, row.inquiry, row.count)
            if row.seq != expected_seq or row.prev_hash != prev or row.entry_hash != entry.digest(prev):
                return Verification(last, prev, row.seq)
            prev, last, expected_seq = row.entry_hash, row.seq, row.seq + 1


def entry_hash(session: Session, seq: int) -> bytes | None:
    """The stored hash of entry `seq` (to compare with an anchor)."""
    value = session.scalar(select(KeyshareLogEntry.entry_hash).where(KeyshareLogEntry.seq == seq))
    return None if value is None else bytes(value)


def last_anchor(session: Session) -> KeyshareAnchor | None:
    """The newest head this holder anchored on chain."""
    return session.scalars(select(KeyshareAnchor).order_by(KeyshareAnchor.id.desc()).limit(1)).first()


def record_anchor(session: Session, seq: int, head_hash: bytes, tx_hash: str, at: int) -> None:
    session.add(KeyshareAnchor(seq=seq, head=head_hash, tx_hash=tx_hash, at=at))
