"""Verification: does a disclosed full record match what its lender committed on chain?

The record is normalised exactly as its gateway did (so the subject and loan keys and the canonical encoding
are reproduced), its record hash recomputed, and the index asked whether that lender recorded that hash. Any
change to the record — an amount, a date, the borrower's id — changes the hash, so a tampered record does not
match.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from creditshare.core.db.tables import IndexCorrection, IndexDispute, IndexEvent
from creditshare.domain.identity import RecordKeys
from creditshare.domain.records import CreditEventIn, normalise_event
from creditshare.read.reports import lender_names


@dataclass(frozen=True)
class Verification:
    """The verdict on a disclosed record (the API's `VerifyResult` has the same fields)."""

    match: bool
    record_hash: str  # recomputed from the disclosed record
    lender: str
    lender_name: str | None = None
    block_number: int | None = None
    tx_hash: str | None = None
    log_index: int | None = None
    corrected_by: str | None = None  # record hash of a correction that replaced this record
    disputed: bool = False


def verify_record(
    session: Session,
    record: CreditEventIn,
    *,
    lender: str,
    keys: RecordKeys,
    corrects_hash: bytes | None = None,
) -> Verification:
    """Recompute the record hash and look it up in the index. Raises `InvalidRecord` for a malformed record."""
    lender = lender.lower()
    event = normalise_event(
        record, lender=lender, keys=keys, corrects_hash=corrects_hash, today=dt.date.max - dt.timedelta(days=1)
    )
    row = session.execute(  # a record hash used twice by its lender: the first record in chain order, everywhere
        select(IndexEvent)
        .where(IndexEvent.record_hash == event.record_hash, IndexEvent.lender == lender)
        .order_by(IndexEvent.block_number, IndexEvent.log_index)
        .limit(1)
    ).scalar_one_or_none()
    result = Verification(match=row is not None, record_hash="0x" + event.record_hash.hex(), lender=lender)
    if row is None:
        return result
    h = event.record_hash
    correction = _newest(
        session, IndexCorrection.record_hash, IndexCorrection.original_hash == h, IndexCorrection.lender == lender
    )
    last_dispute = _newest(session, IndexDispute.outcome, IndexDispute.record_hash == h, IndexDispute.lender == lender)
    return dataclasses.replace(
        result,
        lender_name=lender_names(session).get(lender),
        block_number=row.block_number,
        tx_hash="0x" + row.tx_hash.hex(),
        log_index=row.log_index,
        corrected_by="0x" + correction.hex() if correction else None,
        disputed=last_dispute == 0,
    )


def _newest(session: Session, column: Any, *conditions: Any) -> Any:
    """`column` of the newest row (in chain order) meeting `conditions`, or None."""
    table = column.class_
    return session.execute(
        select(column).where(*conditions).order_by(table.block_number.desc(), table.log_index.desc()).limit(1)
    ).scalar_one_or_none()
