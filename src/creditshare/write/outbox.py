"""The outbox: every accepted record is stored (encrypted) before the caller hears "accepted".

The submitter later takes pending items from here into signed batches; nothing is ever accepted that is not
durably stored. A record id seen before is a `duplicate` when the record is the same (and valid), a
`record_id_conflict` rejection when it is not — never silently dropped — and a fresh record when the earlier one
failed for good.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker

from creditshare.core.clock import today_cst, utcnow
from creditshare.core.crypto import RecordCipher
from creditshare.core.db import in_chunks, transaction
from creditshare.core.db.tables import OutboxItem
from creditshare.core.exceptions import CreditShareError
from creditshare.domain.codec import pack_inquiry_data
from creditshare.domain.identity import (
    InvalidIdentity,
    KeyPurpose,
    RecordKeys,
    SubjectKeySource,
    normalise,
)
from creditshare.domain.records import (
    CreditEventIn,
    InvalidRecord,
    borrower_of,
    check_rules,
    normalise_event,
    same_record,
)
from creditshare.domain.status import OPEN_STATUSES, ItemKind, ItemStatus, RecordStatus
from creditshare.write.outcomes import Outcome, resolve_duplicates, validation_outcome
from creditshare.write.seal import SEAL_VERSION, OnChainColumns, RowSeal, columns_of

MAX_RECORDS_PER_REQUEST = 1000

_OUTBOX = OutboxItem.metadata.tables[OutboxItem.__tablename__]
_INSERT = insert(_OUTBOX)


class SettleTimeout(CreditShareError):
    """Raised when outbox items are not all confirmed or failed within the time allowed."""


@dataclass
class _Known:
    """A record id already stored (or being stored by this request), with its record (None for an inquiry)."""

    id: int | None
    kind: str
    record_hash: bytes
    status: str
    record: CreditEventIn | None


@dataclass
class _Row:
    """A record ready to store: its outbox row, the record id of the original it corrects if that is stored by
    this same request, and the row it replaces if an earlier record under its id failed for good."""

    index: int
    values: dict[str, Any]
    corrects: str | None
    replaces: int | None = None


class Outbox:
    """Accepts records for one lender and reports their status."""

    def __init__(
        self, factory: sessionmaker[Session], cipher: RecordCipher, lender: str, keys: SubjectKeySource
    ) -> None:
        self._factory = factory
        self._seal = RowSeal(cipher, lender)
        self.lender = lender
        self._keys = keys

    def submit_events(self, raws: Sequence[Any], *, today: dt.date | None = None) -> list[Outcome]:
        """Validate every record, store the good ones in one transaction, and say what happened to each.

        The work per record (validation, HMAC keys, record hash, encryption) is done before the write
        transaction, which only inserts: the database's single writer is held as briefly as possible. A record id
        stored meanwhile by a concurrent request fails the unique constraint, and the request is planned again.
        (Rows are never deleted, so what the first read found stored stays true.)"""
        today = today or today_cst()
        parsed: list[tuple[int, CreditEventIn]] = []
        outcomes: dict[int, Outcome] = {}
        for index, raw in enumerate(raws):
            try:
                parsed.append((index, CreditEventIn.model_validate(raw)))
            except ValidationError as exc:
                outcomes[index] = validation_outcome(index, raw, exc)
        ids = {r.record_id for _, r in parsed} | {r.corrects for _, r in parsed if r.corrects}
        borrowers = {pair for _, record in parsed if (pair := borrower_of(record, today))}
        keys = self._keys.record_keys(borrowers, KeyPurpose.SUBMIT)  # one round trip to the holders at most
        for attempt in range(3):
            with self._factory() as session:
                known = self._known(session, ids)
            planned, rows = self._plan(parsed, known, today, keys)
            try:
                if rows:
                    with transaction(self._factory) as session:
                        planned.update(self._insert(session, rows))
            except IntegrityError:  # a concurrent request stored one of these record ids first: plan again
                if attempt == 2:
                    raise
                continue
            outcomes.update(resolve_duplicates(planned))
            break
        return [outcomes[i] for i in range(len(raws))]

    def _known(self, session: Session, ids: set[str]) -> dict[str, _Known]:
        """This lender's stored records among `ids`, each with its record opened from its seal (to tell a resent
        copy from a conflicting one)."""
        if not ids:
            return {}
        original = aliased(OutboxItem)
        rows = session.execute(
            select(OutboxItem, original.record_id)
            .outerjoin(original, OutboxItem.corrects_id == original.id)
            .where(OutboxItem.lender == self.lender, OutboxItem.record_id.in_(ids))
        )
        known = {}
        for item, corrects in rows:
            record = None
            if item.kind != ItemKind.INQUIRY:
                plaintext = self._seal.open(item.payload, columns_of(item, corrects), item.seal_version)
                record = CreditEventIn.model_validate_json(plaintext)
            known[item.record_id] = _Known(item.id, item.kind, item.record_hash, item.status, record)
        return known

    def _resent(self, index: int, record: CreditEventIn, prior: _Known, today: dt.date) -> Outcome:
        """The answer to a record id stored before: validated like any record, then `duplicate` if it is the same
        record, `record_id_conflict` if it is not."""
        try:
            check_rules(record, today)
            normalise(record.id_type, record.id_number, today=today)
        except InvalidRecord as exc:
            return Outcome(index, record.record_id, RecordStatus.REJECTED, None, exc.code, exc.message, exc.field)
        except InvalidIdentity as exc:
            field = "id_type" if exc.code == "invalid_id_type" else "id_number"
            return Outcome(index, record.record_id, RecordStatus.REJECTED, None, exc.code, str(exc), field)
        if prior.record is not None and same_record(prior.record, record):
            return Outcome(index, record.record_id, RecordStatus.DUPLICATE, event_id=prior.id)
        return Outcome(
            index, record.record_id, RecordStatus.REJECTED, code="record_id_conflict", field="record_id",
            message=f"record_id {record.record_id!r} was submitted before with other content; use a new record_id, "
            "or send a record with `corrects` to replace it",
        )  # fmt: skip

    def _plan(
        self, parsed: list[tuple[int, CreditEventIn]], known: dict[str, _Known], today: dt.date, keys: RecordKeys
    ) -> tuple[dict[int, Outcome], list[_Row]]:
        """Decide each record's fate against the stored ones (`known`, extended in request order) and build the
        rows to insert. Duplicates of records first seen in this request get their event id on insert."""
        outcomes: dict[int, Outcome] = {}
        rows: list[_Row] = []
        accepted_at = utcnow()
        for index, record in parsed:
            prior = known.get(record.record_id)
            if prior is not None and prior.status != ItemStatus.FAILED:
                outcomes[index] = self._resent(index, record, prior, today)
                continue
            original = known.get(record.corrects) if record.corrects else None
            if record.corrects and (original is None or original.kind == ItemKind.INQUIRY):
                outcomes[index] = Outcome(
                    index, record.record_id, RecordStatus.REJECTED, code="unknown_original",
                    message=f"corrects: no record {record.corrects!r} of this lender to correct", field="corrects",
                )  # fmt: skip
                continue
            try:
                event = normalise_event(
                    record,
                    lender=self.lender,
                    keys=keys,
                    corrects_hash=original.record_hash if original else None,
                    today=today,
                )
            except InvalidRecord as exc:
                outcomes[index] = Outcome(
                    index, record.record_id, RecordStatus.REJECTED, None, exc.code, exc.message, exc.field
                )
                continue
            kind = ItemKind.CORRECTION if original else ItemKind.EVENT
            columns = OnChainColumns(
                record_id=record.record_id,
                kind=kind,
                subject_key=event.subject_key,
                item_key=event.loan_key,
                record_hash=event.record_hash,
                data_word=event.data_word.to_bytes(32, "big"),
                corrects=record.corrects if original else None,
            )
            values = {
                "lender": self.lender,
                "kind": kind,
                "record_id": record.record_id,
                "subject_key": columns.subject_key,
                "item_key": columns.item_key,
                "record_hash": columns.record_hash,
                "data_word": columns.data_word,
                "corrects_id": original.id if original else None,
                "payload": self._seal.seal(record.model_dump_json().encode(), columns),
                "seal_version": SEAL_VERSION,
                "status": ItemStatus.PENDING,
                "accepted_at": accepted_at,
                "attempts": 0,
                "retryable": True,
            }
            replaces = prior.id if prior is not None else None  # an earlier record under this id failed for good
            if replaces is not None:
                values["attempts"] = 1
            rows.append(_Row(index, values, record.corrects if original and original.id is None else None, replaces))
            known[record.record_id] = _Known(replaces, kind, event.record_hash, ItemStatus.PENDING, record)
        return outcomes, rows

    def _insert(self, session: Session, rows: list[_Row]) -> dict[int, Outcome]:
        """Store the planned rows: a record replacing one that failed for good takes over its row (same event id);
        the others are inserted, a correction of a record stored by this same request in a later round, once its
        original has an id."""
        outcomes: dict[int, Outcome] = {}
        ids: dict[str, int] = {}
        for row in rows:
            if row.replaces is None:
                continue
            replaced = session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == row.replaces, OutboxItem.status == ItemStatus.FAILED)
                .values(**row.values, batch_id=None, batch_index=None, tx_hash=None, block_number=None,
                        log_index=None, error_code=None, error_message=None, confirmed_at=None)
            )  # fmt: skip
            if replaced.rowcount != 1:  # type: ignore[attr-defined]
                raise IntegrityError("resubmission", {}, Exception("the failed record changed meanwhile"))
            ids[row.values["record_id"]] = row.replaces
            outcomes[row.index] = Outcome(
                row.index, row.values["record_id"], RecordStatus.ACCEPTED, event_id=row.replaces
            )
        pending = [r for r in rows if r.replaces is None]
        while pending:
            ready = [row for row in pending if row.corrects is None or row.corrects in ids]
            assert ready, "a correction's original is planned before it"
            for row in ready:
                if row.corrects is not None:
                    row.values["corrects_id"] = ids[row.corrects]
            # RETURNING the record id rather than relying on row order lets SQLAlchemy send one multi-row
            # INSERT (with sort_by_parameter_order it inserts row by row on SQLite).
            statement = _INSERT.returning(_OUTBOX.c.record_id, _OUTBOX.c.id)
            inserted: dict[str, int] = {
                record_id: item_id for record_id, item_id in session.execute(statement, [r.values for r in ready])
            }
            for row in ready:
                record_id = row.values["record_id"]
                ids[record_id] = inserted[record_id]
                outcomes[row.index] = Outcome(row.index, record_id, RecordStatus.ACCEPTED, event_id=inserted[record_id])
            pending = [row for row in pending if row.values["record_id"] not in ids]
        return outcomes

    def queue_inquiry(
        self, session: Session, subject_key: bytes, purpose: int, consent_hash: bytes, inquiry_hash: bytes
    ) -> int:
        """Queue an on-chain inquiry record (same outbox and batching as events) in the caller's transaction;
        returns its event id.

        `inquiry_hash` is the audit entry's hash, which links the chain's inquiry to the gateway's audit log: a
        report queues it in the transaction that appends that entry, so there is never one without the other.
        """
        columns = OnChainColumns(
            record_id=f"inquiry-{inquiry_hash.hex()[:32]}",
            kind=ItemKind.INQUIRY,
            subject_key=subject_key,
            item_key=consent_hash,
            record_hash=inquiry_hash,
            data_word=pack_inquiry_data(purpose).to_bytes(32, "big"),
            corrects=None,
        )
        payload = json.dumps({"purpose": purpose, "consent_hash": consent_hash.hex()}).encode()
        item_id = session.execute(
            insert(OutboxItem).returning(OutboxItem.id),
            {
                "lender": self.lender,
                "kind": columns.kind,
                "record_id": columns.record_id,
                "subject_key": subject_key,
                "item_key": consent_hash,
                "record_hash": inquiry_hash,
                "data_word": columns.data_word,
                "corrects_id": None,
                "payload": self._seal.seal(payload, columns),
                "seal_version": SEAL_VERSION,
                "status": ItemStatus.PENDING,
                "accepted_at": utcnow(),
                "attempts": 0,
                "retryable": True,
            },
        ).scalar_one()
        return int(item_id)

    def get(self, event_id: int) -> OutboxItem | None:
        """One of this lender's items by id."""
        with self._factory() as session:
            item = session.get(OutboxItem, event_id)
            return item if item is not None and item.lender == self.lender else None

    def open_record(self, item: OutboxItem) -> dict[str, Any]:
        """Decrypt an item's full record (raises `DecryptionError` if the row was tampered with)."""
        corrects = self._record_id_of(item.corrects_id) if item.corrects_id is not None else None
        plaintext = self._seal.open(item.payload, columns_of(item, corrects), item.seal_version)
        return CreditEventIn.model_validate_json(plaintext).model_dump(mode="json")

    def _record_id_of(self, item_id: int) -> str | None:
        with self._factory() as session:
            return session.scalar(select(OutboxItem.record_id).where(OutboxItem.id == item_id))

    def counts(self) -> dict[str, int]:
        """Items per status."""
        with self._factory() as session:
            rows = session.execute(
                select(OutboxItem.status, func.count())
                .where(OutboxItem.lender == self.lender)
                .group_by(OutboxItem.status)
            )
            return {status: count for status, count in rows}

    def status_counts(self, event_ids: Sequence[int]) -> dict[str, int]:
        """How many of these items are in each status."""
        counts: dict[str, int] = {}
        with self._factory() as session:
            for chunk in in_chunks(event_ids):
                rows = session.execute(
                    select(OutboxItem.status, func.count())
                    .where(OutboxItem.lender == self.lender, OutboxItem.id.in_(chunk))
                    .group_by(OutboxItem.status)
                )
                for status, count in rows:
                    counts[status] = counts.get(status, 0) + count
        return counts

    def wait_settled(
        self,
        event_ids: Sequence[int],
        *,
        timeout: float,
        progress: Callable[[int], None] | None = None,
        interval: float = 0.25,
    ) -> dict[str, int]:
        """Wait until none of these items is pending or submitted (a submitter, in this process or another one
        sharing the database, works on them); returns the count per status. `progress` gets the number settled.
        Raises `SettleTimeout` after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            counts = self.status_counts(event_ids)
            if progress:
                progress(counts.get(ItemStatus.CONFIRMED, 0) + counts.get(ItemStatus.FAILED, 0))
            waiting = sum(counts.get(status, 0) for status in OPEN_STATUSES)
            if waiting == 0:
                return counts
            if time.monotonic() > deadline:
                raise SettleTimeout(
                    f"{waiting} records not on chain after {timeout:.0f}s (they stay in the outbox and go out while "
                    "the gateway runs); check the chain with `creditshare doctor`"
                )
            time.sleep(interval)

    def failures(self, event_ids: Sequence[int]) -> list[OutboxItem]:
        """The failed items among these, with their error code and message."""
        failed: list[OutboxItem] = []
        with self._factory() as session:
            for chunk in in_chunks(event_ids):
                failed += session.scalars(
                    select(OutboxItem).where(
                        OutboxItem.lender == self.lender,
                        OutboxItem.id.in_(chunk),
                        OutboxItem.status == ItemStatus.FAILED,
                    )
                )
        return failed
