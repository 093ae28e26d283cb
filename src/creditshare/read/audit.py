"""The audit log: every report and verify request, appended to a hash chain.

Entry hash = SHA-256 of the previous entry's hash and the entry's canonical JSON, so editing or deleting any
entry breaks every later link and `verify()` names the first broken one. A concurrent append that would fork
the chain fails on the unique `prev_hash` and is retried. Each report's entry hash is also recorded on chain as
the inquiry hash, which anchors the log: even a truncated tail shows up against the chain's inquiries.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from creditshare.core.db import transaction
from creditshare.core.db.tables import AuditEntry

GENESIS = "0" * 64
#: Writers racing for the same successor retry with a growing random pause; each try costs one transaction.
APPEND_ATTEMPTS = 50
FIELDS = ("id", "at", "caller", "action", "purpose", "consent_hash", "subject_key", "result_size")


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    body = json.dumps({k: fields[k] for k in FIELDS}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


@dataclass(frozen=True)
class AuditRecord:
    """An appended entry."""

    id: int
    entry_hash: str


class AuditLog:
    """Append to, check and export the audit log in the gateway's database."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory

    def append(
        self,
        *,
        caller: str,
        action: Literal["report", "verify", "objection"],
        purpose: str | None,
        consent_hash: str | None,
        subject_key: str | None,
        result_size: int,
    ) -> AuditRecord:
        for attempt in range(APPEND_ATTEMPTS):
            try:
                with transaction(self._factory) as session:
                    last = session.execute(
                        select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)
                    ).first()
                    fields = {
                        "id": (last.id + 1) if last else 1,
                        "at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
                        "caller": caller,
                        "action": action,
                        "purpose": purpose,
                        "consent_hash": consent_hash,
                        "subject_key": subject_key,
                        "result_size": result_size,
                    }
                    prev = last.entry_hash if last else GENESIS
                    digest = entry_hash(prev, fields)
                    session.add(AuditEntry(**fields, prev_hash=prev, entry_hash=digest))
                return AuditRecord(int(fields["id"] or 0), digest)
            except IntegrityError:  # another writer appended the same successor first: read the new tail, retry
                if attempt == APPEND_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))  # de-synchronise the racers
        raise AssertionError("unreachable")

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
