"""Request and response models of POST /v1/verify."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from creditshare.domain.records import CreditEventIn


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lender: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$", description="Address of the lender that recorded it")
    record: CreditEventIn = Field(description="The full record as the lender disclosed it")
    corrects_hash: str | None = Field(
        default=None, pattern=r"^0x[0-9a-fA-F]{64}$", description="For a correction: the corrected record's hash"
    )


class VerifyResult(BaseModel):
    match: bool
    record_hash: str = Field(description="The record hash recomputed from the disclosed record")
    lender: str
    lender_name: str | None = None
    block_number: int | None = None
    tx_hash: str | None = None
    log_index: int | None = None
    corrected_by: str | None = Field(default=None, description="Record hash of a correction that replaced this record")
    disputed: bool = False
