"""A person's own rights, exercised through a lender's customer channel once the lender has verified who they are
(征信业管理条例 art. 17): their own report with who looked them up. Their objections are disputes
(`creditshare.disputes`).

An own report is a report like any other — audited, and recorded on chain as an inquiry — but with its own
purpose code (`Purpose.OWN_REPORT`), which no report counts as a credit application. Two a calendar year (China
Standard Time) are free across the whole consortium: the count comes from the chain (every lender's own-report
inquiries about the person, as indexed) plus this gateway's own requests whose inquiry the index does not hold yet
(this one among them), matched by hash so that none counts twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from creditshare.core.clock import CST, utcnow
from creditshare.core.db.tables import AuditEntry, IndexInquiry
from creditshare.domain.purposes import Purpose
from creditshare.read.queries import Queries, ReportAnswer

#: Own reports a person gets free each calendar year (征信业管理条例 art. 17).
FREE_OWN_REPORTS_PER_YEAR = 2


@dataclass(frozen=True)
class OwnReport:
    """The report with its details, and the year's allowance as it stands after this request."""

    answer: ReportAnswer
    free_reports_left: int
    fee_may_apply: bool


class BorrowerDesk:
    """Own reports of verified people."""

    def __init__(self, factory: sessionmaker[Session], queries: Queries) -> None:
        self._factory, self._queries = factory, queries

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
