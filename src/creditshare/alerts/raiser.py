"""Raising alerts as the follower stores a range of logs, in the same transaction: an alert exists exactly when
the logs that caused it are in the index, and a range read twice raises nothing twice (alerts are keyed by their
log's position, like the index's rows).

A subject is watched while this lender has an open loan for it on chain (a loan whose latest event is not
`settled`), or while the lender watches it explicitly (`Watch`, which also stops automatic watching). Logs older
than the backfill window raise nothing, so a gateway indexing the chain from the start does not alert on history;
nor do credit events dated more than `event_age_days` before today (history a member imports now).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from creditshare.alerts.kinds import EVENT_KINDS, AlertKind
from creditshare.core.clock import CST
from creditshare.core.db import in_chunks
from creditshare.core.db.tables import Alert, IndexEvent, Watch, WebhookDelivery, WebhookEndpoint
from creditshare.domain.codec import ItemType
from creditshare.domain.disputes import DisputeId, due_at

#: (session, subject keys) → this lender's own reference for each subject it knows (its loan number)
SubjectReferences = Callable[[Session, set[bytes]], dict[bytes, str]]
#: (session, record hashes) → this lender's own reference for each of its records (the loan number)
RecordReferences = Callable[[Session, set[bytes]], dict[bytes, str]]


@dataclass(frozen=True)
class _Candidate:
    kind: AlertKind
    row: dict[str, Any]


def _day(number: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=number)


class AlertRaiser:
    """Raises this lender's alerts from the rows of one stored range (see the module docstring)."""

    def __init__(
        self,
        lender: str,
        subject_references: SubjectReferences,
        record_references: RecordReferences,
        *,
        backfill_seconds: int = 86_400,
        event_age_days: int = 7,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.lender = lender.lower()
        self._subject_references = subject_references
        self._record_references = record_references
        self.backfill_seconds = backfill_seconds
        self.event_age_days = event_age_days
        self._clock = clock

    def raise_alerts(self, session: Session, tables: dict[str, list[dict[str, Any]]], times: dict[int, int]) -> int:
        """Raise the alerts of one range (its accepted rows by table, its blocks' times) in `session`; returns
        how many were raised."""
        since = self._clock() - self.backfill_seconds
        candidates = [
            c
            for table in ("events", "inquiries", "disputes")
            for row in tables.get(table, ())
            if times.get(row["block_number"], 0) >= since and (c := self._candidate(table, row)) is not None
        ]
        if not candidates:
            return 0
        taken = self._taken(session, candidates)
        candidates = [c for c in candidates if (c.row["block_number"], c.row["log_index"]) not in taken]
        disputes = {c.row["record_hash"] for c in candidates if c.kind == AlertKind.DISPUTE_OPENED}
        watched = self._watched(
            session, {c.row["subject_key"] for c in candidates if c.kind != AlertKind.DISPUTE_OPENED}
        )
        by_record = self._record_references(session, disputes) if disputes else {}
        alerts = []
        for c in candidates:
            if c.kind == AlertKind.DISPUTE_OPENED:
                reference: str | None = by_record.get(c.row["record_hash"])
            elif c.row["subject_key"] in watched:
                reference = watched[c.row["subject_key"]]
            else:
                continue
            alerts.append(self._alert(c, reference, times))
        if not alerts:
            return 0
        session.add_all(alerts)
        session.flush()
        endpoints = session.scalars(select(WebhookEndpoint.id).where(WebhookEndpoint.removed_at.is_(None))).all()
        session.add_all(
            WebhookDelivery(alert_id=a.id, endpoint_id=e, state="pending") for a in alerts for e in endpoints
        )
        return len(alerts)

    def _candidate(self, table: str, row: dict[str, Any]) -> _Candidate | None:
        """The alert a row may raise (if its subject is watched), or None: other lenders' events of the kinds in
        `EVENT_KINDS` and their inquiries; disputes others opened against this lender's records."""
        if table == "disputes":
            mine = row["outcome"] == 0 and row["lender"] == self.lender and row["actor"] != self.lender
            return _Candidate(AlertKind.DISPUTE_OPENED, row) if mine else None
        if row["lender"] == self.lender:
            return None
        if table == "events":
            kind = EVENT_KINDS.get(row["item_type"])
            recent = row["occurred_day"] >= self._clock() // 86_400 - self.event_age_days  # not history imported now
            return _Candidate(kind, row) if kind is not None and recent else None
        return _Candidate(AlertKind.INQUIRY, row)

    def _alert(self, c: _Candidate, reference: str | None, times: dict[int, int]) -> Alert:
        row = c.row
        block_time = times[row["block_number"]]
        opened = dt.datetime.fromtimestamp(block_time, dt.UTC)
        disputed = c.kind == AlertKind.DISPUTE_OPENED
        return Alert(
            kind=c.kind.value,
            subject_key=row["subject_key"],
            reference=reference,
            other_lender=row["actor"] if disputed else row["lender"],
            occurred_on=_day(row["occurred_day"]) if "occurred_day" in row else opened.astimezone(CST).date(),
            block_number=row["block_number"],
            log_index=row["log_index"],
            block_time=block_time,
            dispute_id=str(DisputeId(row["block_number"], row["log_index"])) if disputed else None,
            deadline=due_at(opened) if disputed else None,
        )

    @staticmethod
    def _taken(session: Session, candidates: list[_Candidate]) -> set[tuple[int, int]]:
        """Positions among the candidates' that already raised an alert (a range read again)."""
        blocks = sorted({c.row["block_number"] for c in candidates})
        rows = session.execute(
            select(Alert.block_number, Alert.log_index).where(Alert.block_number.between(blocks[0], blocks[-1]))
        )
        return {(int(b), int(i)) for b, i in rows}

    def _watched(self, session: Session, subjects: set[bytes]) -> dict[bytes, str]:
        """The subjects among `subjects` this lender watches, each with its own reference."""
        if not subjects:
            return {}
        explicit: dict[bytes, tuple[bool, str]] = {}
        latest: dict[tuple[bytes, bytes], tuple[tuple[int, int, int], int]] = {}
        for chunk in in_chunks(sorted(subjects)):
            for key, watching, reference in session.execute(
                select(Watch.subject_key, Watch.watching, Watch.reference).where(Watch.subject_key.in_(chunk))
            ):
                explicit[key] = (watching, reference)
            for key, loan, item_type, day, block, index in session.execute(
                select(
                    IndexEvent.subject_key,
                    IndexEvent.loan_key,
                    IndexEvent.item_type,
                    IndexEvent.occurred_day,
                    IndexEvent.block_number,
                    IndexEvent.log_index,
                ).where(IndexEvent.lender == self.lender, IndexEvent.subject_key.in_(chunk))
            ):
                order = (int(day), int(block), int(index))
                if (key, loan) not in latest or latest[(key, loan)][0] < order:
                    latest[(key, loan)] = (order, int(item_type))
        open_loans = {key for (key, _), (_, item_type) in latest.items() if item_type != ItemType.SETTLED}
        automatic = open_loans - {key for key, (watching, _) in explicit.items() if not watching}
        references = self._subject_references(session, automatic - set(explicit))
        watched = {key: references.get(key, "") for key in automatic}
        watched.update({key: reference for key, (watching, reference) in explicit.items() if watching})
        return watched
