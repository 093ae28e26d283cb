"""Request and response models of POST /v1/reports."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from creditshare.domain.records import ID_SCHEMA, ID_TYPE_SCHEMA
from creditshare.domain.report import CreditReport

PurposeName = Literal["loan_application", "post_loan", "guarantee", "dispute_verification", "regulatory"]


class ReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id_type: str = Field(max_length=32, description="resident_id | uscc | other", json_schema_extra=ID_TYPE_SCHEMA)
    id_number: str = Field(
        max_length=64, description="The applicant's ID (never stored, never sent on)", json_schema_extra=ID_SCHEMA
    )
    purpose: PurposeName = Field(description="Why: only loan_application counts as a recent inquiry")
    consent_ref: str = Field(min_length=1, max_length=128, description="Reference of the applicant's signed consent")


class ReportResponse(CreditReport):
    inquiry_event_id: int = Field(description="Outbox id of the on-chain inquiry this request records")
