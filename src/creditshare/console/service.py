"""What the console's pages do with people: sign in, resume and end sessions, each in its own transaction.

Routes call this and never touch SQL; the rules themselves (Argon2id, lock-out, expiry) live in
`core.people`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from creditshare.core import people
from creditshare.core.clock import utcnow
from creditshare.core.config import Settings
from creditshare.core.db import transaction
from creditshare.core.people import LockoutPolicy, LoginRefused, OpenSession, SessionPolicy


class ConsoleAccounts:
    """Sign-in and sessions over the gateway's database, with the policies of `settings`."""

    def __init__(
        self, factory: sessionmaker[Session], settings: Settings, clock: Callable[[], dt.datetime] = utcnow
    ) -> None:
        self._factory = factory
        self._clock = clock
        self.lockout = LockoutPolicy(
            settings.console_max_failures, dt.timedelta(minutes=settings.console_lockout_minutes)
        )
        self.sessions = SessionPolicy(
            dt.timedelta(minutes=settings.console_idle_minutes), dt.timedelta(hours=settings.console_session_hours)
        )
        people.prepare_sign_in()

    def sign_in(self, username: str, password: str) -> OpenSession:
        """A new session for these credentials; raises `LoginRefused` (its failure count committed)."""
        now = self._clock()
        refused: LoginRefused | None = None
        with transaction(self._factory) as session:
            try:
                person = people.sign_in(session, username, password, now, self.lockout)
            except LoginRefused as exc:
                refused = exc  # commit the failure count before raising
            else:
                return people.open_session(session, person, now)
        raise refused

    def resume(self, token: str) -> OpenSession | None:
        """The live session of a cookie token (its idle clock restarted), or None."""
        with transaction(self._factory) as session:
            return people.resume_session(session, token, self._clock(), self.sessions)

    def sign_out(self, token: str) -> None:
        with transaction(self._factory) as session:
            people.close_session(session, token)
