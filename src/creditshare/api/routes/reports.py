"""POST /v1/reports: the pre-loan credit report of an applicant."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from fastapi.concurrency import run_in_threadpool

from creditshare.api.body import JsonBodyRoute
from creditshare.api.deps import QueriesDep, QueryDep, RateLimitDep
from creditshare.api.errors import query_errors
from creditshare.api.schemas import ReportRequest, ReportResponse
from creditshare.domain.purposes import Purpose

router = APIRouter(prefix="/v1/reports", tags=["reports"], route_class=JsonBodyRoute)


@router.post("", response_model=ReportResponse, summary="Credit report of an applicant, as of the indexed chain")
async def create_report(
    body: Annotated[ReportRequest, Body()], caller: QueryDep, queries: QueriesDep, _: None = RateLimitDep
) -> ReportResponse:
    """Builds the report from the local index (no chain round trip), appends the request to the audit log and
    queues an inquiry for the chain — the answer does not wait for that transaction."""

    def work() -> ReportResponse:
        with query_errors():
            answer = queries.credit_report(
                caller=caller.name,
                id_type=body.id_type,
                id_number=body.id_number,
                purpose=Purpose[body.purpose.upper()],
                consent_ref=body.consent_ref,
            )
        return ReportResponse(**answer.report.model_dump(), inquiry_event_id=answer.inquiry_event_id)

    return await run_in_threadpool(work)
