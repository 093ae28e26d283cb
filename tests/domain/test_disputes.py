"""Dispute ids, deadlines and states, and the objection's commitment."""

from __future__ import annotations

import datetime as dt

import pytest

from creditshare.domain.disputes import (
    VERIFY_DAYS,
    DisputeId,
    DisputeState,
    InvalidDisputeId,
    objection_hash,
    state_at,
)

OPENED = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)


def test_a_dispute_is_open_for_20_days_then_overdue_until_resolved() -> None:
    assert VERIFY_DAYS == 20
    assert state_at(OPENED, False, OPENED) == DisputeState.OPEN
    assert state_at(OPENED, False, OPENED + dt.timedelta(days=20)) == DisputeState.OPEN  # the 20th day still counts
    assert state_at(OPENED, False, OPENED + dt.timedelta(days=20, seconds=1)) == DisputeState.OVERDUE
    assert state_at(OPENED, True, OPENED + dt.timedelta(days=400)) == DisputeState.RESOLVED


def test_dispute_ids_round_trip_and_refuse_anything_else() -> None:
    assert DisputeId.parse("1234-0") == DisputeId(1234, 0)
    assert str(DisputeId(99, 7)) == "99-7"
    for bad in ("", "12", "12-", "-3", "1-2-3", "a-1", "1 -2", "9" * 13 + "-1"):
        with pytest.raises(InvalidDisputeId):
            DisputeId.parse(bad)


def test_objection_hash_binds_reference_record_and_statement() -> None:
    base = objection_hash("OBJ-1", "0xAbC", bytes(32), "我已全部还清")
    assert base == objection_hash("OBJ-1", "0xabc", bytes(32), "我已全部还清")  # addresses in any case
    changed = [
        objection_hash("OBJ-2", "0xabc", bytes(32), "我已全部还清"),
        objection_hash("OBJ-1", "0xabd", bytes(32), "我已全部还清"),
        objection_hash("OBJ-1", "0xabc", b"\x01" * 32, "我已全部还清"),
        objection_hash("OBJ-1", "0xabc", bytes(32), "我已全部还清。"),
        objection_hash("OBJ-", "10xabc", bytes(32), "我已全部还清"),  # length-prefixed: no shifting between parts
    ]
    assert len({base, *changed}) == 6 and all(len(h) == 32 for h in changed)
