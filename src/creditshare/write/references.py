"""This lender's own references for its borrowers and records: what an alert names so that the lender's people
know which customer it is about (the loan number of its latest record about them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from creditshare.core.db import in_chunks
from creditshare.core.db.tables import OutboxItem
from creditshare.domain.status import ItemKind
from creditshare.write.outbox import Outbox


class OwnReferences:
    """Loan numbers from the lender's outbox (its records, opened with its key)."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    def of_subjects(self, session: Session, subjects: set[bytes]) -> dict[bytes, str]:
        """The loan number of this lender's latest record about each of these subjects it recorded."""
        return self._latest(session, OutboxItem.subject_key, subjects)

    def of_records(self, session: Session, record_hashes: set[bytes]) -> dict[bytes, str]:
        """The loan number of each of these records of this lender."""
        return self._latest(session, OutboxItem.record_hash, record_hashes)

    def _latest(self, session: Session, column: Any, values: set[bytes]) -> dict[bytes, str]:
        latest: dict[bytes, OutboxItem] = {}
        for chunk in in_chunks(sorted(values)):
            for item in session.scalars(
                select(OutboxItem)
                .where(OutboxItem.lender == self._outbox.lender, OutboxItem.kind != ItemKind.INQUIRY, column.in_(chunk))
                .order_by(OutboxItem.id)
            ):
                latest[getattr(item, column.key)] = item
        return {value: self._loan_number(item) for value, item in latest.items()}

    def _loan_number(self, item: OutboxItem) -> str:
        try:
            return str(self._outbox.open_record(item)["loan_number"])
        except Exception:  # a row that no longer opens (tampered): its record id still names it
            return item.record_id
