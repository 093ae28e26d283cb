"""POST /v1/verify: does a disclosed record match the chain?"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from creditshare import queries
from creditshare.api.deps import GatewayDep, RateLimitDep, VerifyDep
from creditshare.api.errors import ApiError
from creditshare.records import CreditEventIn, InvalidRecord
from creditshare.verification import VerifyResult

router = APIRouter(prefix="/v1/verify", tags=["verify"])


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lender: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$", description="Address of the lender that recorded it")
    record: CreditEventIn = Field(description="The full record as the lender disclosed it")
    corrects_hash: str | None = Field(
        default=None, pattern=r"^0x[0-9a-fA-F]{64}$", description="For a correction: the corrected record's hash"
    )


@router.post("", response_model=VerifyResult, summary="Verify a disclosed record against the chain")
async def verify(
    body: Annotated[VerifyRequest, Body()], caller: VerifyDep, gateway: GatewayDep, _: None = RateLimitDep
) -> VerifyResult:
    """Recomputes the record hash exactly as the recording gateway did and looks it up in the index:
    `match: true` with block, transaction and log index, or `match: false` for a record that was not
    recorded as given (e.g. tampered)."""

    def work() -> VerifyResult:
        try:
            return queries.verify(
                gateway,
                caller=caller.name,
                lender=body.lender,
                record=body.record,
                corrects_hash=bytes.fromhex(body.corrects_hash[2:]) if body.corrects_hash else None,
            )
        except InvalidRecord as exc:
            raise ApiError(422, exc.code, exc.message, f"record.{exc.field}" if exc.field else None) from None

    return await run_in_threadpool(work)
