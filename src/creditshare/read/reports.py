"""Reading one subject's facts from the index and folding them into a report (`domain.report.fold`).

A report costs four indexed reads however long the chain grows: the subject's events and inquiries, and the
corrections and disputes of those events' records.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from creditshare.core.db.tables import (
    IndexBlock,
    IndexCorrection,
    IndexDispute,
    IndexEvent,
    IndexInquiry,
    IndexMemberEvent,
)
from creditshare.domain.report import (
    CorrectionFact,
    CreditReport,
    DisputeFact,
    EventFact,
    InquiryFact,
    Policy,
    SubjectFacts,
    fold,
)


def load_facts(session: Session, subject_key: bytes, as_of_block: int) -> SubjectFacts:
    """The subject's facts from the index (four indexed reads)."""
    events = tuple(
        EventFact(
            r.block_number,
            r.log_index,
            r.tx_hash,
            r.lender,
            r.record_hash,
            r.loan_key,
            r.item_type,
            r.occurred_day,
            r.amount_fen,
            r.overdue_fen,
            r.days_past_due,
        )
        for r in session.execute(
            select(IndexEvent).where(IndexEvent.subject_key == subject_key, IndexEvent.block_number <= as_of_block)
        ).scalars()
    )
    hashes = [e.record_hash for e in events]
    corrections: tuple[CorrectionFact, ...] = ()
    disputes: tuple[DisputeFact, ...] = ()
    if hashes:
        corrections = tuple(
            CorrectionFact(r.block_number, r.log_index, r.tx_hash, r.lender, r.original_hash, r.record_hash)
            for r in session.execute(
                select(IndexCorrection).where(
                    IndexCorrection.original_hash.in_(hashes), IndexCorrection.block_number <= as_of_block
                )
            ).scalars()
        )
        disputes = tuple(
            DisputeFact(r.block_number, r.log_index, r.tx_hash, r.lender, r.record_hash, r.outcome, r.block_time)
            for r in session.execute(
                select(IndexDispute).where(
                    IndexDispute.record_hash.in_(hashes), IndexDispute.block_number <= as_of_block
                )
            ).scalars()
        )
    inquiries = tuple(
        InquiryFact(r.block_number, r.log_index, r.tx_hash, r.lender, r.purpose, r.block_time)
        for r in session.execute(
            select(IndexInquiry).where(
                IndexInquiry.subject_key == subject_key, IndexInquiry.block_number <= as_of_block
            )
        ).scalars()
    )
    return SubjectFacts(events, corrections, disputes, inquiries)


def lender_names(session: Session, as_of_block: int | None = None) -> dict[str, str]:
    """Display name of every member ever admitted (suspended and removed members keep theirs)."""
    query = select(IndexMemberEvent.address, IndexMemberEvent.name).where(IndexMemberEvent.name.is_not(None))
    if as_of_block is not None:
        query = query.where(IndexMemberEvent.block_number <= as_of_block)
    return {address: name for address, name in session.execute(query) if name}


def block_time(session: Session, block: int) -> int | None:
    row = session.get(IndexBlock, block)
    return None if row is None else int(row.timestamp)


def build_report(
    session: Session, subject_key: bytes, *, as_of_block: int, as_of_time: int, policy: Policy
) -> CreditReport:
    """Read the subject's facts from the index and fold them."""
    facts = load_facts(session, subject_key, as_of_block)
    names = lender_names(session, as_of_block)
    return fold(subject_key, facts, as_of_block=as_of_block, as_of_time=as_of_time, lender_names=names, policy=policy)
