"""The credit report as every gateway returns it (API, CLI and console render the same model)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field


class Reason(BaseModel):
    code: str
    grade: str
    text: str
    value: int


class Evidence(BaseModel):
    kind: Literal["event", "correction", "dispute", "inquiry"]
    tx_hash: str
    log_index: int
    block_number: int


class LoanEntry(BaseModel):
    lender: str
    lender_name: str
    loan_key: str
    opened_on: dt.date | None
    principal_fen: int | None
    outstanding_fen: int
    status: Literal["active", "overdue", "default", "settled", "written_off"]
    days_past_due: int
    overdue_fen: int
    last_event_on: dt.date
    closed_on: dt.date | None
    payment_history: str = Field(description="24 months, newest first; see docs/reports.md for the alphabet")
    disputed: bool
    dispute_verification_overdue: bool
    events: int


class Summary(BaseModel):
    active_loans: int
    lenders_with_active_loans: int = Field(description="multi-lending count")
    total_outstanding_fen: int
    worst_current_dpd: int
    defaults_5y: int
    writeoffs_5y: int
    late_months_24m: int
    application_inquiry_lenders_30d: int
    application_inquiry_lenders_90d: int
    application_inquiry_lenders_180d: int
    open_disputes: int
    loans_total: int = Field(
        description="loans counted in this summary; the report lists at most the policy's max_loans_listed"
    )


class AsOf(BaseModel):
    block_number: int
    block_time: dt.datetime
    date: dt.date


class CreditReport(BaseModel):
    subject_key: str
    as_of: AsOf
    summary: Summary
    loans: list[LoanEntry]
    grade: Literal["A", "B", "C", "D", "E"]
    reasons: list[Reason]
    evidence: list[Evidence]
    policy_version: str
