"""Credit-event records as lenders submit them: validation, normalisation and the canonical record hash.

A record is validated completely before anything is stored: its event type, the fields that type requires,
integer fen amounts within range, dates not in the future, and the borrower's ID (see `identity`). The record
hash committed on chain is SHA-256 over a documented canonical encoding (docs/data-dictionary.md), so any
member or auditor given the full record can recompute it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from creditshare.core.clock import today_cst
from creditshare.core.exceptions import CreditShareError
from creditshare.domain import codec
from creditshare.domain.identity import IdPair, IdType, InvalidIdentity, RecordKeys, normalise

MAX_FEN, MAX_DAYS_PAST_DUE, EARLIEST_DATE = codec.MAX_FEN, codec.MAX_DAYS_PAST_DUE, codec.EARLIEST_DATE
RECORD_HASH_DOMAIN = b"creditshare/record/v1\x00"
#: The canonical JSON settings, built once (json.dumps with options builds an encoder on every call).
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class InvalidRecord(CreditShareError):
    """Raised when a record fails validation; `code` is machine-readable and `field` names the culprit."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class EventType(StrEnum):
    """Credit event types a lender can submit (mirrors `codec.ItemType`)."""

    LOAN_OPENED = "loan_opened"
    REPAYMENT = "repayment"
    OVERDUE = "overdue"
    DEFAULT = "default"
    SETTLED = "settled"
    WRITTEN_OFF = "written_off"

    @property
    def item_type(self) -> codec.ItemType:
        return codec.ItemType[self.name]


#: JSON Schema of `id_type` and `id_number` as published (`CreditEventIn`, and the report request).
ID_TYPE_SCHEMA: dict[str, Any] = {"enum": [t.value for t in IdType]}
ID_SCHEMA: dict[str, Any] = {"minLength": 1}

Fen = Annotated[StrictInt, Field(ge=0, le=MAX_FEN)]
ShortText = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/\-]*$")]


class CreditEventIn(BaseModel):
    """One credit event as a lender's loan system submits it (JSON body or CSV row)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    record_id: ShortText = Field(description="The lender's own unique id for this record.")
    event_type: EventType
    # The published schema names the id types and a non-empty ID; validation itself is `identity.normalise`, which
    # answers `invalid_id_type` / `invalid_id` (not a generic pydantic error) for anything else.
    id_type: str = Field(max_length=32, description="resident_id | uscc | other", json_schema_extra=ID_TYPE_SCHEMA)
    id_number: str = Field(
        max_length=64, description="The borrower's ID number (never leaves the gateway).", json_schema_extra=ID_SCHEMA
    )
    loan_number: ShortText = Field(description="The lender's loan number; hashed into the loan key.")
    occurred_on: dt.date = Field(description="Date the event happened (YYYY-MM-DD, China Standard Time).")
    principal_fen: Fen | None = Field(None, description="loan_opened: principal in fen (required, > 0).")
    outstanding_fen: Fen | None = Field(None, description="Outstanding balance in fen after the event.")
    overdue_fen: Fen = Field(0, description="Amount overdue in fen (overdue: required, > 0).")
    days_past_due: Annotated[StrictInt, Field(ge=0, le=MAX_DAYS_PAST_DUE)] = 0
    corrects: ShortText | None = Field(None, description="record_id of this lender's record that this replaces.")

    @field_validator("occurred_on", mode="before")
    @classmethod
    def _strict_date(cls, value: Any) -> Any:
        if isinstance(value, str) and len(value) != 10:
            raise ValueError("date must be YYYY-MM-DD")
        if not isinstance(value, str | dt.date):
            raise ValueError("date must be a YYYY-MM-DD string")
        return value


@dataclass(frozen=True)
class NormalisedEvent:
    """A validated record with its derived keys, ready for the outbox. Holds no ID number in clear."""

    record_id: str
    event_type: EventType
    subject_key: bytes
    loan_key: bytes
    occurred_on: dt.date
    amount_fen: int
    overdue_fen: int
    days_past_due: int
    corrects: str | None
    record_hash: bytes
    data_word: int
    canonical: bytes


def check_rules(record: CreditEventIn, today: dt.date) -> int:
    """Apply the per-type rules; returns the on-chain amount (principal or outstanding). Raises `InvalidRecord`."""
    if record.occurred_on > today:
        raise InvalidRecord("future_date", f"occurred_on {record.occurred_on} is in the future", "occurred_on")
    if record.occurred_on < EARLIEST_DATE:
        raise InvalidRecord("date_out_of_range", f"occurred_on must be on or after {EARLIEST_DATE}", "occurred_on")
    kind = record.event_type
    if kind is EventType.LOAN_OPENED:
        if not record.principal_fen:
            raise InvalidRecord("missing_field", "loan_opened needs principal_fen > 0", "principal_fen")
        if record.outstanding_fen is not None:
            raise InvalidRecord(
                "unexpected_field", "loan_opened takes principal_fen, not outstanding_fen", "outstanding_fen"
            )
        if record.overdue_fen or record.days_past_due:
            raise InvalidRecord("unexpected_field", "a new loan cannot be overdue", "overdue_fen")
        return record.principal_fen
    if record.principal_fen is not None:
        raise InvalidRecord(
            "unexpected_field", f"{kind.value} takes outstanding_fen, not principal_fen", "principal_fen"
        )
    if kind is EventType.SETTLED:
        if record.outstanding_fen not in (None, 0) or record.overdue_fen or record.days_past_due:
            raise InvalidRecord(
                "invalid_amount", "a settled loan has nothing outstanding or overdue", "outstanding_fen"
            )
        return 0
    if record.outstanding_fen is None:
        raise InvalidRecord("missing_field", f"{kind.value} needs outstanding_fen", "outstanding_fen")
    if record.overdue_fen > record.outstanding_fen and kind is not EventType.WRITTEN_OFF:
        raise InvalidRecord("invalid_amount", "overdue_fen cannot exceed outstanding_fen", "overdue_fen")
    if kind is EventType.OVERDUE:
        if record.overdue_fen == 0:
            raise InvalidRecord("missing_field", "overdue needs overdue_fen > 0", "overdue_fen")
        if record.days_past_due == 0:
            raise InvalidRecord("missing_field", "overdue needs days_past_due >= 1", "days_past_due")
    return record.outstanding_fen


def canonical_record(
    lender: str, record: CreditEventIn, subject: bytes, loan: bytes, amount_fen: int, corrects_hash: bytes | None
) -> bytes:
    """The canonical encoding: UTF-8 JSON, keys sorted, no whitespace, integers only, hex keys lowercase."""
    body = {
        "v": 1,
        "lender": lender.lower(),
        "record_id": record.record_id,
        "event_type": record.event_type.value,
        "subject_key": subject.hex(),
        "loan_key": loan.hex(),
        "occurred_on": record.occurred_on.isoformat(),
        "amount_fen": amount_fen,
        "overdue_fen": record.overdue_fen,
        "days_past_due": record.days_past_due,
        "corrects": corrects_hash.hex() if corrects_hash else None,
    }
    return _CANONICAL_JSON.encode(body).encode()


def record_hash(canonical: bytes) -> bytes:
    """SHA-256 over a domain tag and the canonical encoding."""
    return hashlib.sha256(RECORD_HASH_DOMAIN + canonical).digest()


def same_record(a: CreditEventIn, b: CreditEventIn) -> bool:
    """Whether two submissions are the same record (the ID compared in its normal form)."""
    if a.model_dump(exclude={"id_number"}) != b.model_dump(exclude={"id_number"}):
        return False
    try:
        return normalise(a.id_type, a.id_number) == normalise(b.id_type, b.id_number)
    except InvalidIdentity:
        return a.id_number == b.id_number


def borrower_of(record: CreditEventIn, today: dt.date | None = None) -> IdPair | None:
    """The record's borrower as (id type, normalised id), or None when its id is malformed (the record is then
    rejected wherever it goes)."""
    try:
        return IdType(record.id_type).value, normalise(record.id_type, record.id_number, today=today)
    except (InvalidIdentity, ValueError):
        return None


def normalise_event(
    record: CreditEventIn,
    *,
    lender: str,
    keys: RecordKeys,
    corrects_hash: bytes | None = None,
    today: dt.date | None = None,
) -> NormalisedEvent:
    """Validate a parsed record and derive everything the outbox and the chain need. Raises `InvalidRecord`."""
    today = today or today_cst()
    amount = check_rules(record, today)
    try:
        normal_id = normalise(record.id_type, record.id_number, today=today)
    except InvalidIdentity as exc:
        raise InvalidRecord(exc.code, str(exc), "id_type" if exc.code == "invalid_id_type" else "id_number") from None
    subject, loan = keys.keys(record.id_type, normal_id, lender, record.loan_number)
    canonical = canonical_record(lender, record, subject, loan, amount, corrects_hash)
    return NormalisedEvent(
        record_id=record.record_id,
        event_type=record.event_type,
        subject_key=subject,
        loan_key=loan,
        occurred_on=record.occurred_on,
        amount_fen=amount,
        overdue_fen=record.overdue_fen,
        days_past_due=record.days_past_due,
        corrects=record.corrects,
        record_hash=record_hash(canonical),
        data_word=codec.pack_event_data(
            record.event_type.item_type, record.occurred_on, amount, record.overdue_fen, record.days_past_due
        ),
        canonical=canonical,
    )
