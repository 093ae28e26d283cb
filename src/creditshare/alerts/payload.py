"""The body of an alert as the feed and webhooks carry it: the lender's own reference, the kind, the date and the
block — never another lender's record content beyond what a report shows (its name, not its amounts)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from creditshare.core.clock import aware
from creditshare.core.db.tables import Alert, IndexMemberEvent


def member_names(session: Session) -> dict[str, str]:
    """Every member's name, as admitted (the registry's logs in the index)."""
    rows = session.execute(
        select(IndexMemberEvent.address, IndexMemberEvent.name).where(IndexMemberEvent.name.is_not(None))
    )
    return {address: str(name) for address, name in rows}


def alert_data(alert: Alert, names: dict[str, str]) -> dict[str, Any]:
    """An alert as JSON-ready data."""
    return {
        "id": alert.id,
        "kind": alert.kind,
        "reference": alert.reference,
        "subject_key": "0x" + alert.subject_key.hex(),
        "other_lender": alert.other_lender,
        "other_lender_name": names.get(alert.other_lender),
        "occurred_on": alert.occurred_on.isoformat() if alert.occurred_on else None,
        "block_number": alert.block_number,
        "block_time": dt.datetime.fromtimestamp(alert.block_time, dt.UTC).isoformat(),
        "dispute_id": alert.dispute_id,
        "deadline": aware(alert.deadline).isoformat() if alert.deadline else None,
    }


def webhook_body(alert: Alert, names: dict[str, str]) -> bytes:
    """The Standard Webhooks payload of an alert: `type`, `timestamp` and `data`."""
    body = {
        "type": f"alert.{alert.kind}",
        "timestamp": aware(alert.raised_at).isoformat(),
        "data": alert_data(alert, names),
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def message_id(alert_id: int) -> str:
    """The `webhook-id` of an alert: the same on every attempt, so a receiver drops repeats by it."""
    return f"alert_{alert_id}"
