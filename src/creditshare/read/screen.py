"""Checks of decoded logs against the index itself, in log order: what a log claims must agree with what the
index already holds.

A credit event or inquiry must come from an active lender; a correction must replace a record its lender holds
in the index; a dispute must be about a record in the index, be opened by an active lender or governor and be
resolved by the recording lender or a governor, as corrected by a correction of that record the index holds or as
upheld with a known reason code. The ledger enforces what it can when it accepts a transaction — the index checks
again, because no gateway trusts another member's logs (nor its own node) further than it can verify. What fails
is quarantined with its reason instead of stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from creditshare.chain.governance import MemberStatus, Role
from creditshare.core.db.tables import IndexCorrection, IndexEvent, IndexMemberEvent
from creditshare.domain.disputes import Outcome, UpheldReason
from creditshare.read.decode import IndexRows, Item, Row, quarantine_row


@dataclass
class MemberBook:
    """Every member's role and status, as of the log being checked (folded from the registry's logs)."""

    roles: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, address: str | None = None) -> MemberBook:
        """The book as of the index's last stored log (of one member only, if `address` is given)."""
        book = cls()
        query = select(IndexMemberEvent.address, IndexMemberEvent.role, IndexMemberEvent.status).order_by(
            IndexMemberEvent.block_number, IndexMemberEvent.log_index
        )
        if address is not None:
            query = query.where(IndexMemberEvent.address == address.lower())
        rows = session.execute(query)
        for address, role, status in rows:
            book.apply({"address": address, "role": role, "status": status})
        return book

    def apply(self, row: Row) -> None:
        if row["role"] is not None:
            self.roles[row["address"]] = row["role"]
        if row["status"] is not None:
            self.statuses[row["address"]] = row["status"]

    def active(self, address: str, role: Role) -> bool:
        return self.roles.get(address) == role and self.statuses.get(address) == MemberStatus.ACTIVE


@dataclass
class _Screen:
    session: Session
    book: MemberBook
    #: (lender, record hash) → subject key of the first credit event with them accepted in this range
    records: dict[tuple[str, bytes], bytes] = field(default_factory=dict)
    #: (lender, original hash, correction's record hash) of the corrections accepted in this range
    corrections: set[tuple[str, bytes, bytes]] = field(default_factory=set)

    def subject_of(self, lender: str, record_hash: bytes) -> bytes | None:
        """The subject of the lender's first record (in chain order) with this hash, in the index or else in this
        range; None if there is none. A lender may record one hash twice, about two subjects: taking the first in
        chain order, whatever the ranges the follower read, keeps every index of one chain filing a correction or
        dispute under the same subject (and so giving the same reports)."""
        stored = self.session.scalar(
            select(IndexEvent.subject_key)
            .where(IndexEvent.record_hash == record_hash, IndexEvent.lender == lender)
            .order_by(IndexEvent.block_number, IndexEvent.log_index)
            .limit(1)
        )
        return stored if stored is not None else self.records.get((lender, record_hash))

    def problem(self, item: Item) -> tuple[str, str] | None:
        """Why the index cannot accept this log, or None."""
        row = item.row
        if item.table in ("events", "inquiries", "corrections") and not self.book.active(row["lender"], Role.LENDER):
            return "not_a_lender", f"{row['lender']} is not an active lender"
        if item.table == "corrections":
            row["subject_key"] = self.subject_of(row["lender"], row["original_hash"])
            if row["subject_key"] is None:
                return "unknown_original", "the corrected record is not in the index"
        if item.table == "disputes":
            row["subject_key"] = self.subject_of(row["lender"], row["record_hash"])
            if row["subject_key"] is None:
                return "unknown_record", "the disputed record is not in the index"
            return self.dispute_problem(row)
        return None

    def dispute_problem(self, row: Row) -> tuple[str, str] | None:
        """Why a dispute log (of a record the index holds) cannot be accepted, or None."""
        if row["outcome"] == 0:
            if not may_open_dispute(self.book, row["actor"]):
                return "not_a_dispute_party", f"{row['actor']} is neither an active lender nor a governor"
            return None
        if not may_dispute(self.book, row["actor"], row["lender"]):
            return "not_a_dispute_party", f"{row['actor']} may not resolve disputes of {row['lender']}"
        if row["outcome"] == Outcome.CORRECTED and not self.corrected(row["lender"], row["record_hash"], row["detail"]):
            return "unknown_correction", "the dispute names no correction of its record that the index holds"
        if row["outcome"] == Outcome.UPHELD and int.from_bytes(row["detail"], "big") not in set(UpheldReason):
            return "invalid_dispute", f"unknown reason code {int.from_bytes(row['detail'], 'big')}"
        return None

    def corrected(self, lender: str, original: bytes, correction: bytes) -> bool:
        """Whether `correction` replaced `lender`'s record `original`, in the index or in this range."""
        if (lender, original, correction) in self.corrections:
            return True
        found = self.session.scalar(
            select(IndexCorrection.id).where(
                IndexCorrection.original_hash == original,
                IndexCorrection.record_hash == correction,
                IndexCorrection.lender == lender,
            )
        )
        return found is not None

    def accept(self, item: Item) -> None:
        if item.table == "members":
            self.book.apply(item.row)
        elif item.table == "events":
            self.records.setdefault((item.row["lender"], item.row["record_hash"]), item.row["subject_key"])
        elif item.table == "corrections":
            self.corrections.add((item.row["lender"], item.row["original_hash"], item.row["record_hash"]))


def may_open_dispute(book: MemberBook, actor: str) -> bool:
    """Any active lender (on a borrower's behalf) or active governor opens a dispute on any lender's record."""
    return book.active(actor, Role.LENDER) or book.active(actor, Role.GOVERNOR)


def may_dispute(book: MemberBook, actor: str, lender: str) -> bool:
    """The recording lender (while an active lender) or an active governor resolves disputes."""
    return (actor == lender and book.active(lender, Role.LENDER)) or book.active(actor, Role.GOVERNOR)


def screen(session: Session, rows: IndexRows) -> IndexRows:
    """The decoded rows the index accepts, in log order, and the quarantine grown by those it does not."""
    check = _Screen(session, MemberBook.load(session))
    kept = IndexRows(quarantine=list(rows.quarantine))
    for item in rows.items:
        problem = check.problem(item)
        if problem is None:
            check.accept(item)
            kept.items.append(item)
        else:
            reason, detail = problem
            sender = item.row.get("lender") or item.row.get("actor")
            kept.quarantine.append(quarantine_row(item.raw, reason, detail, item.event, sender))
    return kept
