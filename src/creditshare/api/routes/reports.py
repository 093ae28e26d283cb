"""POST /v1/reports: the pre-loan credit report of an applicant."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Body
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from creditshare.api.deps import GatewayDep, QueryDep, RateLimitDep
from creditshare.api.errors import ApiError
from creditshare.db import IndexState
from creditshare.identity import InvalidIdentity, normalise, subject_key
from creditshare.report import CreditReport, Purpose, block_time, build_report

router = APIRouter(prefix="/v1/reports", tags=["reports"])

PurposeName = Literal["loan_application", "post_loan", "guarantee", "dispute_verification", "regulatory"]


class ReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id_type: str = Field(max_length=32, description="resident_id | uscc | other")
    id_number: str = Field(max_length=64, description="The applicant's ID (never stored, never sent on)")
    purpose: PurposeName = Field(description="Why: only loan_application counts as a recent inquiry")
    consent_ref: str = Field(min_length=1, max_length=128, description="Reference of the applicant's signed consent")


class ReportResponse(CreditReport):
    inquiry_event_id: int = Field(description="Outbox id of the on-chain inquiry this request records")


def consent_hash(secret_key: bytes, consent_ref: str) -> bytes:
    """Keyed like subject keys: a consent reference may itself identify the borrower."""
    return hmac.new(secret_key, f"consent:{consent_ref}".encode(), hashlib.sha256).digest()


@router.post("", response_model=ReportResponse, summary="Credit report of an applicant, as of the indexed chain")
async def create_report(
    body: Annotated[ReportRequest, Body()], caller: QueryDep, gateway: GatewayDep, _: None = RateLimitDep
) -> ReportResponse:
    """Builds the report from the local index (no chain round trip), appends the request to the audit log and
    queues an inquiry for the chain — the answer does not wait for that transaction."""
    try:
        normal = normalise(body.id_type, body.id_number)
    except InvalidIdentity as exc:
        field = "id_type" if exc.code == "invalid_id_type" else "id_number"
        raise ApiError(422, exc.code, str(exc), field) from None
    subject = subject_key(gateway.secret, body.id_type, normal)
    purpose = Purpose[body.purpose.upper()]
    consent = consent_hash(gateway.secret.key, body.consent_ref)

    def work() -> ReportResponse:
        started = time.perf_counter()
        with gateway.factory() as session:
            state = session.get(IndexState, 1)
            as_of_time = block_time(session, state.last_block) if state else None
            if state is None or as_of_time is None:
                raise ApiError(503, "index_not_ready", "the chain index has not synced yet; retry shortly")
            report = build_report(
                session, subject, as_of_block=state.last_block, as_of_time=as_of_time, policy=gateway.policy
            )
        gateway.metrics.report_seconds.observe(time.perf_counter() - started)
        entry = gateway.audit.append(
            caller=caller.name,
            action="report",
            purpose=purpose.label,
            consent_hash=consent.hex(),
            subject_key=subject.hex(),
            result_size=len(report.loans),
        )
        inquiry_id = gateway.outbox.submit_inquiry(subject, int(purpose), consent, bytes.fromhex(entry.entry_hash))
        gateway.metrics.reports.labels(purpose.label).inc()
        return ReportResponse(**report.model_dump(), inquiry_event_id=inquiry_id)

    return await run_in_threadpool(work)
