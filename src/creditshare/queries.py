"""Credit-report and verification requests: what one request does, whoever asks (the API or the CLI).

A report request is answered from the local index, appended to the audit log and queued as an on-chain inquiry
(the answer never waits for that transaction). A verification is answered from the index and audited too.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from creditshare.db import IndexState
from creditshare.exceptions import CreditShareError
from creditshare.identity import normalise, subject_key
from creditshare.records import CreditEventIn
from creditshare.report import CreditReport, Purpose, block_time, build_report
from creditshare.verification import VerifyResult, verify_record

if TYPE_CHECKING:
    from creditshare.gateway import Gateway


class IndexNotReady(CreditShareError):
    """Raised when the chain index has not synced a single block yet, so no report can be dated."""


@dataclass(frozen=True)
class ReportAnswer:
    """A report and the outbox id of the inquiry that records it on chain."""

    report: CreditReport
    inquiry_event_id: int


def consent_hash(secret_key: bytes, consent_ref: str) -> bytes:
    """Keyed like subject keys: a consent reference may itself identify the borrower."""
    return hmac.new(secret_key, f"consent:{consent_ref}".encode(), hashlib.sha256).digest()


def credit_report(
    gateway: Gateway, *, caller: str, id_type: str, id_number: str, purpose: Purpose, consent_ref: str
) -> ReportAnswer:
    """Build the report of an applicant as of the indexed chain, audit the request and queue its inquiry.

    Raises `InvalidIdentity` for a malformed id and `IndexNotReady` before the index's first sync.
    """
    subject = subject_key(gateway.secret, id_type, normalise(id_type, id_number))
    consent = consent_hash(gateway.secret.key, consent_ref)
    started = time.perf_counter()
    with gateway.factory() as session:
        state = session.get(IndexState, 1)
        as_of_time = block_time(session, state.last_block) if state else None
        if state is None or as_of_time is None:
            raise IndexNotReady("the chain index has not synced yet; retry shortly")
        report = build_report(
            session, subject, as_of_block=state.last_block, as_of_time=as_of_time, policy=gateway.policy
        )
    gateway.metrics.report_seconds.observe(time.perf_counter() - started)
    entry = gateway.audit.append(
        caller=caller,
        action="report",
        purpose=purpose.label,
        consent_hash=consent.hex(),
        subject_key=subject.hex(),
        result_size=len(report.loans),
    )
    inquiry_id = gateway.outbox.submit_inquiry(subject, int(purpose), consent, bytes.fromhex(entry.entry_hash))
    gateway.metrics.reports.labels(purpose.label).inc()
    return ReportAnswer(report, inquiry_id)


def verify(
    gateway: Gateway, *, caller: str, lender: str, record: CreditEventIn, corrects_hash: bytes | None = None
) -> VerifyResult:
    """Whether `lender` recorded exactly this record, per the index; audited. Raises `InvalidRecord`."""
    with gateway.factory() as session:
        result = verify_record(session, record, lender=lender, secret=gateway.secret, corrects_hash=corrects_hash)
    gateway.audit.append(
        caller=caller, action="verify", purpose=None, consent_hash=None, subject_key=None, result_size=int(result.match)
    )
    gateway.metrics.verifications.labels(str(result.match).lower()).inc()
    return result
