"""POST /v1/events (submit records) and GET /v1/events/{id} (their status)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from creditshare.api.body import read_json
from creditshare.api.deps import GatewayDep, OutboxDep, SubmitterDep
from creditshare.api.errors import ApiError
from creditshare.api.schemas import EventError, EventStatus, SubmitResponse
from creditshare.domain.status import ItemStatus, RecordStatus
from creditshare.write.outbox import MAX_RECORDS_PER_REQUEST

router = APIRouter(prefix="/v1/events", tags=["events"])

EXAMPLE = {
    "record_id": "EVT-2026-000123",
    "event_type": "loan_opened",
    "id_type": "resident_id",
    "id_number": "11010519491231002X",
    "loan_number": "L-2026-0001",
    "occurred_on": "2026-01-05",
    "principal_fen": 5000000,
}


_RECORD = {"$ref": "#/components/schemas/CreditEventIn"}
#: One record, or a list of 1 to 1,000.
_RECORDS_SCHEMA = {
    "anyOf": [_RECORD, {"type": "array", "items": _RECORD, "minItems": 1, "maxItems": MAX_RECORDS_PER_REQUEST}]
}


@router.post(
    "",
    response_model=SubmitResponse,
    summary="Submit one credit event or a list of them",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _RECORDS_SCHEMA, "example": EXAMPLE}},
        }
    },
)
async def submit_events(request: Request, _: SubmitterDep, gateway: GatewayDep, outbox: OutboxDep) -> JSONResponse:
    """Validate every record; store the good ones before answering. A body may hold one record or a list of up
    to 1,000. Each record gets its own result: `accepted`, `duplicate` (same record_id seen before) or `rejected`.
    If no record is accepted or duplicate, the status is 422 with the first rejection as the error."""
    body = await read_json(request, gateway.settings.max_body_bytes)
    records = [body] if isinstance(body, dict) else body
    if not isinstance(records, list) or not records:
        raise ApiError(422, "invalid_request", "body must be a record object or a non-empty list of records")
    if len(records) > MAX_RECORDS_PER_REQUEST:
        raise ApiError(
            413, "too_many_records", f"at most {MAX_RECORDS_PER_REQUEST} records per request, got {len(records)}"
        )
    outcomes = await run_in_threadpool(outbox.submit_events, records)
    results = [o.as_dict() for o in outcomes]
    counts = {s: sum(r["status"] == s for r in results) for s in RecordStatus}
    for status, n in counts.items():
        gateway.metrics.records.labels(status).inc(n)
    if counts[RecordStatus.REJECTED] == len(results):
        first = results[0]
        raise ApiError(
            422, first["code"] or "invalid_record", first["message"] or "record rejected", first["field"],
            results=results,
        )  # fmt: skip
    # Built as plain JSON (the documented SubmitResponse shape): no second validation pass on the hot path.
    return JSONResponse(
        {
            "accepted": counts[RecordStatus.ACCEPTED],
            "duplicates": counts[RecordStatus.DUPLICATE],
            "rejected": counts[RecordStatus.REJECTED],
            "results": results,
        }
    )


@router.get("/{event_id}", response_model=EventStatus, summary="Status of a submitted record")
def get_event(event_id: int, _: SubmitterDep, outbox: OutboxDep) -> EventStatus:
    """pending → submitted → confirmed (with tx hash, block and log index), or failed with the reason."""
    item = outbox.get(event_id) if 0 < event_id < 2**63 else None  # SQLite integers are 64-bit
    if item is None:
        raise ApiError(404, "not_found", f"no event {event_id} of this lender")
    return EventStatus(
        event_id=item.id,
        record_id=item.record_id,
        kind=item.kind,  # type: ignore[arg-type]
        status=item.status,  # type: ignore[arg-type]
        record_hash="0x" + item.record_hash.hex(),
        tx_hash=item.tx_hash if item.status == ItemStatus.CONFIRMED else None,
        block_number=item.block_number,
        log_index=item.log_index,
        error=EventError(code=item.error_code, message=item.error_message) if item.error_code else None,
    )
