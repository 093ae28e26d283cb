"""The outbox: every accepted record is stored (encrypted) before the caller hears "accepted".

The submitter later takes pending items from here into signed batches; nothing is ever accepted that is not
durably stored, and a record id seen before is answered as a duplicate without storing anything new.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from creditshare.core.clock import today_cst, utcnow
from creditshare.core.crypto import RecordCipher
from creditshare.core.db import transaction
from creditshare.core.db.tables import OutboxItem
from creditshare.core.exceptions import CreditShareError
from creditshare.core.secrets import ConsortiumSecret
from creditshare.domain.codec import pack_inquiry_data
from creditshare.domain.records import CreditEventIn, InvalidRecord, normalise_event
from creditshare.domain.status import OPEN_STATUSES, ItemKind, ItemStatus, RecordStatus

MAX_RECORDS_PER_REQUEST = 1000

_OUTBOX = OutboxItem.metadata.tables[OutboxItem.__tablename__]
_INSERT = insert(_OUTBOX)

_PYDANTIC_CODES = {
    "missing": "missing_field",
    "extra_forbidden": "unknown_field",
    "enum": "invalid_event_type",
    "int_type": "invalid_type",
    "int_parsing": "invalid_type",
    "int_from_float": "invalid_amount",
    "string_type": "invalid_type",
    "greater_than_equal": "out_of_range",
    "less_than_equal": "out_of_range",
    "date_parsing": "invalid_date",
    "date_from_datetime_parsing": "invalid_date",
    "date_type": "invalid_date",
    "value_error": "invalid_field",
    "string_too_long": "too_long",
    "string_too_short": "invalid_field",
    "string_pattern_mismatch": "invalid_field",
    "model_type": "invalid_type",
}


class SettleTimeout(CreditShareError):
    """Raised when outbox items are not all confirmed or failed within the time allowed."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one submitted record."""

    index: int
    record_id: str | None
    status: RecordStatus
    event_id: int | None = None
    code: str | None = None
    message: str | None = None
    field: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "record_id": self.record_id,
            "status": self.status,
            "event_id": self.event_id,
            "code": self.code,
            "message": self.message,
            "field": self.field,
        }


def validation_outcome(index: int, raw: Any, exc: ValidationError) -> Outcome:
    """Turn the first pydantic error of a record into a machine-readable rejection."""
    first = exc.errors(include_url=False)[0]
    field = ".".join(str(p) for p in first["loc"]) or None
    code = _PYDANTIC_CODES.get(first["type"], "invalid_field")
    if code == "out_of_range" and field and field.endswith("_fen"):
        code = "invalid_amount"
    if code == "invalid_type" and field and field.endswith("_fen") and isinstance(first.get("input"), float):
        code = "invalid_amount"  # a fractional amount (strict ints report floats as a type error)
    if code == "invalid_field" and field == "occurred_on":
        code = "invalid_date"  # the YYYY-MM-DD shape check raises a plain value error
    record_id = raw.get("record_id") if isinstance(raw, dict) and isinstance(raw.get("record_id"), str) else None
    return Outcome(index, record_id, RecordStatus.REJECTED, code=code, message=f"{field}: {first['msg']}", field=field)


@dataclass
class _Known:
    """A record id already stored (or being stored by this request)."""

    id: int | None
    kind: str
    record_hash: bytes


@dataclass
class _Row:
    """A record ready to insert: its outbox row, and the record id of the original it corrects, if any."""

    index: int
    values: dict[str, Any]
    corrects: str | None


class Outbox:
    """Accepts records for one lender and reports their status."""

    def __init__(
        self, factory: sessionmaker[Session], cipher: RecordCipher, lender: str, secret: ConsortiumSecret
    ) -> None:
        self._factory = factory
        self._cipher = cipher
        self.lender = lender
        self._secret = secret

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
        for attempt in range(3):
            with self._factory() as session:
                known = self._known(session, ids)
            planned, rows = self._plan(parsed, known, today)
            try:
                if rows:
                    with transaction(self._factory) as session:
                        planned.update(self._insert(session, rows))
            except IntegrityError:  # a concurrent request stored one of these record ids first: plan again
                if attempt == 2:
                    raise
                continue
            outcomes.update(_resolve_duplicates(planned))
            break
        return [outcomes[i] for i in range(len(raws))]

    def _known(self, session: Session, ids: set[str]) -> dict[str, _Known]:
        """This lender's stored records among `ids`."""
        if not ids:
            return {}
        rows = session.execute(
            select(OutboxItem.id, OutboxItem.record_id, OutboxItem.kind, OutboxItem.record_hash).where(
                OutboxItem.lender == self.lender, OutboxItem.record_id.in_(ids)
            )
        )
        return {record_id: _Known(item_id, kind, record_hash) for item_id, record_id, kind, record_hash in rows}

    def _plan(
        self, parsed: list[tuple[int, CreditEventIn]], known: dict[str, _Known], today: dt.date
    ) -> tuple[dict[int, Outcome], list[_Row]]:
        """Decide each record's fate against the stored ones (`known`, extended in request order) and build the
        rows to insert. Duplicates of records first seen in this request get their event id on insert."""
        outcomes: dict[int, Outcome] = {}
        rows: list[_Row] = []
        accepted_at = utcnow()
        for index, record in parsed:
            if record.record_id in known:
                outcomes[index] = Outcome(
                    index, record.record_id, RecordStatus.DUPLICATE, event_id=known[record.record_id].id
                )
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
                    secret=self._secret,
                    corrects_hash=original.record_hash if original else None,
                    today=today,
                )
            except InvalidRecord as exc:
                outcomes[index] = Outcome(
                    index, record.record_id, RecordStatus.REJECTED, None, exc.code, exc.message, exc.field
                )
                continue
            kind = ItemKind.CORRECTION if original else ItemKind.EVENT
            values = {
                "lender": self.lender,
                "kind": kind,
                "record_id": record.record_id,
                "subject_key": event.subject_key,
                "item_key": event.loan_key,
                "record_hash": event.record_hash,
                "data_word": event.data_word.to_bytes(32, "big"),
                "corrects_id": original.id if original else None,
                "payload": self._cipher.seal(record.model_dump_json().encode(), self._aad(record.record_id)),
                "status": ItemStatus.PENDING,
                "accepted_at": accepted_at,
                "attempts": 0,
                "retryable": True,
            }
            rows.append(_Row(index, values, record.corrects if original and original.id is None else None))
            known[record.record_id] = _Known(None, kind, event.record_hash)
        return outcomes, rows

    def _insert(self, session: Session, rows: list[_Row]) -> dict[int, Outcome]:
        """Insert the planned rows; a correction of a record stored by this same request goes in a later round,
        once its original has an id."""
        outcomes: dict[int, Outcome] = {}
        ids: dict[str, int] = {}
        pending = rows
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

    def submit_inquiry(self, subject_key: bytes, purpose: int, consent_hash: bytes, inquiry_hash: bytes) -> int:
        """Queue an on-chain inquiry record (same outbox and batching as events); returns its event id.

        `inquiry_hash` is the audit entry's hash, which links the chain's inquiry to the gateway's audit log.
        """
        with transaction(self._factory) as session:
            record_id = f"inquiry-{inquiry_hash.hex()[:32]}"
            item_id = session.execute(
                insert(OutboxItem).returning(OutboxItem.id),
                {
                    "lender": self.lender,
                    "kind": ItemKind.INQUIRY,
                    "record_id": record_id,
                    "subject_key": subject_key,
                    "item_key": consent_hash,
                    "record_hash": inquiry_hash,
                    "data_word": pack_inquiry_data(purpose).to_bytes(32, "big"),
                    "corrects_id": None,
                    "payload": self._cipher.seal(
                        json.dumps({"purpose": purpose, "consent_hash": consent_hash.hex()}).encode(),
                        self._aad(record_id),
                    ),
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
        """Decrypt an item's full record."""
        return CreditEventIn.model_validate_json(self._cipher.open(item.payload, self._aad(item.record_id))).model_dump(
            mode="json"
        )

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
            for chunk in _id_chunks(event_ids):
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
            for chunk in _id_chunks(event_ids):
                failed += session.scalars(
                    select(OutboxItem).where(
                        OutboxItem.lender == self.lender,
                        OutboxItem.id.in_(chunk),
                        OutboxItem.status == ItemStatus.FAILED,
                    )
                )
        return failed

    def _aad(self, record_id: str) -> bytes:
        return f"{self.lender.lower()}:{record_id}".encode()


def _resolve_duplicates(outcomes: dict[int, Outcome]) -> dict[int, Outcome]:
    """Give duplicates of records first seen in the same request the event id those records were stored as."""
    stored = {o.record_id: o.event_id for o in outcomes.values() if o.status == RecordStatus.ACCEPTED}
    return {
        index: Outcome(index, o.record_id, RecordStatus.DUPLICATE, event_id=stored[o.record_id])
        if o.status == RecordStatus.DUPLICATE and o.event_id is None
        else o
        for index, o in outcomes.items()
    }


def _id_chunks(ids: Sequence[int], size: int = 500) -> Iterator[Sequence[int]]:
    """`ids` in slices small enough for one IN list (SQLite caps the bound parameters of a statement)."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
