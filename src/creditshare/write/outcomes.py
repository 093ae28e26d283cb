"""What happened to each submitted record: accepted, duplicate or rejected with a machine-readable code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from creditshare.domain.json_input import OversizeNumber
from creditshare.domain.status import RecordStatus

PYDANTIC_CODES = {
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
    code = PYDANTIC_CODES.get(first["type"], "invalid_field")
    message = f"{field}: {first['msg']}"
    if first["type"] == "int_type" and isinstance(first.get("input"), OversizeNumber):
        # A number too large to read (`domain.json_input`) where a number is expected: out of range, like 10**30.
        code, message = "out_of_range", f"{field}: number out of range"
    if code == "out_of_range" and field and field.endswith("_fen"):
        code = "invalid_amount"
    if code == "invalid_type" and field and field.endswith("_fen") and isinstance(first.get("input"), float):
        code = "invalid_amount"  # a fractional amount (strict ints report floats as a type error)
    if code == "invalid_field" and field == "occurred_on":
        code = "invalid_date"  # the YYYY-MM-DD shape check raises a plain value error
    record_id = raw.get("record_id") if isinstance(raw, dict) and isinstance(raw.get("record_id"), str) else None
    return Outcome(index, record_id, RecordStatus.REJECTED, code=code, message=message, field=field)


def resolve_duplicates(outcomes: dict[int, Outcome]) -> dict[int, Outcome]:
    """Give duplicates of records first seen in the same request the event id those records were stored as."""
    stored = {o.record_id: o.event_id for o in outcomes.values() if o.status == RecordStatus.ACCEPTED}
    return {
        index: Outcome(index, o.record_id, RecordStatus.DUPLICATE, event_id=stored[o.record_id])
        if o.status == RecordStatus.DUPLICATE and o.event_id is None
        else o
        for index, o in outcomes.items()
    }
