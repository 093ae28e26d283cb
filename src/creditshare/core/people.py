"""People who use the console: accounts with Argon2id passwords, lock-out after repeated failures, and
server-side sessions with idle and absolute expiry and a CSRF token each.

Passwords are stretched with Argon2id (argon2-cffi's defaults: 64 MiB, 3 passes), so a stolen database costs an
attacker a memory-hard hash per guess. A session cookie carries a 256-bit random token; only its SHA-256 is
stored, so the table alone does not let anyone sign in.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from creditshare.core.clock import aware
from creditshare.core.db.tables import ConsoleSession, ConsoleUser
from creditshare.core.exceptions import CreditShareError

#: Shortest password accepted (NIST SP 800-63B asks for at least 8; staff accounts get more).
MIN_PASSWORD_LENGTH = 10
_HASHER = PasswordHasher()  # Argon2id; immutable parameters, safe to share


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so a wrong name costs the same time as a wrong password.
    Made once per process by `prepare_sign_in` (the console calls it as it starts, so even the first unknown name
    costs no extra hash), not at import: an Argon2id hash costs ~0.2 s of CPU, which every CLI command paid."""
    return _HASHER.hash("creditshare-no-such-user")


def prepare_sign_in() -> None:
    """Do the one-off work of `sign_in` now, before the first caller can time it."""
    _dummy_hash()


class Role(StrEnum):
    """What a console user may do."""

    UNDERWRITER = "underwriter"  # query reports
    AUDITOR = "auditor"  # read the audit log
    ADMIN = "admin"  # both


class PeopleError(CreditShareError):
    """Raised when an account cannot be created, found or changed (the message says what to fix)."""


class LoginRefused(CreditShareError):
    """Raised when a sign-in fails; `code` is `bad_credentials`, `locked` or `disabled`."""

    def __init__(self, code: str, message: str, locked_until: dt.datetime | None = None) -> None:
        super().__init__(message)
        self.code, self.locked_until = code, locked_until


@dataclass(frozen=True)
class Person:
    """A signed-in console user as the pages see them."""

    id: int
    username: str
    display_name: str
    role: Role

    @property
    def can_query(self) -> bool:
        return self.role in (Role.UNDERWRITER, Role.ADMIN)

    @property
    def can_audit(self) -> bool:
        return self.role in (Role.AUDITOR, Role.ADMIN)

    @property
    def audit_name(self) -> str:
        """How the audit log names this person."""
        return f"console:{self.username}"


@dataclass(frozen=True)
class LockoutPolicy:
    """`max_failures` wrong passwords in a row lock the account for `lock_for`."""

    max_failures: int = 5
    lock_for: dt.timedelta = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class SessionPolicy:
    """A session ends after `idle` without a request, and after `absolute` whatever happens."""

    idle: dt.timedelta = dt.timedelta(minutes=15)
    absolute: dt.timedelta = dt.timedelta(hours=8)


@dataclass(frozen=True)
class OpenSession:
    """A live session: the person, the CSRF token its forms must carry, and the cookie token (only on opening)."""

    person: Person
    csrf_token: str
    token: str = ""


def _person(user: ConsoleUser) -> Person:
    return Person(user.id, user.username, user.display_name, Role(user.role))


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PeopleError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")


def add_user(session: Session, username: str, display_name: str, role: Role, password: str) -> Person:
    """Create an account; raises `PeopleError` for a taken or malformed username or a short password."""
    if not username or len(username) > 64 or not username.replace("_", "").replace(".", "").isalnum():
        raise PeopleError("a username is 1-64 letters, digits, dots or underscores")
    _check_password(password)
    user = ConsoleUser(
        username=username,
        display_name=display_name or username,
        role=role.value,
        password_hash=_HASHER.hash(password),
        failed_logins=0,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        raise PeopleError(f"the username {username!r} is taken") from None
    return _person(user)


def _user(session: Session, username: str) -> ConsoleUser:
    user = session.scalars(select(ConsoleUser).where(ConsoleUser.username == username)).first()
    if user is None:
        raise PeopleError(f"no console user named {username!r} (see `creditshare users list`)")
    return user


def list_users(session: Session) -> list[ConsoleUser]:
    return list(session.scalars(select(ConsoleUser).order_by(ConsoleUser.id)))


def disable_user(session: Session, username: str, now: dt.datetime) -> None:
    """Disable an account and end its sessions at once."""
    user = _user(session, username)
    user.disabled_at = user.disabled_at or now
    session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user.id))


def reset_password(session: Session, username: str, password: str, now: dt.datetime) -> None:
    """Set a new password, lift a lock-out and end the account's sessions."""
    _check_password(password)
    user = _user(session, username)
    user.password_hash = _HASHER.hash(password)
    user.password_changed_at = now
    user.failed_logins, user.locked_until = 0, None
    session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user.id))


def sign_in(session: Session, username: str, password: str, now: dt.datetime, lockout: LockoutPolicy) -> Person:
    """The person whose password this is, counting failures; raises `LoginRefused`. The caller commits even on
    failure (the failure count must stick)."""
    user = session.scalars(select(ConsoleUser).where(ConsoleUser.username == username)).first()
    if user is None:
        _verify(_dummy_hash(), password)
        raise LoginRefused("bad_credentials", "wrong username or password")
    if user.locked_until is not None and aware(user.locked_until) > now:
        raise LoginRefused("locked", "too many wrong passwords: the account is locked", aware(user.locked_until))
    if not _verify(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= lockout.max_failures:
            user.failed_logins, user.locked_until = 0, now + lockout.lock_for
            raise LoginRefused("locked", "too many wrong passwords: the account is locked", user.locked_until)
        raise LoginRefused("bad_credentials", "wrong username or password")
    if user.disabled_at is not None:
        raise LoginRefused("disabled", "this account is disabled; ask an admin")
    user.failed_logins, user.locked_until = 0, None
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    return _person(user)


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def open_session(session: Session, person: Person, now: dt.datetime) -> OpenSession:
    """Start a session for `person`; the returned token goes in the cookie and nowhere else."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            token_hash=_token_hash(token), user_id=person.id, csrf_token=csrf, created_at=now, last_seen_at=now
        )
    )
    return OpenSession(person, csrf, token)


def resume_session(session: Session, token: str, now: dt.datetime, policy: SessionPolicy) -> OpenSession | None:
    """The live session of a cookie token, its last use moved to `now`; None (and the row deleted) when it is
    unknown, idle too long, too old, or its account disabled."""
    row = session.get(ConsoleSession, _token_hash(token))
    if row is None:
        return None
    user = session.get(ConsoleUser, row.user_id)
    expired = now - aware(row.last_seen_at) > policy.idle or now - aware(row.created_at) > policy.absolute
    if user is None or user.disabled_at is not None or expired:
        session.delete(row)
        session.flush()
        return None
    row.last_seen_at = now
    return OpenSession(_person(user), row.csrf_token)


def close_session(session: Session, token: str) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == _token_hash(token)))
