"""Re-sealing outbox rows stored before every on-chain column was bound into their seal (seal version 1).

A version-1 row's seal covers only its record and its lender and record id; its clear columns were never
authenticated. Before the submitter may sign one, its columns are checked against what the sealed record says
they must be — a credit event's subject key, loan key, record hash and data word are derived again from the
record; an inquiry's must match its sealed purpose and consent hash and the hash-chained audit entry it anchors —
and the row is sealed again as version 2. A row that does not check out was edited in the database: it fails
with `tampered_row` and is never signed. Runs once when the gateway starts; rows not pending are left alone
(a submitted batch is re-sent from its signed bytes, never rebuilt from the row).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from creditshare.core.db import transaction
from creditshare.core.db.tables import AuditEntry, OutboxItem
from creditshare.domain.codec import pack_inquiry_data
from creditshare.domain.identity import RecordKeys
from creditshare.domain.records import CreditEventIn, normalise_event
from creditshare.domain.status import ItemKind, ItemStatus
from creditshare.write.seal import SEAL_VERSION, RowSeal, columns_of


@dataclass
class ResealResult:
    """What `reseal_legacy` did: rows sealed again, and the ids of rows refused as tampered."""

    resealed: int = 0
    refused: list[int] = field(default_factory=list)


def _derived_columns_match(row: OutboxItem, plaintext: bytes, original_hash: bytes | None, ctx: _Context) -> bool:
    if row.kind == ItemKind.INQUIRY:
        sealed = json.loads(plaintext)
        entry = ctx.session.scalar(select(AuditEntry).where(AuditEntry.entry_hash == row.record_hash.hex()))
        return (
            row.data_word == pack_inquiry_data(int(sealed["purpose"])).to_bytes(32, "big")
            and row.item_key.hex() == sealed["consent_hash"]
            and entry is not None
            and entry.subject_key == row.subject_key.hex()
            and entry.consent_hash == row.item_key.hex()
        )
    record = CreditEventIn.model_validate_json(plaintext)
    event = normalise_event(record, lender=ctx.lender, keys=ctx.keys, corrects_hash=original_hash)
    return (
        event.record_id == row.record_id
        and (event.subject_key, event.loan_key, event.record_hash) == (row.subject_key, row.item_key, row.record_hash)
        and event.data_word.to_bytes(32, "big") == row.data_word
    )


@dataclass
class _Context:
    session: Session
    seal: RowSeal
    lender: str
    keys: RecordKeys


def reseal_legacy(factory: sessionmaker[Session], seal: RowSeal, lender: str, keys: RecordKeys) -> ResealResult:
    """Check and re-seal this lender's pending version-1 rows (see the module docstring). Such rows predate
    subject keys v2, so `keys` are the v1 keys they were made with."""
    result = ResealResult()
    with transaction(factory) as session:
        rows = list(
            session.scalars(
                select(OutboxItem).where(
                    OutboxItem.lender == lender,
                    OutboxItem.status == ItemStatus.PENDING,
                    OutboxItem.seal_version < SEAL_VERSION,
                )
            )
        )
        ctx = _Context(session, seal, lender, keys)
        for row in rows:
            original = session.get(OutboxItem, row.corrects_id) if row.corrects_id is not None else None
            columns = columns_of(row, original.record_id if original else None)
            try:
                plaintext = seal.open(row.payload, columns, row.seal_version)
                ok = _derived_columns_match(row, plaintext, original.record_hash if original else None, ctx)
            except Exception:  # the payload does not open (changed), or does not parse as what its row claims
                ok = False
            if ok:
                row.payload = seal.seal(plaintext, columns)
                row.seal_version = SEAL_VERSION
                result.resealed += 1
            else:
                result.refused.append(row.id)
        if result.refused:
            session.execute(
                update(OutboxItem)
                .where(OutboxItem.id.in_(result.refused))
                .values(
                    status=ItemStatus.FAILED,
                    error_code="tampered_row",
                    error_message="the stored row does not match its sealed record; it was not signed",
                    retryable=False,
                )
            )
    return result
