"""Response models of POST /v1/events and GET /v1/events/{id} (the request body is `CreditEventIn`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class RecordResult(BaseModel):
    index: int = Field(description="Position of the record in the request")
    record_id: str | None
    status: Literal["accepted", "duplicate", "rejected"]
    event_id: int | None = Field(None, description="Gateway event id (accepted, or the original for a duplicate)")
    code: str | None = Field(None, description="Why it was rejected (machine-readable)")
    message: str | None = None
    field: str | None = None


class SubmitResponse(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[RecordResult]


class EventError(BaseModel):
    code: str
    message: str | None


class EventStatus(BaseModel):
    event_id: int
    record_id: str
    kind: Literal["event", "correction", "inquiry"]
    status: Literal["pending", "submitted", "confirmed", "failed"]
    record_hash: str
    tx_hash: str | None
    block_number: int | None
    log_index: int | None
    error: EventError | None
