"""The item codec: data-word layout (as documented in ICreditLedger.sol), round trips and range checks."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditshare.domain import codec
from creditshare.domain.codec import EPOCH, MAX_U16, MAX_U32, MAX_U64, EventData, ItemType

CREDIT_TYPES = [t for t in ItemType if t != ItemType.INQUIRY]

credit_types = st.sampled_from(CREDIT_TYPES)
days = st.dates(min_value=EPOCH, max_value=dt.date.max)
u64 = st.integers(min_value=0, max_value=MAX_U64)
u16 = st.integers(min_value=0, max_value=MAX_U16)
purposes = st.integers(min_value=1, max_value=255)


def layout(item_type: int, day: int, amount: int, overdue: int, dpd: int) -> int:
    """The data word built byte by byte from the interface's table, independently of the codec's shifts."""
    raw = (
        item_type.to_bytes(1, "big")
        + day.to_bytes(4, "big")
        + amount.to_bytes(8, "big")
        + overdue.to_bytes(8, "big")
        + dpd.to_bytes(2, "big")
        + bytes(9)
    )
    assert len(raw) == 32
    return int.from_bytes(raw, "big")


# ---------------------------------------------------------------------------------------------------- credit events


@given(item_type=credit_types, occurred_on=days, amount=u64, overdue=u64, dpd=u16)
def test_pack_event_data_round_trip(
    item_type: ItemType, occurred_on: dt.date, amount: int, overdue: int, dpd: int
) -> None:
    data = codec.pack_event_data(item_type, occurred_on, amount, overdue, dpd)
    assert 0 <= data < 2**256
    assert codec.item_type_of(data) == item_type
    assert codec.unpack_event_data(data) == EventData(item_type, occurred_on, amount, overdue, dpd)


@given(item_type=credit_types, occurred_on=days, amount=u64, overdue=u64, dpd=u16)
def test_pack_event_data_matches_documented_layout(
    item_type: ItemType, occurred_on: dt.date, amount: int, overdue: int, dpd: int
) -> None:
    data = codec.pack_event_data(item_type, occurred_on, amount, overdue, dpd)
    assert data == layout(int(item_type), codec.day_number(occurred_on), amount, overdue, dpd)
    assert data & (2**72 - 1) == 0  # bytes 23-31 are zero


def test_pack_event_data_known_vector() -> None:
    data = codec.pack_event_data(ItemType.OVERDUE, dt.date(2025, 3, 1), 1_000_000, 250_000, 31)
    assert data.to_bytes(32, "big").hex() == (
        "03"  # type
        "00004eb4"  # 2025-03-01 = day 20148
        "00000000000f4240"  # 1,000,000 fen
        "000000000003d090"  # 250,000 fen
        "001f"  # 31 days
        "000000000000000000"
    )


def test_pack_event_data_defaults_zero() -> None:
    data = codec.pack_event_data(ItemType.LOAN_OPENED, EPOCH, 0)
    assert data == 1 << 248
    assert codec.unpack_event_data(data) == EventData(ItemType.LOAN_OPENED, EPOCH, 0, 0, 0)


def test_pack_event_data_all_fields_max_stay_separate() -> None:
    data = codec.pack_event_data(ItemType.WRITTEN_OFF, dt.date.max, MAX_U64, MAX_U64, MAX_U16)
    assert codec.unpack_event_data(data) == EventData(ItemType.WRITTEN_OFF, dt.date.max, MAX_U64, MAX_U64, MAX_U16)
    assert data.to_bytes(32, "big")[13:23] == b"\xff" * 10  # overdue and days past due, adjacent, both full


def test_day_number() -> None:
    assert codec.day_number(EPOCH) == 0
    assert codec.day_number(dt.date(1970, 1, 2)) == 1
    assert codec.day_number(dt.date(2025, 3, 1)) == 20148
    assert codec.day_number(dt.date.max) <= MAX_U32


@given(
    item_type=credit_types,
    occurred_on=days,
    amount=st.one_of(st.integers(max_value=-1), st.integers(min_value=MAX_U64 + 1)),
)
def test_pack_event_data_amount_out_of_range_raises(item_type: ItemType, occurred_on: dt.date, amount: int) -> None:
    with pytest.raises(ValueError, match="amount_fen"):
        codec.pack_event_data(item_type, occurred_on, amount)


@given(item_type=credit_types, overdue=st.one_of(st.integers(max_value=-1), st.integers(min_value=MAX_U64 + 1)))
def test_pack_event_data_overdue_out_of_range_raises(item_type: ItemType, overdue: int) -> None:
    with pytest.raises(ValueError, match="overdue_fen"):
        codec.pack_event_data(item_type, EPOCH, 1, overdue)


@given(item_type=credit_types, dpd=st.one_of(st.integers(max_value=-1), st.integers(min_value=MAX_U16 + 1)))
def test_pack_event_data_days_past_due_out_of_range_raises(item_type: ItemType, dpd: int) -> None:
    with pytest.raises(ValueError, match="days_past_due"):
        codec.pack_event_data(item_type, EPOCH, 1, 0, dpd)


@given(item_type=credit_types, occurred_on=st.dates(max_value=EPOCH - dt.timedelta(days=1)))
def test_pack_event_data_date_before_epoch_raises(item_type: ItemType, occurred_on: dt.date) -> None:
    with pytest.raises(ValueError, match="occurred_on"):
        codec.pack_event_data(item_type, occurred_on, 1)


@pytest.mark.parametrize(
    ("amount", "overdue", "dpd"),
    [(-1, 0, 0), (MAX_U64 + 1, 0, 0), (0, -1, 0), (0, MAX_U64 + 1, 0), (0, 0, -1), (0, 0, MAX_U16 + 1)],
)
def test_pack_event_data_boundary_plus_one_raises(amount: int, overdue: int, dpd: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        codec.pack_event_data(ItemType.REPAYMENT, EPOCH, amount, overdue, dpd)


def test_pack_event_data_inquiry_type_raises() -> None:
    with pytest.raises(ValueError, match="pack_inquiry_data"):
        codec.pack_event_data(ItemType.INQUIRY, EPOCH, 0)


# ---------------------------------------------------------------------------------------------------- inquiries


@given(purpose=purposes)
def test_pack_inquiry_data_round_trip(purpose: int) -> None:
    data = codec.pack_inquiry_data(purpose)
    assert codec.item_type_of(data) == ItemType.INQUIRY
    assert codec.unpack_inquiry_purpose(data) == purpose
    assert data.to_bytes(32, "big") == bytes([16, purpose]) + bytes(30)


@given(purpose=st.one_of(st.integers(max_value=0), st.integers(min_value=256)))
def test_pack_inquiry_data_purpose_out_of_range_raises(purpose: int) -> None:
    with pytest.raises(ValueError, match="purpose"):
        codec.pack_inquiry_data(purpose)


# ---------------------------------------------------------------------------------------------------- batches


@given(
    items=st.lists(
        st.tuples(
            st.binary(min_size=32, max_size=32),
            st.binary(min_size=32, max_size=32),
            st.binary(min_size=32, max_size=32),
            st.integers(min_value=0, max_value=2**256 - 1),
        ),
        max_size=8,
    )
)
def test_encode_items_flattens_four_words_each(items: list[tuple[bytes, bytes, bytes, int]]) -> None:
    words = codec.encode_items(items)
    assert len(words) == 4 * len(items)
    for i, (subject_key, key, record_hash, data) in enumerate(items):
        assert words[4 * i : 4 * i + 4] == [subject_key, key, record_hash, data.to_bytes(32, "big")]
