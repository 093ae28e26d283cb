"""Reading alerts by cursor, and the watch list: what an alert consumer (a loan system polling, or a person)
sees, and the subjects watched beyond the lender's open loans."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from creditshare.alerts.payload import alert_data, member_names
from creditshare.core.clock import utcnow
from creditshare.core.db import transaction
from creditshare.core.db.tables import Alert, Watch
from creditshare.domain.identity import IdType, KeyPurpose, SubjectKeySource, normalise


@dataclass(frozen=True)
class AlertPage:
    """Alerts after a cursor, oldest first, and the cursor to ask with next (unchanged when there are none)."""

    alerts: list[dict[str, Any]]
    next_cursor: int


class AlertFeed:
    """This lender's alerts (ids only grow: a consumer that stores `next_cursor` after processing a page reads
    every alert exactly once) and its explicit watch list."""

    def __init__(self, factory: sessionmaker[Session], keys: SubjectKeySource) -> None:
        self._factory = factory
        self._keys = keys

    def page(self, after: int = 0, limit: int = 100) -> AlertPage:
        with self._factory() as session:
            rows = session.scalars(select(Alert).where(Alert.id > after).order_by(Alert.id).limit(limit)).all()
            names = member_names(session) if rows else {}
            return AlertPage([alert_data(a, names) for a in rows], rows[-1].id if rows else after)

    def recent(self, limit: int = 200) -> list[dict[str, Any]]:
        """The newest alerts first (what a person looks at; programs read `page`)."""
        with self._factory() as session:
            rows = session.scalars(select(Alert).order_by(Alert.id.desc()).limit(limit)).all()
            names = member_names(session) if rows else {}
            return [alert_data(a, names) for a in rows]

    def watch_person(self, id_type: str, id_number: str, reference: str, *, watching: bool = True) -> None:
        """`watch` by the person's ID (their subject key is derived as for the lender's own customer); raises
        `InvalidIdentity`."""
        normal = normalise(id_type, id_number)  # first: it refuses an unknown id type (InvalidIdentity)
        person = (IdType(id_type).value, normal)
        self.watch(self._keys.record_keys([person], KeyPurpose.SUBMIT).subject(*person), reference, watching=watching)

    def watch(self, subject_key: bytes, reference: str, *, watching: bool = True) -> None:
        """Watch a subject (with the lender's reference for it), or stop watching it (even with an open loan)."""
        with transaction(self._factory) as session:
            row = session.scalar(select(Watch).where(Watch.subject_key == subject_key))
            if row is None:
                session.add(Watch(subject_key=subject_key, reference=reference, watching=watching))
            else:
                row.reference, row.watching, row.updated_at = reference, watching, utcnow()

    def watchlist(self) -> list[Watch]:
        with self._factory() as session:
            rows = session.scalars(select(Watch).order_by(Watch.id)).all()
            session.expunge_all()
            return list(rows)
