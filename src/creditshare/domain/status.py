"""The states of the write path, shared by the outbox, the submitter, the importer and the API."""

from __future__ import annotations

from enum import StrEnum


class ItemStatus(StrEnum):
    """Where an outbox item stands: pending → submitted → confirmed, or failed with a reason."""

    PENDING = "pending"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    FAILED = "failed"


#: Items not yet settled: the outbox backlog.
OPEN_STATUSES = (ItemStatus.PENDING, ItemStatus.SUBMITTED)


class ItemKind(StrEnum):
    """What an outbox item records on chain."""

    EVENT = "event"
    CORRECTION = "correction"
    INQUIRY = "inquiry"


class BatchStatus(StrEnum):
    """Where a signed batch transaction stands."""

    SIGNED = "signed"
    CONFIRMED = "confirmed"
    FAILED = "failed"


class RecordStatus(StrEnum):
    """What happened to one submitted record."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
