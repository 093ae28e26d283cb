"""The audit log: every report and verify request, appended to a hash chain.

Entry hash = SHA-256 of the previous entry's hash and the entry's canonical JSON, so editing or deleting any
entry breaks every later link and `verify()` names the first broken one. A concurrent append that would fork
the chain fails on the unique `prev_hash` and is retried. Concurrent appends are committed together
(`core.db.group_commit`). Each report's entry hash is also recorded on chain as
the inquiry hash, which anchors the log: even a truncated tail shows up against the chain's inquiries.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, TextIO, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from creditshare.core.db.group_commit import GroupCommit
from creditshare.core.db.tables import AuditEntry

GENESIS = "0" * 64
T = TypeVar("T")
FIELDS = ("id", "at", "caller", "action", "purpose", "consent_hash", "subject_key", "result_size")


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    body = json.dumps({k: fields[k] for k in FIELDS}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


@dataclass(frozen=True)
class AuditRequest:
    """What one audited request appends: who asked, what for, and how much it returned."""

    caller: str
    action: Literal["report", "verify", "objection"]
    purpose: str | None = None
    consent_hash: str | None = None
    subject_key: str | None = None
    result_size: int = 0


def append_in(session: Session, request: AuditRequest) -> AuditRecord:
    """Chain an entry for `request` after the newest one the session sees (its own uncommitted ones included).
    A writer in another process appending the same successor makes the commit fail on the unique `prev_hash`;
    `GroupCommit` then runs it again on the new tail."""
    last = session.execute(select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)).first()
    fields = {
        "id": (last.id + 1) if last else 1,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
        **asdict(request),
    }
    prev = last.entry_hash if last else GENESIS
    digest = entry_hash(prev, fields)
    session.add(AuditEntry(**fields, prev_hash=prev, entry_hash=digest))
    session.flush()  # the next entry of the same transaction reads this one as the tail
    return AuditRecord(int(fields["id"]), digest)


@dataclass(frozen=True)
class AuditRecord:
    """An appended entry."""

    id: int
    entry_hash: str


class AuditLog:
    """Append to, check and export the audit log in the gateway's database.

    Appends go through a `GroupCommit`: entries of concurrent requests are chained and committed together, and
    each request returns once its own entry is durable.
    """

    def __init__(self, factory: sessionmaker[Session], commits: GroupCommit | None = None) -> None:
        self._factory = factory
        self.commits = commits or GroupCommit(factory)

    def append(self, request: AuditRequest) -> AuditRecord:
        """Append one entry and commit it (with whatever other requests append meanwhile)."""
        return self.commits.run(lambda session: append_in(session, request))

    def append_with(self, request: AuditRequest, then: Callable[[Session, AuditRecord], T]) -> tuple[AuditRecord, T]:
        """Append one entry and run `then(session, entry)` in the same transaction (the report's inquiry, which
        carries the entry's hash): both are committed, or neither."""

        def work(session: Session) -> tuple[AuditRecord, T]:
            record = append_in(session, request)
            return record, then(session, record)

        return self.commits.run(work)

    def entries(self) -> Iterator[AuditEntry]:
        with self._factory() as session:
            yield from session.scalars(select(AuditEntry).order_by(AuditEntry.id)).yield_per(1000)

    def verify(self) -> list[str]:
        """Problems found, oldest first (empty: the chain is intact)."""
        problems = []
        prev, expected_id = GENESIS, 1
        for entry in self.entries():
            fields = {k: getattr(entry, k) for k in FIELDS}
            if entry.id != expected_id:
                problems.append(f"entry {expected_id}..{entry.id - 1} missing (deleted?)")
            if entry.prev_hash != prev:
                problems.append(f"entry {entry.id}: link to the previous entry broken (an entry was deleted or edited)")
            if entry_hash(entry.prev_hash, fields) != entry.entry_hash:
                problems.append(f"entry {entry.id}: content does not match its hash (edited)")
            prev, expected_id = entry.entry_hash, entry.id + 1
        return problems

    def search(self, query: AuditQuery) -> list[AuditEntry]:
        """Entries matching `query`, newest first (at most `query.limit`)."""
        statement = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(query.limit)
        if query.caller:
            statement = statement.where(AuditEntry.caller == query.caller)
        if query.purpose:
            statement = statement.where(AuditEntry.purpose == query.purpose)
        if query.since:  # `at` is ISO 8601 UTC text: it sorts as it reads
            statement = statement.where(AuditEntry.at >= query.since.isoformat())
        if query.until:
            statement = statement.where(AuditEntry.at < (query.until + dt.timedelta(days=1)).isoformat())
        with self._factory() as session:
            return list(session.scalars(statement))

    def export(self, out: Path, fmt: Literal["csv", "json"]) -> int:
        """Write every entry to `out`; returns how many."""
        rows = list(self.entries())
        if fmt == "json":
            records = [{k: getattr(e, k) for k in EXPORT_COLUMNS} for e in rows]
            out.write_text(json.dumps(records, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        else:
            with out.open("w", newline="", encoding="utf-8") as fh:
                write_csv(rows, fh)
        return len(rows)


#: The columns of an export: every hashed field and the links.
EXPORT_COLUMNS = (*FIELDS, "prev_hash", "entry_hash")


@dataclass(frozen=True)
class AuditQuery:
    """A filter over the audit log: by person (caller), purpose and UTC date range (inclusive)."""

    caller: str | None = None
    purpose: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    limit: int = 500


def write_csv(entries: Iterable[AuditEntry], fh: TextIO) -> None:
    """`entries` as CSV with a header row (the format `creditshare audit export` writes)."""
    writer = csv.DictWriter(fh, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    writer.writerows({k: getattr(e, k) for k in EXPORT_COLUMNS} for e in entries)
