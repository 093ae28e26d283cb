"""/v1/disputes: open a dispute for a person on any member's record, list disputes by role and state, and
resolve this lender's (scope `disputes`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, Query
from fastapi.concurrency import run_in_threadpool

from creditshare.api.body import JsonBodyRoute
from creditshare.api.deps import DisputesDep, DisputesScopeDep, RateLimitDep
from creditshare.api.errors import ApiError, query_errors
from creditshare.api.schemas import DisputeList, DisputeOpenRequest, DisputeOut, DisputeResolveRequest
from creditshare.core.exceptions import ChainError
from creditshare.disputes.desk import Dispute, DisputeError
from creditshare.domain.disputes import DisputeState, InvalidDisputeId, Outcome, UpheldReason

router = APIRouter(prefix="/v1/disputes", tags=["disputes"], route_class=JsonBodyRoute)

#: A dispute's id as every gateway names it: the position of its opening log.
DisputeIdParam = Annotated[
    str, Path(pattern=r"^[0-9]{1,12}-[0-9]{1,6}$", description="`<block>-<log index>` of the opening log")
]


@contextmanager
def dispute_errors() -> Iterator[None]:
    """Map the desk's errors to API errors."""
    try:
        with query_errors():
            yield
    except DisputeError as exc:
        raise ApiError(exc.status, exc.code, exc.message, exc.field) from None
    except InvalidDisputeId as exc:
        raise ApiError(422, "invalid_dispute_id", str(exc), "id") from None
    except ChainError as exc:
        raise ApiError(503, "chain_unavailable", f"the chain did not take the transaction: {exc}") from None


def dispute_out(d: Dispute) -> DisputeOut:
    return DisputeOut(
        id=d.id,
        record_lender=d.record_lender,
        record_hash="0x" + d.record_hash.hex(),
        opened_by=d.opened_by,
        opened_at=d.opened_at,
        due_at=d.due_at,
        state=d.state.value,
        objection_hash="0x" + d.objection_hash.hex() if d.objection_hash else None,
        outcome=d.outcome,
        detail=d.detail,
        resolved_by=d.resolved_by,
        resolved_at=d.resolved_at,
        reference=d.reference,
    )


@router.post("", status_code=201, response_model=DisputeOut, summary="Open a dispute for a person")
async def open_dispute(
    body: Annotated[DisputeOpenRequest, Body()], caller: DisputesScopeDep, desk: DisputesDep, _: None = RateLimitDep
) -> DisputeOut:
    """The event is marked disputed in every report at once; the recording lender must answer within 20 days.
    The statement stays with this lender; only its hash goes on chain. Rate-limited like reports."""

    def work() -> DisputeOut:
        with dispute_errors():
            return dispute_out(
                desk.open(
                    caller=caller.name,
                    id_type=body.id_type,
                    id_number=body.id_number,
                    record_hash=bytes.fromhex(body.record_hash[2:]),
                    statement=body.statement,
                )
            )

    return await run_in_threadpool(work)


@router.get("", response_model=DisputeList, summary="Disputes by role and state")
async def list_disputes(
    _: DisputesScopeDep,
    desk: DisputesDep,
    role: Annotated[Literal["opened", "against_me", "all"], Query()] = "against_me",
    state: Annotated[Literal["open", "overdue", "resolved"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> DisputeList:
    """`opened`: disputes this lender opened; `against_me`: on its records; `all`: every member's (what a governor
    watches for overdue answers). Newest first."""

    def work() -> DisputeList:
        chosen = DisputeState(state) if state else None
        return DisputeList(disputes=[dispute_out(d) for d in desk.find(role, chosen, limit)])

    return await run_in_threadpool(work)


@router.get("/{dispute_id}", response_model=DisputeOut, summary="One dispute")
async def get_dispute(dispute_id: DisputeIdParam, _: DisputesScopeDep, desk: DisputesDep) -> DisputeOut:
    def work() -> DisputeOut:
        with dispute_errors():
            return dispute_out(desk.get(dispute_id))

    return await run_in_threadpool(work)


@router.post(
    "/{dispute_id}/resolve",
    response_model=DisputeOut,
    summary="Answer a dispute on this lender's record",
)
async def resolve_dispute(
    dispute_id: DisputeIdParam, body: Annotated[DisputeResolveRequest, Body()], _: DisputesScopeDep, desk: DisputesDep
) -> DisputeOut:
    """`upheld` with a reason, or `corrected` naming the correction this lender submitted (it must be on chain
    and indexed first)."""

    def work() -> DisputeOut:
        with dispute_errors():
            return dispute_out(
                desk.resolve(
                    dispute_id,
                    Outcome[body.outcome.upper()],
                    reason=UpheldReason[body.reason.upper()] if body.reason else None,
                    correction_record_id=body.correction_record_id,
                )
            )

    return await run_in_threadpool(work)
