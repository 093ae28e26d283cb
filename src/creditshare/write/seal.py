"""Sealing outbox rows: every column that goes on chain is bound into the AEAD's associated data.

The submitter signs what it reads from the outbox. The full record is sealed (AES-256-GCM under the record key),
but the columns the batch is built from — subject key, loan key or consent hash, record hash, data word — are in
clear, so whoever can write to the database could otherwise have the gateway sign credit data about anyone.
Binding those columns (and the row's lender, record id, kind and the record id it corrects) into the associated
data makes any edit detectable: the row no longer opens. The submitter opens every row before it signs it.

Version 1 rows (from before this) bound only lender and record id; `Outbox.reseal_legacy` checks and re-seals
them once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from creditshare.core.crypto import RecordCipher

#: The seal version new rows get.
SEAL_VERSION = 2
_DOMAIN = b"creditshare/outbox/v2\x00"


@dataclass(frozen=True)
class OnChainColumns:
    """The columns of an outbox row that the submitter puts on chain, and those that say what the row is."""

    record_id: str
    kind: str
    subject_key: bytes
    item_key: bytes
    record_hash: bytes
    data_word: bytes
    corrects: str | None  # the record id of the original, for a correction


def columns_of(row: Any, corrects: str | None) -> OnChainColumns:
    """The bound columns of an outbox row (anything with the outbox's column attributes); `corrects` is the record
    id of the row `corrects_id` points at."""
    return OnChainColumns(
        record_id=row.record_id,
        kind=row.kind,
        subject_key=row.subject_key,
        item_key=row.item_key,
        record_hash=row.record_hash,
        data_word=row.data_word,
        corrects=corrects,
    )


def _field(value: bytes) -> bytes:
    return len(value).to_bytes(2, "big") + value


class RowSeal:
    """Seals and opens the payloads of one lender's outbox rows."""

    def __init__(self, cipher: RecordCipher, lender: str) -> None:
        self._cipher = cipher
        self._lender = lender.lower().encode()

    def associated_data(self, columns: OnChainColumns) -> bytes:
        """Every field length-prefixed, after a domain tag: no two rows share associated data."""
        parts = (
            self._lender,
            columns.record_id.encode(),
            str(columns.kind).encode(),
            columns.subject_key,
            columns.item_key,
            columns.record_hash,
            columns.data_word,
            (columns.corrects or "").encode(),
        )
        return _DOMAIN + b"".join(_field(bytes(part)) for part in parts)

    def legacy_associated_data(self, record_id: str) -> bytes:
        """What version 1 bound: lender and record id only."""
        return self._lender + b":" + record_id.encode()

    def seal(self, plaintext: bytes, columns: OnChainColumns) -> bytes:
        return self._cipher.seal(plaintext, self.associated_data(columns))

    def open(self, payload: bytes, columns: OnChainColumns, version: int = SEAL_VERSION) -> bytes:
        """The plaintext; raises `DecryptionError` when the payload or any bound column was changed."""
        aad = (
            self.associated_data(columns) if version >= SEAL_VERSION else self.legacy_associated_data(columns.record_id)
        )
        return self._cipher.open(payload, aad)

    def intact(self, payload: bytes, columns: OnChainColumns) -> bool:
        """Whether a version-2 row opens with its columns as they are."""
        try:
            self.open(payload, columns)
        except Exception:  # DecryptionError, or a payload too short to be one
            return False
        return True
