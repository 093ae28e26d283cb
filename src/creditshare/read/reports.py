"""Reading one subject's facts from the index and folding them into a report (`domain.report.fold`).

A report costs four indexed reads however long the chain grows: the subject's events and inquiries, and the
corrections and disputes of those events' records.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from creditshare.core.db import driver_rows
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
from creditshare.domain.report.details import ReportDetails, details


def _columns(model: Any, fact: type[tuple[Any, ...]]) -> list[Any]:
    """The model's columns named as the fact's fields (`block` is the `block_number` column)."""
    return [getattr(model, "block_number" if name == "block" else name).label(name) for name in fact._fields]  # type: ignore[attr-defined]


#: Where each kind of fact is read from (every table holds the subject key of its rows).
_FACT_TABLES: tuple[tuple[Any, type[tuple[Any, ...]]], ...] = (
    (IndexEvent, EventFact),
    (IndexCorrection, CorrectionFact),
    (IndexDispute, DisputeFact),
    (IndexInquiry, InquiryFact),
)


def load_facts(session: Session, subject_key: bytes, as_of_block: int) -> SubjectFacts:
    """The subject's facts from the index: four indexed reads of plain columns, through the Core connection. A
    hostile member can put tens of thousands of rows on one borrower, so each row goes from the driver straight
    into its fact (a named tuple of the same columns, in the same order), without ORM objects or SQLAlchemy rows
    in between. Corrections and disputes
    carry their record's subject key (filled when they were indexed), so each kind is one read by subject."""
    conn = session.connection()
    facts = [
        driver_rows(
            conn,
            select(*_columns(model, fact)).where(model.subject_key == subject_key, model.block_number <= as_of_block),
        )
        for model, fact in _FACT_TABLES
    ]
    events, corrections, disputes, inquiries = facts
    return SubjectFacts(
        tuple(map(EventFact._make, events)),
        tuple(map(CorrectionFact._make, corrections)),
        tuple(map(DisputeFact._make, disputes)),
        tuple(map(InquiryFact._make, inquiries)),
    )


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


def report_details(session: Session, report: CreditReport, policy: Policy) -> ReportDetails:
    """What a person reading `report` needs beside it (`domain.report.details`), from the same facts: a second
    read of the subject's rows, paid only by the console's human-paced requests."""
    as_of = report.as_of.block_number
    facts = load_facts(session, bytes.fromhex(report.subject_key.removeprefix("0x")), as_of)
    return details(facts, report, lender_names(session, as_of), policy)
