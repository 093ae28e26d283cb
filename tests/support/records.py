"""The record factory of the tests: valid borrowers and records (`creditshare.devtools.samples`), plus the
builder of one record with fields overridden or dropped."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from creditshare.devtools.samples import loan_opened_records, numbered_resident_id, sample_resident_id

Record = dict[str, Any]
RecordFactory = Callable[..., Record]

#: A valid resident ID (GB 11643 check character X) used where any valid borrower will do.
VALID_RESIDENT_ID = "11010519491231002X"

__all__ = [
    "VALID_RESIDENT_ID",
    "Record",
    "RecordFactory",
    "build_record",
    "loan_opened_records",
    "numbered_resident_id",
    "sample_resident_id",
    "unique_id",
]


def unique_id(prefix: str = "R") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def build_record(**overrides: Any) -> Record:
    """A valid loan_opened record with a fresh record id; keyword arguments override or add fields (pass a field
    as `...` to drop it)."""
    record: Record = {
        "record_id": unique_id(),
        "event_type": "loan_opened",
        "id_type": "resident_id",
        "id_number": VALID_RESIDENT_ID,
        "loan_number": unique_id("L"),
        "occurred_on": "2025-03-01",
        "principal_fen": 5_000_000,
    }
    for name, value in overrides.items():
        if value is ...:
            record.pop(name, None)
        else:
            record[name] = value
    return record
