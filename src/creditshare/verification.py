"""Verification: does a disclosed full record match what its lender committed on chain?

The record is normalised exactly as its gateway did (so the subject and loan keys and the canonical encoding
are reproduced), its record hash recomputed, and the index asked whether that lender recorded that hash. Any
change to the record — an amount, a date, the borrower's id — changes the hash, so a tampered record does not
match.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from creditshare.db import IndexCorrection, IndexDispute, IndexEvent
from creditshare.identity import ConsortiumSecret
from creditshare.records import CreditEventIn, normalise_event
from creditshare.report import lender_names


class VerifyResult(BaseModel):
    match: bool
    record_hash: str = Field(description="The record hash recomputed from the disclosed record")
    lender: str
    lender_name: str | None = None
    block_number: int | None = None
    tx_hash: str | None = None
    log_index: int | None = None
    corrected_by: str | None = Field(default=None, description="Record hash of a correction that replaced this record")
    disputed: bool = False


def verify_record(
    session: Session,
    record: CreditEventIn,
    *,
    lender: str,
    secret: ConsortiumSecret,
    corrects_hash: bytes | None = None,
) -> VerifyResult:
    """Recompute the record hash and look it up in the index. Raises `InvalidRecord` for a malformed record."""
    lender = lender.lower()
    event = normalise_event(
        record, lender=lender, secret=secret, corrects_hash=corrects_hash, today=dt.date.max - dt.timedelta(days=1)
    )
    row = session.execute(
        select(IndexEvent).where(IndexEvent.record_hash == event.record_hash, IndexEvent.lender == lender).limit(1)
    ).scalar_one_or_none()
    result = VerifyResult(match=row is not None, record_hash="0x" + event.record_hash.hex(), lender=lender)
    if row is None:
        return result
    correction = session.execute(
        select(IndexCorrection.record_hash)
        .where(IndexCorrection.original_hash == event.record_hash, IndexCorrection.lender == lender)
        .order_by(IndexCorrection.block_number.desc(), IndexCorrection.log_index.desc())
        .limit(1)
    ).scalar_one_or_none()
    last_dispute = session.execute(
        select(IndexDispute.outcome)
        .where(IndexDispute.record_hash == event.record_hash, IndexDispute.lender == lender)
        .order_by(IndexDispute.block_number.desc(), IndexDispute.log_index.desc())
        .limit(1)
    ).scalar_one_or_none()
    return result.model_copy(
        update={
            "lender_name": lender_names(session).get(lender),
            "block_number": row.block_number,
            "tx_hash": "0x" + row.tx_hash.hex(),
            "log_index": row.log_index,
            "corrected_by": "0x" + correction.hex() if correction else None,
            "disputed": last_dispute == 0,
        }
    )
