"""Record validation rules and the canonical record hash (the documented example must match the code)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditshare.core.secrets import ConsortiumSecret
from creditshare.domain import codec
from creditshare.domain.identity import HmacKeys
from creditshare.domain.records import RECORD_HASH_DOMAIN, CreditEventIn, InvalidRecord, normalise_event

SECRET = ConsortiumSecret(1, bytes(range(32)))
LENDER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
TODAY = dt.date(2026, 11, 29)
BASE = {
    "record_id": "EVT-2026-000123",
    "event_type": "loan_opened",
    "id_type": "resident_id",
    "id_number": "11010519491231002X",
    "loan_number": "L-2026-0001",
    "occurred_on": "2026-01-05",
    "principal_fen": 5_000_000,
}


def normalise(**changes: Any) -> Any:
    record = {k: v for k, v in {**BASE, **changes}.items() if v is not None}
    return normalise_event(CreditEventIn.model_validate(record), lender=LENDER, keys=HmacKeys(SECRET), today=TODAY)


def test_documented_canonical_example_matches_code() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "data-dictionary.md").read_text()
    event = normalise()
    assert event.canonical.decode() in doc
    assert event.record_hash.hex() in doc
    assert event.record_hash == hashlib.sha256(RECORD_HASH_DOMAIN + event.canonical).digest()
    assert not re.search(r"11010519491231002X", event.canonical.decode())  # the id never enters the record


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"principal_fen": None}, "missing_field", "principal_fen"),
        ({"outstanding_fen": 10}, "unexpected_field", "outstanding_fen"),
        ({"overdue_fen": 5}, "unexpected_field", "overdue_fen"),
        ({"event_type": "repayment", "principal_fen": None}, "missing_field", "outstanding_fen"),
        ({"event_type": "repayment"}, "unexpected_field", "principal_fen"),
        ({"event_type": "overdue", "principal_fen": None, "outstanding_fen": 100}, "missing_field", "overdue_fen"),
        (
            {"event_type": "overdue", "principal_fen": None, "outstanding_fen": 100, "overdue_fen": 10},
            "missing_field",
            "days_past_due",
        ),
        (
            {
                "event_type": "overdue",
                "principal_fen": None,
                "outstanding_fen": 100,
                "overdue_fen": 200,
                "days_past_due": 3,
            },
            "invalid_amount",
            "overdue_fen",
        ),
        ({"event_type": "settled", "principal_fen": None, "outstanding_fen": 5}, "invalid_amount", "outstanding_fen"),
        ({"occurred_on": "2026-11-30"}, "future_date", "occurred_on"),
        ({"occurred_on": "1989-12-31"}, "date_out_of_range", "occurred_on"),
        ({"id_number": "110105194912310021"}, "invalid_check_character", "id_number"),
        ({"id_type": "passport"}, "invalid_id_type", "id_type"),
    ],
)
def test_rules_reject_with_code_and_field(changes: dict[str, Any], code: str, field: str) -> None:
    with pytest.raises(InvalidRecord) as info:
        normalise(**changes)
    assert (info.value.code, info.value.field) == (code, field)


def test_settled_without_balance_is_zero_amount() -> None:
    event = normalise(event_type="settled", principal_fen=None)
    assert event.amount_fen == 0
    assert codec.unpack_event_data(event.data_word).item_type == codec.ItemType.SETTLED


def test_correction_hash_commits_to_original() -> None:
    plain = normalise()
    correction = normalise_event(
        CreditEventIn.model_validate({**BASE, "record_id": "EVT-2", "corrects": "EVT-2026-000123"}),
        lender=LENDER,
        keys=HmacKeys(SECRET),
        corrects_hash=plain.record_hash,
        today=TODAY,
    )
    assert plain.record_hash.hex() in correction.canonical.decode()


@given(
    st.sampled_from(["repayment", "default", "written_off"]),
    st.integers(0, 10**15),
    st.integers(0, 10**15),
    st.integers(0, 36_500),
    st.dates(dt.date(1990, 1, 1), TODAY),
)
def test_valid_records_round_trip_through_data_word(
    kind: str, outstanding: int, overdue: int, dpd: int, day: dt.date
) -> None:
    overdue = min(overdue, outstanding)
    event = normalise(
        event_type=kind,
        principal_fen=None,
        outstanding_fen=outstanding,
        overdue_fen=overdue,
        days_past_due=dpd,
        occurred_on=day.isoformat(),
    )
    decoded = codec.unpack_event_data(event.data_word)
    assert (decoded.occurred_on, decoded.amount_fen, decoded.overdue_fen, decoded.days_past_due) == (
        day,
        outstanding,
        overdue,
        dpd,
    )
