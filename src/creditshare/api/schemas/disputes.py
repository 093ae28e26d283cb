"""Request and response models of /v1/disputes: objections as disputes with a 20-day deadline."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from creditshare.api.schemas.borrower import Hash, VerifiedPerson
from creditshare.domain.disputes import UpheldReason

ReasonName = Literal["verified_with_source", "borrower_withdrew", "no_grounds"]
assert set(ReasonName.__args__) == {r.label for r in UpheldReason}  # type: ignore[attr-defined]


class DisputeOpenRequest(VerifiedPerson):
    """The person disputes one event of their report (any member's), through this lender."""

    record_hash: Hash = Field(description="The event objected to: a `record_hash` from the person's own report")
    statement: str = Field(min_length=1, max_length=2000, description="What the person says is wrong")


class DisputeResolveRequest(BaseModel):
    """The recording lender's answer: `upheld` with a reason, or `corrected` by a correction it submitted."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    outcome: Literal["upheld", "corrected"]
    reason: ReasonName | None = Field(None, description="upheld: why the record stands")
    correction_record_id: str | None = Field(
        None, min_length=1, max_length=64, description="corrected: the record_id of this lender's correction (indexed)"
    )


class DisputeOut(BaseModel):
    """A dispute as every member's index knows it, plus this lender's form reference if it opened it."""

    id: str = Field(description="`<block>-<log index>` of the opening log: the same on every gateway")
    record_lender: str
    record_hash: str
    opened_by: str
    opened_at: dt.datetime
    due_at: dt.datetime = Field(description="20 days after opening (征信业管理条例 art. 25)")
    state: Literal["open", "overdue", "resolved"]
    objection_hash: str | None
    outcome: str | None = None
    detail: str | None = Field(None, description="upheld: the reason; corrected: the correction's record hash")
    resolved_by: str | None = None
    resolved_at: dt.datetime | None = None
    reference: str | None = Field(None, description="This lender's tracking reference, if it opened the dispute")


class DisputeList(BaseModel):
    disputes: list[DisputeOut]
