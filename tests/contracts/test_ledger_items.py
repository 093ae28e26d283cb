"""CreditLedger's item checks against a real Ganache chain: a member's raw transaction with out-of-range fields
reverts with the exact custom error, and everything the gateway's own validation accepts is accepted.

Every other member may be hostile or buggy. The ledger checks each data word against the rules the gateway applies
to its own records (`domain.records`: `CreditEventIn` and `check_rules`): the day between 1990-01-01 and the
block's day + 1, amounts within 10^15 fen and days past due within 36,500, what each type allows, zero unused
bytes, and inquiry purposes 1-6. Before issue 11 it checked only the keys and the type byte.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from web3.types import TxReceipt

from creditshare.chain.rpc import translate_errors
from creditshare.core.exceptions import ContractRevert
from creditshare.domain import codec, records
from creditshare.domain.codec import ItemType
from creditshare.domain.purposes import Purpose
from tests.support import Consortium, credit_item, events, expect_revert, inquiry_item, random_key

Item = tuple[bytes, bytes, bytes, int]

DAY = 86_400
EARLIEST_DAY = codec.day_number(records.EARLIEST_DATE)  # 7305
MAX_FEN = records.MAX_FEN
MAX_DPD = records.MAX_DAYS_PAST_DUE
MAX_U64 = 2**64 - 1
OPENED, REPAID, OVERDUE, DEFAULT, SETTLED, WRITTEN_OFF = (t for t in ItemType if t != ItemType.INQUIRY)


@pytest.fixture
def lender(consortium: Consortium) -> LocalAccount:
    return consortium.accounts[3]


@pytest.fixture
def latest_day(consortium: Consortium) -> Iterator[int]:
    """The chain clock moved to the next UTC noon (so no test straddles midnight); yields the latest day a credit
    event may carry there, the block's day + 1. The whole chain, clock included, is reverted afterwards."""
    w3 = consortium.w3
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    now = int(w3.eth.get_block("latest")["timestamp"])
    noon = (now // DAY + 1) * DAY + DAY // 2
    w3.provider.make_request("evm_increaseTime", [noon - now])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    block_day = int(w3.eth.get_block("latest")["timestamp"]) // DAY
    assert block_day == noon // DAY
    yield block_day + 1
    assert w3.provider.make_request("evm_revert", [snapshot])["result"] is True  # type: ignore[arg-type]


def word(item_type: int, day: int, amount: int = 0, overdue: int = 0, days_past_due: int = 0, padding: int = 0) -> int:
    """A credit event's data word from raw fields (no range checks: this is what a rogue member can send)."""
    return (item_type << 248) | (day << 216) | (amount << 152) | (overdue << 88) | (days_past_due << 72) | padding


def item_of(data: int) -> Item:
    return (random_key(), random_key(), random_key(), data)


def send(c: Consortium, account: LocalAccount, items: list[Item]) -> Callable[[], TxReceipt]:
    """A deferred raw `recordBatch` at the account's next sequence number, signed by the member itself."""
    seq = c.ledger.functions.nextSequence(account.address).call()
    return lambda: c.tx(account).transact(c.ledger.functions.recordBatch(seq, codec.encode_items(items)))


def correct(c: Consortium, account: LocalAccount, items: list[Item], index: int, item: Item) -> Callable[[], TxReceipt]:
    """Record `items` now; returns a deferred correction of `items[index]` by `item`."""
    seq = c.ledger.functions.nextSequence(account.address).call()
    c.record(account, items, seq)
    ref = (account.address, seq, index, [i[2] for i in items])
    fn = c.ledger.functions.correctRecord(seq + 1, ref, codec.encode_items([item]))
    return lambda: c.tx(account).transact(fn)


def day_of(date: dt.date) -> int:
    return codec.day_number(date)


VALID = word(OPENED, day_of(dt.date(2025, 3, 1)), 500_000)


# ---------------------------------------------------------------------------------------------------- constants


def test_limits_match_the_gateway_rules(consortium: Consortium) -> None:
    f = consortium.ledger.functions
    assert f.EARLIEST_DAY().call() == EARLIEST_DAY == 7305
    assert f.MAX_FEN().call() == records.MAX_FEN == 10**15
    assert f.MAX_DAYS_PAST_DUE().call() == records.MAX_DAYS_PAST_DUE == 36_500
    assert f.MAX_PURPOSE().call() == max(Purpose) == 6
    assert [p.value for p in Purpose] == list(range(1, 7))


# ---------------------------------------------------------------------------------------------------- day


@pytest.mark.parametrize("offset", [-EARLIEST_DAY, -1, 0], ids=["epoch", "1989_12_31", "earliest"])
def test_record_batch_day_before_1990_rejected(
    consortium: Consortium, lender: LocalAccount, latest_day: int, offset: int
) -> None:
    day = EARLIEST_DAY + offset
    items = [credit_item(), item_of(word(REPAID, day, 1_000))]
    if offset == 0:  # 1990-01-01 itself is accepted
        receipt = send(consortium, lender, items)()
        assert events(receipt, "CreditEventRecorded")[1].args["data"] == items[1][3]
        return
    expect_revert(send(consortium, lender, items), "LedgerInvalidDay", 1, day, EARLIEST_DAY, latest_day)


@pytest.mark.parametrize("ahead", [1, 2, 365, 2**32 - 1], ids=["day_after", "two_days", "a_year", "max_u32"])
def test_record_batch_day_after_next_day_rejected(
    consortium: Consortium, lender: LocalAccount, latest_day: int, ahead: int
) -> None:
    day = min(latest_day + ahead, 2**32 - 1)
    items = [item_of(word(SETTLED, day))]
    expect_revert(send(consortium, lender, items), "LedgerInvalidDay", 0, day, EARLIEST_DAY, latest_day)


def test_record_batch_day_up_to_next_day_accepted(
    consortium: Consortium, lender: LocalAccount, latest_day: int
) -> None:
    """The block's day + 1 is the latest: a gateway in China Standard Time is a day ahead of UTC from 16:00 UTC."""
    items = [item_of(word(OPENED, latest_day - 1, 100)), item_of(word(OPENED, latest_day, 100))]
    receipt = send(consortium, lender, items)()
    days = [codec.split_event_word(e.args["data"]).occurred_day for e in events(receipt, "CreditEventRecorded")]
    assert days == [latest_day - 1, latest_day]


def test_correct_record_day_checked_too(consortium: Consortium, lender: LocalAccount, latest_day: int) -> None:
    bad = item_of(word(REPAID, latest_day + 1, 100))
    fn = correct(consortium, lender, [credit_item()], 0, bad)
    expect_revert(fn, "LedgerInvalidDay", 0, latest_day + 1, EARLIEST_DAY, latest_day)


# ---------------------------------------------------------------------------------------------------- amounts

D = day_of(dt.date(2025, 3, 1))

#: (type, amount, overdue, days past due) a member may send and the gateway never writes.
BAD_AMOUNTS = {
    "opened_zero_principal": (OPENED, 0, 0, 0),
    "opened_overdue": (OPENED, 100, 1, 0),
    "opened_days_past_due": (OPENED, 100, 0, 1),
    "opened_principal_over_max": (OPENED, MAX_FEN + 1, 0, 0),
    "opened_principal_max_u64": (OPENED, MAX_U64, 0, 0),
    "repaid_overdue_over_outstanding": (REPAID, 100, 101, 0),
    "repaid_outstanding_over_max": (REPAID, MAX_FEN + 1, 0, 0),
    "repaid_days_past_due_over_max": (REPAID, 100, 0, MAX_DPD + 1),
    "overdue_no_overdue_amount": (OVERDUE, 100, 0, 5),
    "overdue_no_days_past_due": (OVERDUE, 100, 50, 0),
    "overdue_overdue_over_outstanding": (OVERDUE, 100, 101, 5),
    "overdue_all_max_u64": (OVERDUE, MAX_U64, MAX_U64, 2**16 - 1),
    "default_overdue_over_outstanding": (DEFAULT, 100, 101, 95),
    "settled_outstanding": (SETTLED, 1, 0, 0),
    "settled_overdue": (SETTLED, 0, 1, 0),
    "settled_days_past_due": (SETTLED, 0, 0, 1),
    "written_off_overdue_over_max": (WRITTEN_OFF, 0, MAX_FEN + 1, 0),
    "written_off_outstanding_over_max": (WRITTEN_OFF, MAX_FEN + 1, 0, 0),
    "written_off_days_past_due_max_u16": (WRITTEN_OFF, 10, 10, 2**16 - 1),
}


@pytest.mark.parametrize("fields", BAD_AMOUNTS.values(), ids=list(BAD_AMOUNTS))
def test_record_batch_amounts_not_allowed_for_type_rejected(
    consortium: Consortium, lender: LocalAccount, fields: tuple[ItemType, int, int, int]
) -> None:
    item_type, amount, overdue, dpd = fields
    items = [credit_item(), inquiry_item(), item_of(word(item_type, D, amount, overdue, dpd))]
    expect_revert(send(consortium, lender, items), "LedgerInvalidAmounts", 2, item_type, amount, overdue, dpd)
    assert consortium.ledger.functions.nextSequence(lender.address).call() == 0


#: Edge cases the gateway writes, one batch: every one must be recorded.
GOOD_AMOUNTS = [
    (OPENED, 1, 0, 0),
    (OPENED, MAX_FEN, 0, 0),
    (REPAID, 0, 0, 0),
    (REPAID, MAX_FEN, MAX_FEN, MAX_DPD),
    (OVERDUE, 1, 1, 1),
    (OVERDUE, MAX_FEN, MAX_FEN, MAX_DPD),
    (DEFAULT, 0, 0, 0),
    (DEFAULT, 500, 500, 400),
    (SETTLED, 0, 0, 0),
    (WRITTEN_OFF, 0, 0, 0),
    (WRITTEN_OFF, 1, MAX_FEN, MAX_DPD),  # a write-off may show more overdue than outstanding
    (WRITTEN_OFF, MAX_FEN, 0, MAX_DPD),
]


def test_record_batch_amounts_at_the_limits_accepted(consortium: Consortium, lender: LocalAccount) -> None:
    items = [item_of(word(t, D, a, o, d)) for t, a, o, d in GOOD_AMOUNTS]
    receipt = send(consortium, lender, items)()
    assert [e.args["data"] for e in events(receipt, "CreditEventRecorded")] == [i[3] for i in items]


def test_correct_record_amounts_checked_too(consortium: Consortium, lender: LocalAccount) -> None:
    fn = correct(consortium, lender, [credit_item()], 0, item_of(word(SETTLED, D, 250_000)))
    expect_revert(fn, "LedgerInvalidAmounts", 0, SETTLED, 250_000, 0, 0)


# ---------------------------------------------------------------------------------------------------- padding


@pytest.mark.parametrize("padding", [1, 0xFF, 1 << 71, (1 << 72) - 1], ids=["bit0", "byte31", "bit71", "all"])
def test_record_batch_credit_padding_rejected(consortium: Consortium, lender: LocalAccount, padding: int) -> None:
    data = VALID | padding
    expect_revert(send(consortium, lender, [credit_item(), item_of(data)]), "LedgerNonZeroPadding", 1, data)


@pytest.mark.parametrize("padding", [1, 1 << 100, 1 << 239], ids=["byte31", "middle", "byte2"])
def test_record_batch_inquiry_padding_rejected(consortium: Consortium, lender: LocalAccount, padding: int) -> None:
    data = codec.pack_inquiry_data(Purpose.POST_LOAN) | padding
    expect_revert(send(consortium, lender, [item_of(data)]), "LedgerNonZeroPadding", 0, data)


def test_correct_record_padding_checked_too(consortium: Consortium, lender: LocalAccount) -> None:
    data = VALID | 7
    fn = correct(consortium, lender, [credit_item(), credit_item()], 1, item_of(data))
    expect_revert(fn, "LedgerNonZeroPadding", 0, data)


# ---------------------------------------------------------------------------------------------------- purposes


@pytest.mark.parametrize("purpose", [0, 7, 16, 255])
def test_record_batch_inquiry_unknown_purpose_rejected(
    consortium: Consortium, lender: LocalAccount, purpose: int
) -> None:
    data = (int(ItemType.INQUIRY) << 248) | (purpose << 240)
    items = [inquiry_item(), credit_item(), item_of(data)]
    expect_revert(send(consortium, lender, items), "LedgerInvalidPurpose", 2, purpose)


def test_inquiry_every_purpose_accepted_and_nothing_else(consortium: Consortium, lender: LocalAccount) -> None:
    inquiry = int(ItemType.INQUIRY) << 248
    accepted = [p for p in range(256) if recorded_by_call(consortium, lender, inquiry | (p << 240)) is None]
    assert accepted == [p.value for p in Purpose]


# ---------------------------------------------------------------------------------------------------- order


ORDER = {
    # (data word, expected error and its args after the index): the first failing check in byte order wins.
    "day_before_amounts": (word(OPENED, 10, 0, 5, 5, padding=1), ("LedgerInvalidDay", 10, EARLIEST_DAY)),
    "amounts_before_padding": (word(SETTLED, D, 5, padding=1), ("LedgerInvalidAmounts", SETTLED, 5, 0, 0)),
    "purpose_before_padding": ((16 << 248) | (9 << 240) | 1, ("LedgerInvalidPurpose", 9)),
    "zero_key_before_type": (7 << 248, ("LedgerZeroKey",)),
}


@pytest.mark.parametrize("case", ORDER.values(), ids=list(ORDER))
def test_record_batch_reports_first_failing_check(
    consortium: Consortium, lender: LocalAccount, latest_day: int, case: tuple[int, tuple[object, ...]]
) -> None:
    data, (name, *args) = case
    if name == "LedgerInvalidDay":
        args.append(latest_day)
    bad = (random_key(), b"\x00" * 32 if name == "LedgerZeroKey" else random_key(), random_key(), data)
    expect_revert(send(consortium, lender, [credit_item(), bad, item_of(word(0, 0))]), str(name), 1, *args)


# ---------------------------------------------------------------------------------------------------- the mirror


def recorded_by_call(c: Consortium, account: LocalAccount, data: int) -> str | None:
    """`eth_call` of a one-item batch from `account`: None if the ledger would record it, else the error name."""
    seq = c.ledger.functions.nextSequence(account.address).call()
    fn = c.ledger.functions.recordBatch(seq, codec.encode_items([item_of(data)]))
    try:
        with translate_errors():
            fn.call({"from": account.address})
    except ContractRevert as err:
        return err.name
    return None


def gateway_accepts(item_type: ItemType, occurred_on: dt.date, amount: int, overdue: int, dpd: int) -> bool:
    """Whether the gateway's own validation (`CreditEventIn` + `check_rules`) accepts a record with these fields."""
    kind = records.EventType[item_type.name]
    amounts = {"principal_fen": amount} if kind is records.EventType.LOAN_OPENED else {"outstanding_fen": amount}
    try:
        record = records.CreditEventIn.model_validate(
            {
                "record_id": "R-1",
                "event_type": kind.value,
                "id_type": "other",
                "id_number": "X1",
                "loan_number": "L-1",
                "occurred_on": occurred_on.isoformat(),
                "overdue_fen": overdue,
                "days_past_due": dpd,
                **amounts,
            }
        )
        records.check_rules(record, today=dt.date(2026, 1, 1))
    except (ValidationError, records.InvalidRecord):
        return False
    return True


EDGES = [0, 1, 2, 99, 100, 101, MAX_FEN - 1, MAX_FEN, MAX_FEN + 1, 2**50, MAX_U64]
amounts = st.one_of(st.sampled_from(EDGES), st.integers(0, 1_000), st.integers(0, MAX_U64))
dpds = st.one_of(st.sampled_from([0, 1, 30, MAX_DPD - 1, MAX_DPD, MAX_DPD + 1, 2**16 - 1]), st.integers(0, 2**16 - 1))


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    item_type=st.sampled_from([OPENED, REPAID, OVERDUE, DEFAULT, SETTLED, WRITTEN_OFF]),
    amount=amounts,
    overdue=amounts,
    dpd=dpds,
    occurred_on=st.dates(dt.date(1989, 12, 25), dt.date(2025, 12, 31)),
    overdue_near_amount=st.sampled_from([None, -1, 0, 1]),
)
def test_ledger_accepts_exactly_what_the_gateway_accepts(
    consortium: Consortium,
    lender: LocalAccount,
    item_type: ItemType,
    amount: int,
    overdue: int,
    dpd: int,
    occurred_on: dt.date,
    overdue_near_amount: int | None,
) -> None:
    """For dates up to the gateway's today the ledger and the gateway agree on every field: an honest gateway
    never meets these errors, and the ledger refuses everything else that fits the data word."""
    if overdue_near_amount is not None:
        overdue = min(max(amount + overdue_near_amount, 0), MAX_U64)
    gateway = gateway_accepts(item_type, occurred_on, amount, overdue, dpd)
    chain = recorded_by_call(consortium, lender, word(item_type, day_of(occurred_on), amount, overdue, dpd))
    assert (chain is None) == gateway, f"gateway {'accepts' if gateway else 'refuses'}, chain: {chain or 'records'}"
    if chain is not None:
        assert chain in ("LedgerInvalidDay", "LedgerInvalidAmounts")


def test_gateway_records_today_in_china_standard_time_accepted(consortium: Consortium, lender: LocalAccount) -> None:
    """A record the gateway dates today in CST (up to one day ahead of UTC) is never in the ledger's future."""
    now = int(consortium.w3.eth.get_block("latest")["timestamp"])
    cst_today = dt.datetime.fromtimestamp(now, dt.timezone(dt.timedelta(hours=8))).date()
    assert recorded_by_call(consortium, lender, word(OPENED, day_of(cst_today), 1)) is None
