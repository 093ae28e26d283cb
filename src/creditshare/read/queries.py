"""Credit-report and verification requests: what one request does, whoever asks (the API, the CLI, later the
console).

A report request is answered from the local index, appended to the audit log and queued as an on-chain inquiry
(the answer never waits for that transaction). A verification is answered from the index and audited too.
`Queries` is given exactly what it uses — the database, where subject keys come from, the lender's consent key,
the policy, the audit log, a queue for inquiries and the metrics — by the composition root (`creditshare.gateway`).
With v2 keys the subject key of a report costs one round trip to the key-share holders, which log it under the
request's consent hash (the same hash the on-chain inquiry carries).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from creditshare.chain.governance import Role
from creditshare.core.db.tables import IndexState
from creditshare.core.exceptions import CreditShareError
from creditshare.core.metrics import Metrics
from creditshare.domain.identity import IdType, KeyPurpose, SubjectKeySource, normalise
from creditshare.domain.purposes import Purpose
from creditshare.domain.records import CreditEventIn, borrower_of
from creditshare.domain.report import CreditReport, Policy
from creditshare.domain.report.details import ReportDetails
from creditshare.read.audit import AuditLog, AuditRequest
from creditshare.read.reports import block_time, build_report, lender_names, report_details
from creditshare.read.screen import MemberBook
from creditshare.read.verification import Verification, verify_record


class IndexNotReady(CreditShareError):
    """Raised when the chain index has not synced a single block yet, so no report can be dated."""


class LenderNotActive(CreditShareError):
    """Raised when this gateway's lender is not an active lender as of the indexed chain (suspended or removed):
    it may not look anyone up, and its inquiry could not be recorded on chain."""


class InquiryQueue(Protocol):
    """Where report requests queue their on-chain inquiry (the write path's outbox)."""

    def queue_inquiry(
        self, session: Session, subject_key: bytes, purpose: int, consent_hash: bytes, inquiry_hash: bytes
    ) -> int: ...


@dataclass(frozen=True)
class ReportAnswer:
    """A report and the outbox id of the inquiry that records it on chain (and, for people, its details)."""

    report: CreditReport
    inquiry_event_id: int
    details: ReportDetails | None = None


def consent_hash(secret_key: bytes, consent_ref: str) -> bytes:
    """Keyed like subject keys: a consent reference may itself identify the borrower."""
    return hmac.new(secret_key, f"consent:{consent_ref}".encode(), hashlib.sha256).digest()


class Queries:
    """Answers report and verify requests from the index, auditing each one."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        lender: str,
        keys: SubjectKeySource,
        consent_key: bytes,
        policy: Policy,
        audit: AuditLog,
        inquiries: InquiryQueue,
        metrics: Metrics,
    ) -> None:
        self._factory = factory
        self.lender = lender
        self._keys = keys
        self._consent_key = consent_key
        self.policy = policy
        self._audit = audit
        self._inquiries = inquiries
        self._metrics = metrics

    def credit_report(
        self, *, caller: str, id_type: str, id_number: str, purpose: Purpose, consent_ref: str, detailed: bool = False
    ) -> ReportAnswer:
        """Build the report of an applicant as of the indexed chain, audit the request and queue its inquiry.

        Raises `InvalidIdentity` for a malformed id, `IndexNotReady` before the index's first sync and
        `LenderNotActive` while this gateway's lender is suspended or removed (as the index has it).
        """
        normal = normalise(id_type, id_number)
        consent = consent_hash(self._consent_key, consent_ref)
        with self._factory() as session:
            state = session.get(IndexState, 1)
            as_of_time = block_time(session, state.last_block) if state else None
            if state is None or as_of_time is None:
                raise IndexNotReady("the chain index has not synced yet; retry shortly")
            if not MemberBook.load(session, self.lender).active(self.lender.lower(), Role.LENDER):
                raise LenderNotActive(
                    f"this gateway's lender {self.lender} is not an active lender of the consortium "
                    f"(as of block {state.last_block}): no reports while suspended or removed"
                )
        borrower = (IdType(id_type).value, normal)
        subject = self._keys.record_keys([borrower], KeyPurpose.QUERY, inquiry=consent).subject(*borrower)
        started = time.perf_counter()
        with self._factory() as session:
            report = build_report(
                session, subject, as_of_block=state.last_block, as_of_time=as_of_time, policy=self.policy
            )
            details = report_details(session, report, self.policy) if detailed else None
        self._metrics.report_seconds.observe(time.perf_counter() - started)
        request = AuditRequest(caller, "report", purpose.label, consent.hex(), subject.hex(), len(report.loans))
        _, inquiry_id = self._audit.append_with(
            request,
            lambda session, entry: self._inquiries.queue_inquiry(
                session, subject, int(purpose), consent, bytes.fromhex(entry.entry_hash)
            ),
        )
        self._metrics.reports.labels(purpose.label).inc()
        return ReportAnswer(report, inquiry_id, details)

    def lender_names(self) -> dict[str, str]:
        """Display names of the consortium's members by lower-case address, as the index has them."""
        with self._factory() as session:
            return {address.lower(): name for address, name in lender_names(session).items()}

    def verify(
        self, *, caller: str, lender: str, record: CreditEventIn, corrects_hash: bytes | None = None
    ) -> Verification:
        """Whether `lender` recorded exactly this record, per the index; audited. Raises `InvalidRecord`."""
        borrower = borrower_of(record)  # None: malformed, and `verify_record` rejects the record
        keys = self._keys.record_keys([borrower] if borrower else [], KeyPurpose.VERIFY)
        with self._factory() as session:
            result = verify_record(session, record, lender=lender, keys=keys, corrects_hash=corrects_hash)
        self._audit.append(AuditRequest(caller, "verify", result_size=int(result.match)))
        self._metrics.verifications.labels(str(result.match).lower()).inc()
        return result
