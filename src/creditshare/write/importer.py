"""Bulk import of historic credit events from a CSV file, through the gateway's own validation and outbox.

The CSV has a header row naming submission fields (docs/data-dictionary.md); empty cells are absent fields.
Each row is validated exactly as `POST /v1/events` validates a record and stored in the same outbox, so the
gateway's submitter puts the good rows on chain; bad rows go to an error file (row, record id, code, field,
message). Record ids make a re-import idempotent: rows already stored come back as duplicates.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from creditshare.core.exceptions import CreditShareError
from creditshare.domain.records import CreditEventIn
from creditshare.domain.status import RecordStatus
from creditshare.write.outbox import MAX_RECORDS_PER_REQUEST, Outbox

COLUMNS = tuple(CreditEventIn.model_fields)
REQUIRED = tuple(name for name, info in CreditEventIn.model_fields.items() if info.is_required())
INTEGER_COLUMNS = frozenset({"principal_fen", "outstanding_fen", "overdue_fen", "days_past_due"})
ERROR_COLUMNS = ("row", "record_id", "code", "field", "message")
_INTEGER = re.compile(r"[+-]?\d+")


class ImportFileError(CreditShareError):
    """Raised when the file as a whole cannot be imported (missing, not CSV, wrong columns)."""


@dataclass
class ImportResult:
    """What an import did. `pending` maps each stored event id to its CSV row, to follow it on chain."""

    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    pending: dict[int, int] = field(default_factory=dict)


def _cell(column: str, value: str) -> Any:
    """Integer columns become ints (so the record's strict validation sees numbers, not text); a fractional or
    non-numeric amount is passed on as it is and rejected by that validation with its usual code."""
    if column not in INTEGER_COLUMNS:
        return value
    if _INTEGER.fullmatch(value):
        return int(value)
    try:
        return float(value)
    except ValueError:
        return value


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(row number as a spreadsheet shows it, record) per data row; the record is None for a malformed row."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise ImportFileError(f"{path} not found") from None
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames or []
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ImportFileError(f"{path} is not a UTF-8 CSV file: {exc}") from None
        unknown = [c for c in header if c not in COLUMNS]
        missing = [c for c in REQUIRED if c not in header]
        if unknown or missing:
            problem = f"unknown column {unknown[0]!r}" if unknown else f"missing column {missing[0]!r}"
            raise ImportFileError(f"{path}: {problem}; the header must name fields among {', '.join(COLUMNS)}")
        try:
            for row in reader:
                number = reader.line_num  # header is row 1
                if None in row or None in row.values():  # more or fewer cells than the header
                    yield number, None
                    continue
                yield number, {k: _cell(k, v.strip()) for k, v in row.items() if v.strip() != ""}
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ImportFileError(f"{path}: unreadable at row {reader.line_num + 1}: {exc}") from None


def import_csv(
    outbox: Outbox,
    path: Path,
    errors_path: Path,
    *,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Validate and store every row of `path` (in chunks as large as an API request); write rejected rows to
    `errors_path`. Returns counts and the stored event ids (new and duplicate) to wait for."""
    result = ImportResult()
    with errors_path.open("w", newline="", encoding="utf-8") as out:
        errors = csv.writer(out)
        errors.writerow(ERROR_COLUMNS)
        chunk: list[tuple[int, dict[str, Any]]] = []

        def flush() -> None:
            outcomes = outbox.submit_events([record for _, record in chunk])
            for (row, _), outcome in zip(chunk, outcomes, strict=True):
                if outcome.status == RecordStatus.REJECTED:
                    result.rejected += 1
                    errors.writerow((row, outcome.record_id or "", outcome.code, outcome.field or "", outcome.message))
                    continue
                result.accepted += outcome.status == RecordStatus.ACCEPTED
                result.duplicates += outcome.status == RecordStatus.DUPLICATE
                assert outcome.event_id is not None
                result.pending[outcome.event_id] = row
            if progress:
                progress(len(chunk))
            chunk.clear()

        for row, record in read_rows(path):
            result.rows += 1
            if record is None:
                result.rejected += 1
                errors.writerow((row, "", "invalid_row", "", "row has a different number of cells than the header"))
                if progress:
                    progress(1)
                continue
            chunk.append((row, record))
            if len(chunk) == MAX_RECORDS_PER_REQUEST:
                flush()
        if chunk:
            flush()
    return result


def append_failures(outbox: Outbox, result: ImportResult, errors_path: Path) -> int:
    """Add the rows whose records failed on chain to the error file; returns how many."""
    failed = outbox.failures(list(result.pending))
    with errors_path.open("a", newline="", encoding="utf-8") as out:
        errors = csv.writer(out)
        for item in sorted(failed, key=lambda i: result.pending[i.id]):
            errors.writerow((result.pending[item.id], item.record_id, item.error_code, "", item.error_message))
    return len(failed)
