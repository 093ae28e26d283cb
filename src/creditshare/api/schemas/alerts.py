"""Response and request models of /v1/alerts and /v1/watchlist: post-loan alerts (贷后预警)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from creditshare.api.schemas.borrower import VerifiedPerson


class AlertOut(BaseModel):
    """One alert: this lender's own reference, the kind, the date and the block — never another lender's record
    content beyond what a report shows."""

    id: int = Field(description="The feed's cursor: ids only grow")
    kind: Literal["new_loan", "overdue", "default", "write_off", "inquiry", "dispute_opened"]
    reference: str | None = Field(description="This lender's own reference (its loan number) for the subject")
    subject_key: str
    other_lender: str
    other_lender_name: str | None
    occurred_on: dt.date | None
    block_number: int
    block_time: dt.datetime
    dispute_id: str | None = None
    deadline: dt.datetime | None = Field(None, description="dispute_opened: the answer is due by then")


class AlertPageOut(BaseModel):
    alerts: list[AlertOut]
    next_cursor: int = Field(description="Ask with after=next_cursor next; store it once these are processed")


class WatchRequest(VerifiedPerson):
    """Watch a subject beyond this lender's open loans (or stop watching one, even with an open loan)."""

    reference: str = Field(min_length=1, max_length=64, description="This lender's reference for the person")
    watching: bool = True
