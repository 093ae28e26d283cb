"""POST /v1/verify: does a disclosed record match the chain?"""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Body
from fastapi.concurrency import run_in_threadpool

from creditshare.api.body import JsonBodyRoute
from creditshare.api.deps import QueriesDep, RateLimitDep, VerifyDep
from creditshare.api.errors import ApiError
from creditshare.api.schemas import VerifyRequest, VerifyResult
from creditshare.domain.records import InvalidRecord

router = APIRouter(prefix="/v1/verify", tags=["verify"], route_class=JsonBodyRoute)


@router.post("", response_model=VerifyResult, summary="Verify a disclosed record against the chain")
async def verify(
    body: Annotated[VerifyRequest, Body()], caller: VerifyDep, queries: QueriesDep, _: None = RateLimitDep
) -> VerifyResult:
    """Recomputes the record hash exactly as the recording gateway did and looks it up in the index:
    `match: true` with block, transaction and log index, or `match: false` for a record that was not
    recorded as given (e.g. tampered)."""

    def work() -> VerifyResult:
        try:
            verdict = queries.verify(
                caller=caller.name,
                lender=body.lender,
                record=body.record,
                corrects_hash=bytes.fromhex(body.corrects_hash[2:]) if body.corrects_hash else None,
            )
        except InvalidRecord as exc:
            raise ApiError(422, exc.code, exc.message, f"record.{exc.field}" if exc.field else None) from None
        return VerifyResult(**dataclasses.asdict(verdict))

    return await run_in_threadpool(work)
