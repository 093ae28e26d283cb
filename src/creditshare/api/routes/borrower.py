"""POST /v1/borrower/report and /v1/borrower/objections: a person's own report and their objections, for the
lender's customer channel (scope `borrower_service`), once the lender has verified who the person is."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from fastapi.concurrency import run_in_threadpool

from creditshare.api.body import JsonBodyRoute
from creditshare.api.deps import BorrowersDep, BorrowerServiceDep, DisputesDep, RateLimitDep
from creditshare.api.errors import query_errors
from creditshare.api.routes.disputes import dispute_errors
from creditshare.api.schemas import ObjectionRequest, ObjectionResponse, OwnReportResponse, VerifiedPerson
from creditshare.api.schemas.borrower import ListedEvent, Lookup
from creditshare.domain.disputes import VERIFY_DAYS

router = APIRouter(prefix="/v1/borrower", tags=["borrower"], route_class=JsonBodyRoute)


@router.post("/report", response_model=OwnReportResponse, summary="The person's own report and who looked them up")
async def own_report(
    body: Annotated[VerifiedPerson, Body()], caller: BorrowerServiceDep, desk: BorrowersDep, _: None = RateLimitDep
) -> OwnReportResponse:
    """Recorded on chain as an own-report inquiry (purpose `own_report`), which never counts as a credit
    application in anyone's report; two a calendar year are free across the consortium."""

    def work() -> OwnReportResponse:
        with query_errors():
            own = desk.own_report(
                caller=caller.name,
                id_type=body.id_type,
                id_number=body.id_number,
                verification_ref=body.verification_ref,
            )
        details = own.answer.details
        assert details is not None  # own reports are always detailed
        return OwnReportResponse(
            **own.answer.report.model_dump(),
            inquiry_event_id=own.answer.inquiry_event_id,
            looked_up_by=[
                Lookup(lender=i.lender, lender_name=i.lender_name, date=i.on, purpose=i.purpose)
                for i in details.inquiries
            ],
            events=[
                ListedEvent(
                    record_hash=e.record_hash,
                    lender_name=e.lender_name,
                    kind=e.kind,
                    date=e.on,
                    amount_fen=e.amount_fen,
                    disputed=e.disputed,
                )
                for e in details.events
            ],
            free_reports_left_this_year=own.free_reports_left,
            fee_may_apply=own.fee_may_apply,
        )

    return await run_in_threadpool(work)


@router.post(
    "/objections",
    status_code=201,
    response_model=ObjectionResponse,
    summary="File the person's objection against one event of their report",
)
async def file_objection(
    body: Annotated[ObjectionRequest, Body()], caller: BorrowerServiceDep, desk: DisputesDep, _: None = RateLimitDep
) -> ObjectionResponse:
    """The objection opens a dispute on chain (any member's record; the statement stays with this lender, sealed,
    with a tracking reference): the event shows as disputed in every report at once and must be answered within
    20 days (征信业管理条例 art. 25). Rate-limited like reports: each answer tells whether a record belongs to an
    ID."""

    def work() -> ObjectionResponse:
        with dispute_errors():
            filed = desk.open(
                caller=caller.name,
                id_type=body.id_type,
                id_number=body.id_number,
                record_hash=bytes.fromhex(body.record_hash[2:]),
                statement=body.statement,
            )
        assert filed.reference is not None and filed.event_id is not None  # opened here, just now
        return ObjectionResponse(
            reference=filed.reference,
            event_id=filed.event_id,
            record_hash="0x" + filed.record_hash.hex(),
            filed_at=filed.opened_at,
            due_at=filed.due_at.date(),
            deadline_days=VERIFY_DAYS,
            state=filed.state.value,
            dispute_id=filed.id,
        )

    return await run_in_threadpool(work)
