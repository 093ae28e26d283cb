"""Console accounts on a real SQLite database: Argon2id hashes, lock-out, disabling, password resets and session
expiry, with the clock passed in (no sleeping)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from creditshare.core import people
from creditshare.core.db import make_engine, session_factory, transaction
from creditshare.core.db.tables import ConsoleSession, ConsoleUser
from creditshare.core.people import LockoutPolicy, LoginRefused, PeopleError, Role, SessionPolicy

T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
LOCKOUT = LockoutPolicy(max_failures=3, lock_for=dt.timedelta(minutes=15))
SESSIONS = SessionPolicy(idle=dt.timedelta(minutes=15), absolute=dt.timedelta(hours=8))
PASSWORD = "correct horse battery"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    factory = session_factory(engine)
    with transaction(factory) as session:
        people.add_user(session, "zhang.san", "张三", Role.UNDERWRITER, PASSWORD)
    with transaction(factory) as session:
        yield session
    engine.dispose()


def test_passwords_are_stored_only_as_argon2id(db: Session) -> None:
    stored = db.scalars(select(ConsoleUser.password_hash)).one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert people.sign_in(db, "zhang.san", PASSWORD, T0, LOCKOUT).display_name == "张三"


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [("zhang.san", PASSWORD, "taken"), ("bad name!", PASSWORD, "letters, digits"), ("li", "short", "at least 10")],
)
def test_bad_accounts_are_refused(db: Session, username: str, password: str, message: str) -> None:
    with pytest.raises(PeopleError, match=message):
        people.add_user(db, username, "", Role.AUDITOR, password)


def test_wrong_passwords_lock_the_account_and_the_lock_expires(db: Session) -> None:
    for attempt in range(2):
        with pytest.raises(LoginRefused) as refused:
            people.sign_in(db, "zhang.san", "wrong password", T0, LOCKOUT)
        assert refused.value.code == "bad_credentials", attempt
    with pytest.raises(LoginRefused) as refused:
        people.sign_in(db, "zhang.san", "wrong password", T0, LOCKOUT)
    assert refused.value.code == "locked" and refused.value.locked_until == T0 + LOCKOUT.lock_for
    with pytest.raises(LoginRefused, match="locked"):  # even the right password, while locked
        people.sign_in(db, "zhang.san", PASSWORD, T0 + dt.timedelta(minutes=14), LOCKOUT)
    assert people.sign_in(db, "zhang.san", PASSWORD, T0 + dt.timedelta(minutes=16), LOCKOUT)


def test_an_unknown_user_and_a_wrong_password_look_the_same(db: Session) -> None:
    codes = []
    for username in ("nobody", "zhang.san"):
        with pytest.raises(LoginRefused) as refused:
            people.sign_in(db, username, "wrong password", T0, LOCKOUT)
        codes.append((refused.value.code, str(refused.value)))
    assert codes[0] == codes[1]


def test_sessions_end_when_idle_too_long_or_too_old(db: Session) -> None:
    person = people.sign_in(db, "zhang.san", PASSWORD, T0, LOCKOUT)
    opened = people.open_session(db, person, T0)
    assert db.scalars(select(ConsoleSession.token_hash)).one() != opened.token.encode()  # only a hash is stored
    now = T0
    for _ in range(40):  # active every 14 minutes: alive, until the 8-hour absolute limit
        now += dt.timedelta(minutes=14)
        live = people.resume_session(db, opened.token, now, SESSIONS)
        if now - T0 > SESSIONS.absolute:
            assert live is None
            break
        assert live is not None and live.csrf_token == opened.csrf_token
    else:
        pytest.fail("the session never hit its absolute expiry")
    second = people.open_session(db, person, now)
    assert people.resume_session(db, second.token, now + dt.timedelta(minutes=16), SESSIONS) is None  # idle
    assert people.resume_session(db, second.token, now, SESSIONS) is None  # and gone for good


def test_disabling_or_resetting_ends_sessions_and_reset_lifts_a_lock(db: Session) -> None:
    person = people.sign_in(db, "zhang.san", PASSWORD, T0, LOCKOUT)
    first = people.open_session(db, person, T0)
    people.reset_password(db, "zhang.san", "a brand new password", T0)
    assert people.resume_session(db, first.token, T0, SESSIONS) is None
    with pytest.raises(LoginRefused):
        people.sign_in(db, "zhang.san", PASSWORD, T0, LOCKOUT)
    second = people.open_session(db, people.sign_in(db, "zhang.san", "a brand new password", T0, LOCKOUT), T0)
    people.disable_user(db, "zhang.san", T0)
    assert people.resume_session(db, second.token, T0, SESSIONS) is None
    with pytest.raises(LoginRefused) as refused:
        people.sign_in(db, "zhang.san", "a brand new password", T0, LOCKOUT)
    assert refused.value.code == "disabled"
    with pytest.raises(PeopleError, match="no console user"):
        people.disable_user(db, "nobody", T0)
