"""POST /v1/reports: the pre-loan credit report of an applicant."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from creditshare.api.deps import GatewayDep, QueryDep, RateLimitDep
from creditshare.api.errors import ApiError
from creditshare.identity import InvalidIdentity
from creditshare.queries import IndexNotReady, credit_report
from creditshare.report import CreditReport, Purpose

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


@router.post("", response_model=ReportResponse, summary="Credit report of an applicant, as of the indexed chain")
async def create_report(
    body: Annotated[ReportRequest, Body()], caller: QueryDep, gateway: GatewayDep, _: None = RateLimitDep
) -> ReportResponse:
    """Builds the report from the local index (no chain round trip), appends the request to the audit log and
    queues an inquiry for the chain — the answer does not wait for that transaction."""

    def work() -> ReportResponse:
        try:
            answer = credit_report(
                gateway,
                caller=caller.name,
                id_type=body.id_type,
                id_number=body.id_number,
                purpose=Purpose[body.purpose.upper()],
                consent_ref=body.consent_ref,
            )
        except InvalidIdentity as exc:
            field = "id_type" if exc.code == "invalid_id_type" else "id_number"
            raise ApiError(422, exc.code, str(exc), field) from None
        except IndexNotReady as exc:
            raise ApiError(503, "index_not_ready", str(exc)) from None
        return ReportResponse(**answer.report.model_dump(), inquiry_event_id=answer.inquiry_event_id)

    return await run_in_threadpool(work)
