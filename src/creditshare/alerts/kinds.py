"""What an alert is about: the kinds of other members' logs that raise one."""

from __future__ import annotations

from enum import StrEnum

from creditshare.domain.codec import ItemType


class AlertKind(StrEnum):
    """The kind of an alert (docs/alerts.md)."""

    NEW_LOAN = "new_loan"  # another lender opened a loan for a watched subject
    OVERDUE = "overdue"  # ... recorded an overdue
    DEFAULT = "default"  # ... a default
    WRITE_OFF = "write_off"  # ... a write-off
    INQUIRY = "inquiry"  # another lender looked the subject up
    DISPUTE_OPENED = "dispute_opened"  # someone opened a dispute against one of this lender's records


#: The credit events that raise an alert, by item type.
EVENT_KINDS: dict[int, AlertKind] = {
    ItemType.LOAN_OPENED: AlertKind.NEW_LOAN,
    ItemType.OVERDUE: AlertKind.OVERDUE,
    ItemType.DEFAULT: AlertKind.DEFAULT,
    ItemType.WRITTEN_OFF: AlertKind.WRITE_OFF,
}
