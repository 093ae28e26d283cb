"""A lease in the database: at most one live process holds a named lease (e.g. one submitter per lender key).

The holder renews it before it expires; a process that dies stops renewing and another may take over once the
lease has expired. Renewal is a write transaction, so `hold()` renews at most once per `renew_seconds`.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from creditshare.core.clock import utcnow
from creditshare.core.db import transaction
from creditshare.core.db.tables import Lock


class Lease:
    """One process's claim on the lease called `name`."""

    def __init__(
        self, factory: sessionmaker[Session], name: str, *, seconds: float = 10.0, renew_seconds: float = 1.0
    ) -> None:
        self._factory = factory
        self.name = name
        self.owner = uuid.uuid4().hex
        self.seconds = seconds
        self.renew_seconds = renew_seconds
        self._fresh_until = 0.0

    def acquire(self) -> bool:
        """Take or renew the lease; False if another live process holds it."""
        now = utcnow()
        expires = now + dt.timedelta(seconds=self.seconds)
        try:
            with transaction(self._factory) as session:
                result = session.execute(
                    update(Lock)
                    .where(Lock.name == self.name)
                    .where((Lock.owner == self.owner) | (Lock.expires_at < now))
                    .values(owner=self.owner, expires_at=expires)
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    return True
                if session.get(Lock, self.name) is not None:
                    return False
                session.add(Lock(name=self.name, owner=self.owner, expires_at=expires))
            return True
        except IntegrityError:
            return False

    def hold(self) -> bool:
        """`acquire`, but a lease renewed less than `renew_seconds` ago counts as held."""
        now = time.monotonic()
        if now < self._fresh_until:
            return True
        if not self.acquire():
            self._fresh_until = 0.0
            return False
        self._fresh_until = now + self.renew_seconds
        return True

    def release(self) -> None:
        """Give the lease up (if still ours)."""
        self._fresh_until = 0.0
        with transaction(self._factory) as session:
            lock = session.get(Lock, self.name)
            if lock is not None and lock.owner == self.owner:
                session.delete(lock)
