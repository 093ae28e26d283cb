"""Every request and response model of the API, one module per resource (separate from storage models)."""

from creditshare.api.schemas.alerts import AlertOut, AlertPageOut, WatchRequest
from creditshare.api.schemas.borrower import (
    ObjectionRequest,
    ObjectionResponse,
    OwnReportResponse,
    VerifiedPerson,
)
from creditshare.api.schemas.disputes import DisputeList, DisputeOpenRequest, DisputeOut, DisputeResolveRequest
from creditshare.api.schemas.events import EventError, EventStatus, RecordResult, SubmitResponse
from creditshare.api.schemas.health import Health, Readiness
from creditshare.api.schemas.reports import PurposeName, ReportRequest, ReportResponse
from creditshare.api.schemas.verify import VerifyRequest, VerifyResult

__all__ = [
    "AlertOut",
    "AlertPageOut",
    "DisputeList",
    "DisputeOpenRequest",
    "DisputeOut",
    "DisputeResolveRequest",
    "EventError",
    "EventStatus",
    "Health",
    "ObjectionRequest",
    "ObjectionResponse",
    "OwnReportResponse",
    "PurposeName",
    "Readiness",
    "RecordResult",
    "ReportRequest",
    "ReportResponse",
    "SubmitResponse",
    "VerifiedPerson",
    "VerifyRequest",
    "VerifyResult",
    "WatchRequest",
]
