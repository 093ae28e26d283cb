"""A lease in the database: at most one live process holds a named lease (e.g. one submitter per lender key).

The holder renews it before it expires; a process that dies stops renewing and another may take over once the
lease has expired. Renewal is a write transaction, so `hold()` renews at most once per `renew_seconds`.

A process can also *stall* past its lease (a long recovery, a stopped VM) and wake up believing it still holds
it. So the lease carries a fencing token, advanced whenever it changes hands, and every write that only the
holder may make calls `fence(session)` inside its own transaction: a process that lost the lease fails there
instead of writing.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from creditshare.core.clock import utcnow
from creditshare.core.db import transaction
from creditshare.core.db.tables import Lock
from creditshare.core.exceptions import CreditShareError


class LeaseLost(CreditShareError):
    """Raised by `Lease.fence` when another process holds the lease now (this one must stop and re-acquire)."""


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
        self.token: int | None = None  # the fencing token while this process holds the lease

    def acquire(self) -> bool:
        """Take or renew the lease; False if another live process holds it. Taking it over advances the token."""
        now = utcnow()
        expires = now + dt.timedelta(seconds=self.seconds)
        try:
            with transaction(self._factory) as session:
                renewed = session.execute(
                    update(Lock)
                    .where(Lock.name == self.name, Lock.owner == self.owner, Lock.token == (self.token or 0))
                    .values(expires_at=expires)
                )
                if renewed.rowcount == 1 and self.token is not None:  # type: ignore[attr-defined]
                    return True
                taken = session.execute(
                    update(Lock)
                    .where(Lock.name == self.name, (Lock.owner == self.owner) | (Lock.expires_at < now))
                    .values(owner=self.owner, expires_at=expires, token=Lock.token + 1)
                    .returning(Lock.token)
                ).scalar_one_or_none()
                if taken is None:
                    if session.get(Lock, self.name) is not None:
                        self.token = None
                        return False
                    session.add(Lock(name=self.name, owner=self.owner, expires_at=expires, token=1))
                    taken = 1
            self.token = int(taken)
            return True
        except IntegrityError:
            self.token = None
            return False

    def fence(self, session: Session) -> None:
        """Raise `LeaseLost` unless this process still holds the lease, as seen by `session`'s transaction (on
        PostgreSQL the row is locked until it ends, so the lease cannot change hands before the write commits)."""
        query = select(Lock.owner, Lock.token).where(Lock.name == self.name)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        row = session.execute(query).first()
        if self.token is None or row is None or (row.owner, row.token) != (self.owner, self.token):
            self._fresh_until = 0.0
            raise LeaseLost(f"lease {self.name} is held by another process now")

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
        """Give the lease up (if still ours): it expires now, and the row stays so its token only ever grows."""
        self._fresh_until = 0.0
        with transaction(self._factory) as session:
            session.execute(
                update(Lock)
                .where(Lock.name == self.name, Lock.owner == self.owner)
                .values(expires_at=utcnow() - dt.timedelta(seconds=1))
            )
        self.token = None
