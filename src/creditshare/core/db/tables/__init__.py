"""Every table, split by the area that owns it; importing this package registers them all on `Base.metadata`."""

from creditshare.core.db.tables.alerts import Alert, Watch, WebhookDelivery, WebhookEndpoint
from creditshare.core.db.tables.audit import AuditEntry
from creditshare.core.db.tables.clients import ApiClient
from creditshare.core.db.tables.console import BorrowerObjection, ConsoleSession, ConsoleUser
from creditshare.core.db.tables.index import (
    IndexBlock,
    IndexCorrection,
    IndexDispute,
    IndexEvent,
    IndexInquiry,
    IndexMemberEvent,
    IndexQuarantine,
    IndexState,
)
from creditshare.core.db.tables.keyshare import KeyshareAnchor, KeyshareLogEntry, SubjectKeyCache
from creditshare.core.db.tables.outbox import Batch, Lock, OutboxItem

__all__ = [
    "Alert",
    "ApiClient",
    "AuditEntry",
    "Batch",
    "BorrowerObjection",
    "ConsoleSession",
    "ConsoleUser",
    "IndexBlock",
    "IndexCorrection",
    "IndexDispute",
    "IndexEvent",
    "IndexInquiry",
    "IndexMemberEvent",
    "IndexQuarantine",
    "IndexState",
    "KeyshareAnchor",
    "KeyshareLogEntry",
    "Lock",
    "OutboxItem",
    "SubjectKeyCache",
    "Watch",
    "WebhookDelivery",
    "WebhookEndpoint",
]
