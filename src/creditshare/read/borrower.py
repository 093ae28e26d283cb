"""A person's own rights, exercised through a lender's customer channel once the lender has verified who they are
(征信业管理条例 art. 17 and 25): their own report with who looked them up, and objections to what it says.

An own report is a report like any other — audited, and recorded on chain as an inquiry — but with its own
purpose code (`Purpose.OWN_REPORT`), which no report counts as a credit application. Two a calendar year (China
Standard Time) are free across the whole consortium: the count comes from the chain (every lender's own-report
inquiries about the person, as indexed) plus this gateway's own requests whose inquiry the index does not hold yet
(this one among them), matched by hash so that none counts twice.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from creditshare.core.clock import CST, utcnow
from creditshare.core.crypto import RecordCipher
from creditshare.core.db import transaction
from creditshare.core.db.tables import AuditEntry, BorrowerObjection, IndexEvent, IndexInquiry
from creditshare.core.exceptions import CreditShareError
from creditshare.domain.identity import IdType, KeyPurpose, SubjectKeySource, normalise
from creditshare.domain.purposes import Purpose
from creditshare.read.audit import AuditLog
from creditshare.read.queries import Queries, ReportAnswer

#: Own reports a person gets free each calendar year (征信业管理条例 art. 17).
FREE_OWN_REPORTS_PER_YEAR = 2
#: Days within which an objection must be checked and answered (art. 25).
OBJECTION_DAYS = 20


class EventNotFound(CreditShareError):
    """Raised when an objection names an event that is not in this person's report (whether or not it exists
    for someone else: the answer must not tell)."""


@dataclass(frozen=True)
class OwnReport:
    """The report with its details, and the year's allowance as it stands after this request."""

    answer: ReportAnswer
    free_reports_left: int
    fee_may_apply: bool


@dataclass(frozen=True)
class Objection:
    """A filed objection, as the person's channel shows it back to them."""

    reference: str
    event_id: int
    record_hash: bytes
    filed_at: dt.datetime
    due_at: dt.datetime
    state: str


class BorrowerDesk:
    """Own reports and objections of verified people."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        queries: Queries,
        keys: SubjectKeySource,
        audit: AuditLog,
        cipher: RecordCipher,
    ) -> None:
        self._factory, self._queries, self._keys, self._audit, self._cipher = factory, queries, keys, audit, cipher

    def own_report(self, *, caller: str, id_type: str, id_number: str, verification_ref: str) -> OwnReport:
        """The person's report with its details, recorded as an own-report inquiry; raises what
        `Queries.credit_report` raises."""
        answer = self._queries.credit_report(
            caller=caller,
            id_type=id_type,
            id_number=id_number,
            purpose=Purpose.OWN_REPORT,
            consent_ref=f"own-report:{verification_ref}",
            detailed=True,
        )
        subject = bytes.fromhex(answer.report.subject_key.removeprefix("0x"))
        with self._factory() as session:
            used = own_reports_this_year(session, subject, utcnow())  # this one included
        return OwnReport(answer, max(0, FREE_OWN_REPORTS_PER_YEAR - used), used > FREE_OWN_REPORTS_PER_YEAR)

    def object(self, *, caller: str, id_type: str, id_number: str, record_hash: bytes, statement: str) -> Objection:
        """File an objection against one event of the person's report; raises `InvalidIdentity` or
        `EventNotFound`."""
        normal = normalise(id_type, id_number)  # first: it refuses an unknown id type too
        borrower = (IdType(id_type).value, normal)
        subject = self._keys.record_keys([borrower], KeyPurpose.VERIFY).subject(*borrower)
        now = utcnow()
        reference = f"OBJ-{now.astimezone(CST):%Y%m%d}-{secrets.token_hex(4).upper()}"
        with transaction(self._factory) as session:
            event_id = session.scalar(
                select(IndexEvent.id).where(IndexEvent.record_hash == record_hash, IndexEvent.subject_key == subject)
            )
            if event_id is None:
                raise EventNotFound("no event with this record hash in this person's report")
            sealed = self._cipher.seal(statement.encode(), reference.encode())
            row = BorrowerObjection(
                reference=reference,
                subject_key=subject,
                event_id=int(event_id),
                record_hash=record_hash,
                statement=base64.b64encode(sealed).decode(),
                filed_by=caller,
                filed_at=now,
                due_at=now + dt.timedelta(days=OBJECTION_DAYS),
                state="open",
            )
            session.add(row)
        self._audit.append(
            caller=caller,
            action="objection",
            purpose=None,
            consent_hash=None,
            subject_key=subject.hex(),
            result_size=1,
        )
        return Objection(reference, int(event_id), record_hash, now, row.due_at, "open")


def _year_start(now: dt.datetime) -> dt.datetime:
    """1 January 00:00 in China Standard Time of the year `now` falls in."""
    return dt.datetime(now.astimezone(CST).year, 1, 1, tzinfo=CST)


def own_reports_this_year(session: Session, subject: bytes, now: dt.datetime) -> int:
    """Own reports of `subject` in the calendar year (CST) of `now`: every member's on chain, as indexed, plus this
    gateway's audited requests whose inquiry the index does not hold yet.

    An own report's inquiry carries its audit entry's hash as its record hash, so an audited request is counted
    from the chain once its inquiry is indexed and never twice, whatever the chain's and the gateway's clocks say.
    """
    since = _year_start(now)
    on_chain = session.scalars(
        select(IndexInquiry.inquiry_hash).where(
            IndexInquiry.subject_key == subject,
            IndexInquiry.purpose == int(Purpose.OWN_REPORT),
            IndexInquiry.block_time >= int(since.timestamp()),
        )
    ).all()
    audited = session.scalars(
        select(AuditEntry.entry_hash).where(
            AuditEntry.subject_key == subject.hex(),
            AuditEntry.action == "report",
            AuditEntry.purpose == Purpose.OWN_REPORT.label,
            AuditEntry.at >= since.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        )
    ).all()
    indexed = set(on_chain)
    return len(on_chain) + sum(1 for entry in audited if bytes.fromhex(entry) not in indexed)
