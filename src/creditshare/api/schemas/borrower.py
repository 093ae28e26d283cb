"""Request and response models of POST /v1/borrower/report and POST /v1/borrower/objections: a person's own
rights, exercised through the lender's customer channel after the lender verified their identity."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from creditshare.domain.records import ID_SCHEMA, ID_TYPE_SCHEMA
from creditshare.domain.report import CreditReport

Hash = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{64}$")]


class VerifiedPerson(BaseModel):
    """Who the person is, and the lender's reference for how it checked that (face to face, app with liveness
    check...). The ID is used only to derive the subject key."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id_type: str = Field(max_length=32, description="resident_id | uscc | other", json_schema_extra=ID_TYPE_SCHEMA)
    id_number: str = Field(max_length=64, description="The person's own ID", json_schema_extra=ID_SCHEMA)
    verification_ref: str = Field(
        min_length=1, max_length=64, description="The lender's reference of its identity check of this person"
    )


class Lookup(BaseModel):
    """One inquiry about the person: who, when, why."""

    lender: str
    lender_name: str
    date: dt.date
    purpose: str


class ListedEvent(BaseModel):
    """One event of the person's report, named by its record hash (what an objection cites)."""

    record_hash: str
    lender_name: str
    kind: str
    date: dt.date
    amount_fen: int
    disputed: bool


class OwnReportResponse(CreditReport):
    inquiry_event_id: int = Field(description="Outbox id of the on-chain own-report inquiry this request records")
    looked_up_by: list[Lookup] = Field(description="Every inquiry about the person, newest first")
    events: list[ListedEvent] = Field(description="The events the report kept, newest first")
    free_reports_left_this_year: int = Field(ge=0, description="Free own reports left this calendar year (of 2)")
    fee_may_apply: bool = Field(description="True when this request was beyond the year's free ones")


class ObjectionRequest(VerifiedPerson):
    record_hash: Hash = Field(description="The event objected to: a `record_hash` from the person's own report")
    statement: str = Field(min_length=1, max_length=2000, description="What the person says is wrong")


class ObjectionResponse(BaseModel):
    reference: str = Field(description="Tracking reference for the person")
    event_id: int
    record_hash: str
    filed_at: dt.datetime
    due_at: dt.date = Field(description="The answer is due by this date (20 days, 征信业管理条例 art. 25)")
    deadline_days: int
    state: str
    dispute_id: str = Field(description="The dispute on chain (`<block>-<log index>`), as /v1/disputes lists it")
