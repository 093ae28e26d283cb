"""Moving a lender's history to subject keys v2: every record it recorded under v1 keys is recorded again under v2
keys, as a new record of its own, so that reports (which read v2 keys) show it.

Only the lender can do this for its records — it alone holds their IDs (sealed in its outbox) — and it publishes
nothing that links an old key to a new one: the chain sees new records under new keys. The old records stay on
chain under v1 keys, which anyone holding the old consortium secret can still reverse (docs/operations.md).

A re-recorded record's id is `<record id>:v2` (or `v2:` and a digest when that would be over 64 characters);
a correction is re-recorded as a correction of its original's new id. Running it again re-records nothing twice
(the outbox answers `duplicate`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased, sessionmaker

from creditshare.core.db.tables import OutboxItem
from creditshare.domain.identity import IdType, RecordKeys, normalise
from creditshare.domain.records import CreditEventIn
from creditshare.domain.status import ItemKind, ItemStatus, RecordStatus
from creditshare.write.outbox import Outbox
from creditshare.write.seal import RowSeal, columns_of

CHUNK = 1000


def v2_record_id(record_id: str) -> str:
    """The id under which a v1 record is recorded again."""
    candidate = f"{record_id}:v2"
    return candidate if len(candidate) <= 64 else "v2:" + hashlib.sha256(record_id.encode()).hexdigest()[:40]


@dataclass
class MigrationResult:
    """What `migrate_subjects` did."""

    examined: int = 0
    rerecorded: int = 0  # accepted now (queued for the chain)
    already: int = 0  # re-recorded by an earlier run
    rejected: dict[str, int] = field(default_factory=dict)  # by reason
    event_ids: list[int] = field(default_factory=list)  # outbox ids of the records accepted now


def _v1_records(factory: sessionmaker[Session], seal: RowSeal, lender: str, v1: RecordKeys) -> list[CreditEventIn]:
    """This lender's confirmed events and corrections whose subject key is its v1 key, in outbox order."""
    original = aliased(OutboxItem)
    found = []
    with factory() as session:
        rows = session.execute(
            select(OutboxItem, original.record_id)
            .outerjoin(original, OutboxItem.corrects_id == original.id)
            .where(
                OutboxItem.lender == lender,
                OutboxItem.kind.in_([ItemKind.EVENT, ItemKind.CORRECTION]),
                OutboxItem.status == ItemStatus.CONFIRMED,
            )
            .order_by(OutboxItem.id)
        )
        for item, corrects in rows:
            record = CreditEventIn.model_validate_json(
                seal.open(item.payload, columns_of(item, corrects), item.seal_version)
            )
            normal = normalise(record.id_type, record.id_number)
            if v1.subject(IdType(record.id_type).value, normal) == item.subject_key:
                found.append(record)
    return found


def migrate_subjects(
    factory: sessionmaker[Session],
    seal: RowSeal,
    lender: str,
    v1: RecordKeys,
    outbox: Outbox,
    progress: Callable[[int], None] | None = None,
) -> MigrationResult:
    """Re-record every confirmed v1 record of `lender` through `outbox` (a v2 outbox), in chunks of `CHUNK`."""
    records = _v1_records(factory, seal, lender, v1)
    result = MigrationResult(examined=len(records))
    for start in range(0, len(records), CHUNK):
        chunk = [
            r.model_copy(
                update={"record_id": v2_record_id(r.record_id), "corrects": r.corrects and v2_record_id(r.corrects)}
            ).model_dump(mode="json")
            for r in records[start : start + CHUNK]
        ]
        for outcome in outbox.submit_events(chunk):
            if outcome.status == RecordStatus.ACCEPTED:
                result.rerecorded += 1
                if outcome.event_id is not None:
                    result.event_ids.append(outcome.event_id)
            elif outcome.status == RecordStatus.DUPLICATE:
                result.already += 1
            else:
                reason = outcome.code or "rejected"
                result.rejected[reason] = result.rejected.get(reason, 0) + 1
        if progress is not None:
            progress(min(start + CHUNK, len(records)))
    return result
