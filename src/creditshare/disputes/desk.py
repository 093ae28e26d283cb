"""The dispute desk of one lender's gateway.

Opening: the person's ID must lead to the record (the record is in their report), the objection is kept here
sealed with a reference, its hash goes on chain with `openDispute`, and the dispute is named by its log. The
form is stored before the transaction is sent, so a crash in between leaves a form the index matches to its
dispute by the objection hash; a refused transaction removes the form again (bad input changes nothing).

Listing and states come from the index, the same on every gateway: a dispute is `open` from its block,
`overdue` once 20 days have passed without an answer, `resolved` after `resolveDispute`. Resolving is for the
recording lender: `upheld` with a reason code, or `corrected` naming the correction (already indexed).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, sessionmaker

from creditshare.chain.disputes import DisputeSender
from creditshare.core.clock import CST, utcnow
from creditshare.core.crypto import RecordCipher
from creditshare.core.db import transaction
from creditshare.core.db.tables import BorrowerObjection, IndexCorrection, IndexDispute, IndexEvent, OutboxItem
from creditshare.core.exceptions import ContractRevert, CreditShareError
from creditshare.domain.disputes import (
    VERIFY_DAYS,
    DisputeId,
    DisputeState,
    Outcome,
    UpheldReason,
    due_at,
    objection_hash,
    state_at,
)
from creditshare.domain.identity import IdType, KeyPurpose, SubjectKeySource, normalise
from creditshare.read.audit import AuditLog, AuditRequest

Role = Literal["opened", "against_me", "all"]


class DisputeError(CreditShareError):
    """A dispute request that cannot be done; `code` is machine-readable, `status` the HTTP status it maps to."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


#: Ledger errors a dispute transaction can meet, as the desk reports them.
_REVERTS: dict[str, tuple[int, str, str]] = {
    "LedgerDisputeAlreadyOpen": (409, "dispute_already_open", "a dispute on this record is already open"),
    "LedgerDisputeNotOpen": (409, "dispute_not_open", "this dispute is not open"),
    "LedgerDisputeQuotaExceeded": (429, "dispute_quota_exceeded", "this member has opened its disputes for today"),
    "LedgerNotDisputeParty": (403, "not_a_dispute_party", "this member may not act on this dispute"),
    "LedgerPaused": (503, "consortium_paused", "governance has paused the consortium"),
}


@dataclass(frozen=True)
class Dispute:
    """A dispute as the index and this lender's forms know it."""

    id: str
    record_lender: str
    record_hash: bytes
    subject_key: bytes | None
    opened_by: str
    opened_at: dt.datetime
    due_at: dt.datetime
    state: DisputeState
    objection_hash: bytes | None
    outcome: str | None = None
    detail: str | None = None
    resolved_by: str | None = None
    resolved_at: dt.datetime | None = None
    reference: str | None = None  # this lender's form, if it opened the dispute
    event_id: int | None = None  # the disputed event's row in this index (when just opened here)


def _as_dt(block_time: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(block_time, dt.UTC)


def _detail(outcome: int, detail: bytes | None) -> str | None:
    if detail is None:
        return None
    if outcome == Outcome.UPHELD:
        code = int.from_bytes(detail, "big")
        return UpheldReason(code).label if code in set(UpheldReason) else str(code)
    return "0x" + detail.hex()


class DisputeDesk:
    """Opens, lists and resolves disputes for one lender (see the module docstring)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        sender: DisputeSender,
        lender: str,
        keys: SubjectKeySource,
        cipher: RecordCipher,
        audit: AuditLog,
        *,
        days: int = VERIFY_DAYS,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self._factory = factory
        self._sender = sender
        self.lender = lender.lower()  # as the index has addresses
        self._address = lender  # as the outbox has it
        self._keys = keys
        self._cipher = cipher
        self._audit = audit
        self.days = days
        self._clock = clock

    # ------------------------------------------------------------------ opening

    def open(self, *, caller: str, id_type: str, id_number: str, record_hash: bytes, statement: str) -> Dispute:
        """Open a dispute on the person's record `record_hash` (any member's) with their statement; raises
        `InvalidIdentity` or `DisputeError`."""
        normal = normalise(id_type, id_number)  # first: it refuses an unknown id type too
        borrower = (IdType(id_type).value, normal)
        subject = self._keys.record_keys([borrower], KeyPurpose.VERIFY).subject(*borrower)
        now = self._clock()
        reference = f"OBJ-{now.astimezone(CST):%Y%m%d}-{secrets.token_hex(4).upper()}"
        with transaction(self._factory) as session:
            event = session.execute(
                select(IndexEvent.id, IndexEvent.lender)
                .where(IndexEvent.record_hash == record_hash, IndexEvent.subject_key == subject)
                .order_by(IndexEvent.block_number, IndexEvent.log_index)
                .limit(1)
            ).first()
            if event is None:
                raise DisputeError(404, "event_not_found", "no event with this record hash in this person's report")
            event_id, lender = int(event[0]), str(event[1])
            if self._open_opening(session, lender, record_hash) is not None:
                raise DisputeError(409, "dispute_already_open", "a dispute on this record is already open")
            commitment = objection_hash(reference, lender, record_hash, statement)
            form = BorrowerObjection(
                reference=reference,
                subject_key=subject,
                event_id=event_id,
                record_hash=record_hash,
                statement=base64.b64encode(self._cipher.seal(statement.encode(), reference.encode())).decode(),
                filed_by=caller,
                filed_at=now,
                due_at=due_at(now, self.days),
                state="opening",
                record_lender=lender,
                objection_hash=commitment,
            )
            session.add(form)
        try:
            sent = self._sender.open(lender, record_hash, commitment)
        except ContractRevert as exc:
            self._forget(reference)
            status, code, message = _REVERTS.get(exc.name, (409, "dispute_refused", str(exc)))
            raise DisputeError(status, code, message) from None
        dispute_id = str(DisputeId(sent.block, sent.log_index))
        self._audit.append(AuditRequest(caller, "objection", subject_key=subject.hex(), result_size=1))
        with transaction(self._factory) as session:
            row = session.scalar(select(BorrowerObjection).where(BorrowerObjection.reference == reference))
            assert row is not None
            row.state, row.tx_hash, row.dispute_id = "open", sent.tx_hash, dispute_id
        opened_at = now  # until the index holds the block: the API answers at once
        return Dispute(
            id=dispute_id,
            record_lender=lender,
            record_hash=record_hash,
            subject_key=subject,
            opened_by=self.lender,
            opened_at=opened_at,
            due_at=due_at(opened_at, self.days),
            state=DisputeState.OPEN,
            objection_hash=commitment,
            reference=reference,
            event_id=event_id,
        )

    def _forget(self, reference: str) -> None:
        with transaction(self._factory) as session:
            row = session.scalar(select(BorrowerObjection).where(BorrowerObjection.reference == reference))
            if row is not None:
                session.delete(row)

    # ------------------------------------------------------------------ reading

    def find(self, role: Role = "against_me", state: DisputeState | None = None, limit: int = 500) -> list[Dispute]:
        """Disputes this lender opened, those against its records, or all, newest first, in one state or any."""
        query = select(IndexDispute).where(IndexDispute.outcome == 0)
        if role == "opened":
            query = query.where(IndexDispute.actor == self.lender)
        elif role == "against_me":
            query = query.where(IndexDispute.lender == self.lender)
        query = query.order_by(IndexDispute.block_number.desc(), IndexDispute.log_index.desc())
        with self._factory() as session:
            openings = session.scalars(query).all()
            disputes = self._with_outcomes(session, list(openings))
        chosen = [d for d in disputes if state is None or d.state == state]
        return chosen[:limit]

    def get(self, dispute_id: str) -> Dispute:
        """One dispute by id; raises `InvalidDisputeId` or `DisputeError` (404)."""
        position = DisputeId.parse(dispute_id)
        with self._factory() as session:
            opening = session.scalar(
                select(IndexDispute).where(
                    IndexDispute.block_number == position.block,
                    IndexDispute.log_index == position.log_index,
                    IndexDispute.outcome == 0,
                )
            )
            if opening is None:
                raise DisputeError(404, "dispute_not_found", f"no dispute {dispute_id} in the index")
            return self._with_outcomes(session, [opening])[0]

    def counts(self) -> dict[str, int]:
        """Disputes in the index by state (open, overdue) across the consortium: what /metrics shows."""
        disputes = self.find(role="all", limit=1_000_000)
        counts = {DisputeState.OPEN.value: 0, DisputeState.OVERDUE.value: 0}
        for d in disputes:
            if d.state != DisputeState.RESOLVED:
                counts[d.state.value] += 1
        return counts

    def opened_by_member(self) -> dict[str, int]:
        """Disputes each member has opened, as indexed."""
        with self._factory() as session:
            rows = session.execute(
                select(IndexDispute.actor, func.count()).where(IndexDispute.outcome == 0).group_by(IndexDispute.actor)
            )
            return {actor: int(count) for actor, count in rows}

    def _with_outcomes(self, session: Session, openings: list[IndexDispute]) -> list[Dispute]:
        """Each opening with the first resolution of its record after it, and this lender's form for it."""
        if not openings:
            return []
        hashes = {o.record_hash for o in openings}
        closings: dict[tuple[str, bytes], list[IndexDispute]] = {}
        for row in session.scalars(
            select(IndexDispute)
            .where(IndexDispute.record_hash.in_(hashes), IndexDispute.outcome != 0)
            .order_by(IndexDispute.block_number, IndexDispute.log_index)
        ):
            closings.setdefault((row.lender, row.record_hash), []).append(row)
        forms = {
            commitment: reference
            for commitment, reference in session.execute(
                select(BorrowerObjection.objection_hash, BorrowerObjection.reference).where(
                    BorrowerObjection.objection_hash.in_({o.detail for o in openings if o.detail is not None})
                )
            )
        }
        now = self._clock()
        result = []
        for o in openings:
            after = (o.block_number, o.log_index)
            close = next(
                (c for c in closings.get((o.lender, o.record_hash), []) if (c.block_number, c.log_index) > after),
                None,
            )
            opened = _as_dt(o.block_time)
            result.append(
                Dispute(
                    id=str(DisputeId(o.block_number, o.log_index)),
                    record_lender=o.lender,
                    record_hash=o.record_hash,
                    subject_key=o.subject_key,
                    opened_by=o.actor,
                    opened_at=opened,
                    due_at=due_at(opened, self.days),
                    state=state_at(opened, close is not None, now, self.days),
                    objection_hash=o.detail,
                    outcome=Outcome(close.outcome).label if close is not None else None,
                    detail=_detail(close.outcome, close.detail) if close is not None else None,
                    resolved_by=close.actor if close is not None else None,
                    resolved_at=_as_dt(close.block_time) if close is not None else None,
                    reference=forms.get(o.detail) if o.detail is not None else None,
                )
            )
        return result

    @staticmethod
    def _open_opening(session: Session, lender: str, record_hash: bytes) -> IndexDispute | None:
        """The record's last dispute log, if it is an opening (the dispute is open)."""
        last = session.scalar(
            select(IndexDispute)
            .where(and_(IndexDispute.lender == lender, IndexDispute.record_hash == record_hash))
            .order_by(IndexDispute.block_number.desc(), IndexDispute.log_index.desc())
            .limit(1)
        )
        return last if last is not None and last.outcome == 0 else None

    # ------------------------------------------------------------------ resolving

    def resolve(
        self,
        dispute_id: str,
        outcome: Outcome,
        *,
        reason: UpheldReason | None = None,
        correction_record_id: str | None = None,
    ) -> Dispute:
        """Answer a dispute against this lender's record: upheld with a reason, or corrected by the correction
        this lender submitted (its record id; it must be indexed). Raises `DisputeError`."""
        dispute = self.get(dispute_id)
        if dispute.record_lender != self.lender:
            raise DisputeError(403, "not_record_owner", "only the recording lender (or a governor) resolves a dispute")
        if dispute.state == DisputeState.RESOLVED:
            raise DisputeError(409, "dispute_not_open", f"dispute {dispute_id} is already resolved")
        if outcome == Outcome.UPHELD:
            if reason is None:
                raise DisputeError(422, "reason_required", "an upheld dispute needs a reason code", "reason")
            detail = int(reason).to_bytes(32, "big")
        else:
            if correction_record_id is None:
                raise DisputeError(
                    422, "correction_required", "name the correction's record id", "correction_record_id"
                )
            detail = self._correction_hash(dispute.record_hash, correction_record_id)
        try:
            self._sender.resolve(self.lender, dispute.record_hash, int(outcome), detail)
        except ContractRevert as exc:
            status, code, message = _REVERTS.get(exc.name, (409, "dispute_refused", str(exc)))
            raise DisputeError(status, code, message) from None
        now = self._clock()
        return dataclasses.replace(
            dispute,
            state=DisputeState.RESOLVED,
            outcome=outcome.label,
            detail=_detail(int(outcome), detail),
            resolved_by=self.lender,
            resolved_at=now,
        )

    def _correction_hash(self, original: bytes, record_id: str) -> bytes:
        """The record hash of this lender's correction `record_id` of `original`, once the index holds it."""
        with self._factory() as session:
            item = session.scalar(
                select(OutboxItem.record_hash).where(
                    OutboxItem.lender == self._address,
                    OutboxItem.record_id == record_id,
                    OutboxItem.kind == "correction",
                )
            )
            if item is None:
                raise DisputeError(
                    422,
                    "unknown_correction",
                    f"{record_id!r} is not a correction of this lender",
                    "correction_record_id",
                )
            indexed = session.scalar(
                select(IndexCorrection.id).where(
                    IndexCorrection.lender == self.lender,
                    IndexCorrection.original_hash == original,
                    IndexCorrection.record_hash == item,
                )
            )
            if indexed is None:
                raise DisputeError(
                    409,
                    "correction_not_indexed",
                    f"correction {record_id!r} of the disputed record is not on chain (indexed) yet",
                    "correction_record_id",
                )
            return bytes(item)
