"""CreditLedger against a real chain (Ganache and anvil): permissions, batch limits, exactly-once, corrections,
disputes, inquiries and every event field."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from enum import IntEnum

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.types import TxReceipt

from creditshare.chain.artifacts import DecodedEvent
from creditshare.chain.governance import Action, Role
from creditshare.core.exceptions import TransactionFailed
from creditshare.domain import codec, records
from creditshare.domain.codec import ItemType
from creditshare.domain.purposes import Purpose
from tests.support import Consortium, credit_item, events, expect_revert, inquiry_item, random_key
from tests.support.engines import on_every_engine

pytestmark = on_every_engine

Item = tuple[bytes, bytes, bytes, int]
RecordRef = tuple[str, int, int, list[bytes]]

ZERO32 = b"\x00" * 32
CREDIT_TYPES = [t for t in ItemType if t != ItemType.INQUIRY]


OBJECTION = bytes([0x0B]) * 32  # an objection's hash
DETAIL = (1).to_bytes(32, "big")  # a resolution's detail (reason code 1; the ledger does not interpret it)


class Outcome(IntEnum):
    """Mirrors `ICreditLedger.DisputeOutcome`."""

    NONE = 0
    UPHELD = 1
    CORRECTED = 2


# ---------------------------------------------------------------------------------------------------- helpers


def digest(hashes: Sequence[bytes]) -> bytes:
    """keccak256 of the concatenated record hashes (what the ledger stores per batch)."""
    return bytes(Web3.keccak(b"".join(hashes)))


def next_seq(c: Consortium, account: LocalAccount) -> int:
    return int(c.ledger.functions.nextSequence(account.address).call())


def record_words(c: Consortium, account: LocalAccount, seq: int, words: list[bytes]) -> Callable[[], TxReceipt]:
    """A deferred raw `recordBatch` call, for `expect_revert`."""
    return lambda: c.tx(account).transact(c.ledger.functions.recordBatch(seq, words))


def record_items(c: Consortium, account: LocalAccount, seq: int, items: list[Item]) -> Callable[[], TxReceipt]:
    return record_words(c, account, seq, codec.encode_items(items))


def correct_fn(c: Consortium, account: LocalAccount, seq: int, ref: RecordRef, item: Item) -> Callable[[], TxReceipt]:
    """A deferred `correctRecord` call, for `expect_revert`."""
    return lambda: c.tx(account).transact(c.ledger.functions.correctRecord(seq, ref, codec.encode_items([item])))


def correct(c: Consortium, account: LocalAccount, ref: RecordRef, item: Item) -> TxReceipt:
    return correct_fn(c, account, next_seq(c, account), ref, item)()


def open_fn(c: Consortium, account: LocalAccount, lender: str, record_hash: bytes) -> Callable[[], TxReceipt]:
    return lambda: c.tx(account).transact(c.ledger.functions.openDispute(lender, record_hash, OBJECTION))


def resolve_fn(
    c: Consortium, account: LocalAccount, lender: str, record_hash: bytes, outcome: int
) -> Callable[[], TxReceipt]:
    return lambda: c.tx(account).transact(c.ledger.functions.resolveDispute(lender, record_hash, outcome, DETAIL))


def is_disputed(c: Consortium, lender: str, record_hash: bytes) -> bool:
    return bool(c.ledger.functions.isDisputed(lender, record_hash).call())


def hashes_of(items: Sequence[Item]) -> list[bytes]:
    """The batch's digest preimage: record hashes in order, zero in place of each inquiry."""
    return [bytes(32) if codec.item_type_of(item[3]) == codec.ItemType.INQUIRY else item[2] for item in items]


def assert_credit_event(c: Consortium, event: DecodedEvent, item: Item, lender: LocalAccount) -> None:
    """`event` is the CreditEventRecorded of `item` sent by `lender`, field by field."""
    subject_key, loan_key, record_hash, data = item
    assert event.name == "CreditEventRecorded"
    assert event.address == c.ledger.address
    assert event.args["subjectKey"] == subject_key
    assert event.args["lender"] == lender.address
    assert event.args["recordHash"] == record_hash
    assert event.args["loanKey"] == loan_key
    assert event.args["data"] == data
    assert codec.unpack_event_data(event.args["data"]) == codec.unpack_event_data(data)


def assert_inquiry_event(c: Consortium, event: DecodedEvent, item: Item, lender: LocalAccount) -> None:
    """`event` is the InquiryRecorded of `item` sent by `lender`, field by field."""
    subject_key, consent_hash, inquiry_hash, data = item
    assert event.name == "InquiryRecorded"
    assert event.address == c.ledger.address
    assert event.args["subjectKey"] == subject_key
    assert event.args["lender"] == lender.address
    assert event.args["inquiryHash"] == inquiry_hash
    assert event.args["consentHash"] == consent_hash
    assert event.args["data"] == data
    assert codec.item_type_of(event.args["data"]) == ItemType.INQUIRY
    assert codec.unpack_inquiry_purpose(event.args["data"]) == codec.unpack_inquiry_purpose(data)


def assert_batch_event(
    c: Consortium, event: DecodedEvent, lender: LocalAccount, seq: int, hashes: Sequence[bytes]
) -> None:
    """`event` is the BatchRecorded of `lender`'s batch `seq` holding `hashes`, field by field."""
    assert event.name == "BatchRecorded"
    assert event.address == c.ledger.address
    assert event.args == {"lender": lender.address, "seq": seq, "itemCount": len(hashes), "digest": digest(hashes)}


def word(value: int) -> bytes:
    return value.to_bytes(32, "big")


# ---------------------------------------------------------------------------------------------------- views


def test_registry_returns_registry_address(consortium: Consortium) -> None:
    assert consortium.ledger.functions.registry().call() == consortium.registry.address
    assert consortium.ledger.functions.registry().call() == Web3.to_checksum_address(consortium.deployment.registry)


def test_max_batch_size_is_256(consortium: Consortium) -> None:
    assert consortium.ledger.functions.MAX_BATCH_SIZE().call() == 256


def test_views_fresh_ledger_zero(consortium: Consortium, lender_a: LocalAccount) -> None:
    assert next_seq(consortium, lender_a) == 0
    assert consortium.ledger.functions.batchDigest(lender_a.address, 0).call() == ZERO32
    assert is_disputed(consortium, lender_a.address, random_key()) is False


def normalise(value: object) -> object:
    """Checksum addresses: decoded error arguments carry them in lower case, events and accounts checksummed."""
    if isinstance(value, str) and Web3.is_address(value):
        return Web3.to_checksum_address(value)
    return value


def expect_error(action: Callable[[], object], name: str, *args: object) -> None:
    """`action` reverts with custom error `name` and exactly `args` (also when `args` is empty)."""
    err = expect_revert(action, name)
    assert tuple(normalise(v) for v in err.args_) == tuple(normalise(v) for v in args), (
        f"expected {name}{args}, got {err}"
    )


def outsider(c: Consortium, who: str) -> LocalAccount:
    """An account that is not a lender: a non-member, an auditor (admitted here) or a bootstrap governor."""
    if who == "non_member":
        return c.accounts[10]
    if who == "auditor":
        account = c.accounts[5]
        c.enact(Action.ADMIT, account.address, Role.AUDITOR, name="Auditor One")
        return account
    assert who == "governor"
    return c.accounts[0]


# ---------------------------------------------------------------------------------------------------- permissions


@pytest.mark.parametrize("who", ["non_member", "auditor", "governor"])
def test_record_batch_not_lender_rejected(consortium: Consortium, who: str) -> None:
    account = outsider(consortium, who)
    expect_error(record_items(consortium, account, 0, [credit_item()]), "LedgerNotActiveLender", account.address)
    assert next_seq(consortium, account) == 0


@pytest.mark.parametrize("who", ["non_member", "auditor", "governor"])
def test_correct_record_not_lender_rejected(consortium: Consortium, lender_a: LocalAccount, who: str) -> None:
    account = outsider(consortium, who)
    original = credit_item()
    consortium.record(lender_a, [original])
    ref: RecordRef = (lender_a.address, 0, 0, [original[2]])
    expect_error(correct_fn(consortium, account, 0, ref, credit_item()), "LedgerNotActiveLender", account.address)
    assert next_seq(consortium, account) == 0


def test_record_batch_suspended_lender_rejected(
    consortium: Consortium, lender_a: LocalAccount, lender_b: LocalAccount
) -> None:
    original = credit_item()
    consortium.record(lender_a, [original])
    consortium.enact(Action.SUSPEND, lender_a.address)

    expect_error(record_items(consortium, lender_a, 1, [credit_item()]), "LedgerNotActiveLender", lender_a.address)
    ref: RecordRef = (lender_a.address, 0, 0, [original[2]])
    expect_error(correct_fn(consortium, lender_a, 1, ref, credit_item()), "LedgerNotActiveLender", lender_a.address)
    assert next_seq(consortium, lender_a) == 1
    # Another lender is unaffected.
    consortium.record(lender_b, [credit_item()], seq=0)
    assert next_seq(consortium, lender_b) == 1


def test_record_batch_reinstated_lender_records_again(consortium: Consortium, lender_a: LocalAccount) -> None:
    consortium.record(lender_a, [credit_item()], seq=0)
    consortium.enact(Action.SUSPEND, lender_a.address)
    expect_error(record_items(consortium, lender_a, 1, [credit_item()]), "LedgerNotActiveLender", lender_a.address)
    consortium.enact(Action.REINSTATE, lender_a.address)

    item = credit_item()
    receipt = consortium.record(lender_a, [item], seq=1)
    recorded, batch = events(receipt)
    assert_credit_event(consortium, recorded, item, lender_a)
    assert_batch_event(consortium, batch, lender_a, 1, [item[2]])
    assert next_seq(consortium, lender_a) == 2


def test_record_batch_removed_lender_rejected(consortium: Consortium, lender_a: LocalAccount) -> None:
    original = credit_item()
    consortium.record(lender_a, [original])
    consortium.enact(Action.REMOVE, lender_a.address)

    expect_error(record_items(consortium, lender_a, 1, [credit_item()]), "LedgerNotActiveLender", lender_a.address)
    ref: RecordRef = (lender_a.address, 0, 0, [original[2]])
    expect_error(correct_fn(consortium, lender_a, 1, ref, credit_item()), "LedgerNotActiveLender", lender_a.address)
    assert next_seq(consortium, lender_a) == 1


@pytest.mark.parametrize("action", [Action.SUSPEND, Action.REMOVE], ids=["suspended", "removed"])
def test_dispute_inactive_lender_not_party(
    consortium: Consortium, lender_a: LocalAccount, governor: LocalAccount, action: Action
) -> None:
    opened, unopened = credit_item(), credit_item()
    consortium.record(lender_a, [opened, unopened])
    open_fn(consortium, lender_a, lender_a.address, opened[2])()
    consortium.enact(action, lender_a.address)

    a = lender_a.address
    expect_error(open_fn(consortium, lender_a, a, unopened[2]), "LedgerNotDisputeParty", a)
    expect_error(resolve_fn(consortium, lender_a, a, opened[2], Outcome.UPHELD), "LedgerNotDisputeParty", a)
    # A governor still handles disputes on the inactive lender's records.
    resolve_fn(consortium, governor, a, opened[2], Outcome.UPHELD)()
    open_fn(consortium, governor, a, unopened[2])()
    assert is_disputed(consortium, a, opened[2]) is False
    assert is_disputed(consortium, a, unopened[2]) is True


def test_writes_paused_rejected(consortium: Consortium, lender_a: LocalAccount, governor: LocalAccount) -> None:
    original = credit_item()
    consortium.record(lender_a, [original])
    a, h = lender_a.address, original[2]
    open_fn(consortium, lender_a, a, h)()
    consortium.enact(Action.PAUSE)
    assert consortium.registry.functions.paused().call() is True

    ref: RecordRef = (a, 0, 0, [h])
    expect_error(record_items(consortium, lender_a, 1, [credit_item()]), "LedgerPaused")
    expect_error(correct_fn(consortium, lender_a, 1, ref, credit_item()), "LedgerPaused")
    expect_error(open_fn(consortium, lender_a, a, random_key()), "LedgerPaused")
    expect_error(resolve_fn(consortium, lender_a, a, h, Outcome.UPHELD), "LedgerPaused")
    # Governors are paused too.
    expect_error(open_fn(consortium, governor, a, random_key()), "LedgerPaused")
    expect_error(resolve_fn(consortium, governor, a, h, Outcome.CORRECTED), "LedgerPaused")
    # The pause is checked before membership.
    expect_error(record_items(consortium, consortium.accounts[10], 0, [credit_item()]), "LedgerPaused")
    assert next_seq(consortium, lender_a) == 1
    assert is_disputed(consortium, a, h) is True


def test_writes_unpaused_restored(consortium: Consortium, lender_a: LocalAccount) -> None:
    original = credit_item()
    consortium.record(lender_a, [original])
    a, h = lender_a.address, original[2]
    open_fn(consortium, lender_a, a, h)()
    consortium.enact(Action.PAUSE)
    expect_error(record_items(consortium, lender_a, 1, [credit_item()]), "LedgerPaused")
    consortium.enact(Action.UNPAUSE)
    assert consortium.registry.functions.paused().call() is False

    item = credit_item()
    receipt = consortium.record(lender_a, [item], seq=1)
    assert_batch_event(consortium, events(receipt, "BatchRecorded")[0], lender_a, 1, [item[2]])
    replacement = credit_item()
    receipt = correct_fn(consortium, lender_a, 2, (a, 0, 0, [h]), replacement)()
    assert [e.name for e in events(receipt)] == ["CreditEventRecorded", "CreditEventCorrected", "BatchRecorded"]
    receipt = resolve_fn(consortium, lender_a, a, h, Outcome.CORRECTED)()
    assert [e.name for e in events(receipt)] == ["DisputeResolved"]
    receipt = open_fn(consortium, lender_a, a, item[2])()
    assert [e.name for e in events(receipt)] == ["DisputeOpened"]
    assert next_seq(consortium, lender_a) == 3


# ---------------------------------------------------------------------------------------------------- batch limits


def test_record_batch_empty_rejected(consortium: Consortium, lender_a: LocalAccount) -> None:
    expect_error(record_words(consortium, lender_a, 0, []), "LedgerEmptyBatch")
    assert next_seq(consortium, lender_a) == 0


@pytest.mark.parametrize("word_count", [1, 2, 3, 5, 6, 7, 1027, 1029])
def test_record_batch_word_count_not_multiple_of_four_rejected(
    consortium: Consortium, lender_a: LocalAccount, word_count: int
) -> None:
    words = [random_key() for _ in range(word_count)]
    expect_error(record_words(consortium, lender_a, 0, words), "LedgerMalformedBatch", word_count)
    assert next_seq(consortium, lender_a) == 0


def typical_item(item_type: ItemType, n: int) -> Item:
    """A valid credit event of `item_type` whose day and amounts vary with `n` (n < 1,000)."""
    amount, overdue, days_past_due = {
        ItemType.LOAN_OPENED: (1_000 + n, 0, 0),
        ItemType.REPAYMENT: (1_000 + n, n, n),
        ItemType.OVERDUE: (1_000 + n, n + 1, n + 1),
        ItemType.DEFAULT: (1_000 + n, 1_000 + n, 90 + n),
        ItemType.SETTLED: (0, 0, 0),
        ItemType.WRITTEN_OFF: (n, 2_000 + n, 180 + n),  # a write-off may show more overdue than outstanding
    }[item_type]
    return credit_item(item_type, dt.date(2024, 1, 1) + dt.timedelta(days=n), amount, overdue, days_past_due)


def test_record_batch_max_size_accepted(consortium: Consortium, lender_a: LocalAccount) -> None:
    max_size = consortium.ledger.functions.MAX_BATCH_SIZE().call()
    assert max_size == 256
    items = [typical_item(CREDIT_TYPES[i % len(CREDIT_TYPES)], i) for i in range(max_size)]
    receipt = consortium.record(lender_a, items, seq=0)

    decoded = events(receipt)
    assert len(decoded) == max_size + 1
    recorded = events(receipt, "CreditEventRecorded")
    assert len(recorded) == max_size
    for event, item in zip(recorded, items, strict=True):
        assert_credit_event(consortium, event, item, lender_a)
    assert_batch_event(consortium, decoded[-1], lender_a, 0, hashes_of(items))
    assert consortium.ledger.functions.batchDigest(lender_a.address, 0).call() == digest(hashes_of(items))
    assert next_seq(consortium, lender_a) == 1


def test_record_batch_too_large_rejected(consortium: Consortium, lender_a: LocalAccount) -> None:
    max_size = consortium.ledger.functions.MAX_BATCH_SIZE().call()
    items = [credit_item() for _ in range(max_size + 1)]
    expect_error(record_items(consortium, lender_a, 0, items), "LedgerBatchTooLarge", max_size + 1, max_size)
    assert next_seq(consortium, lender_a) == 0


@pytest.mark.parametrize("field", [0, 1, 2], ids=["subject_key", "loan_key", "record_hash"])
@pytest.mark.parametrize("index", [0, 2])
def test_record_batch_zero_key_rejected(consortium: Consortium, lender_a: LocalAccount, field: int, index: int) -> None:
    items = [credit_item() for _ in range(3)]
    bad = list(items[index])
    bad[field] = ZERO32
    items[index] = (bad[0], bad[1], bad[2], bad[3])
    expect_error(record_items(consortium, lender_a, 0, items), "LedgerZeroKey", index)
    assert next_seq(consortium, lender_a) == 0


@pytest.mark.parametrize("field", [0, 1, 2], ids=["subject_key", "consent_hash", "inquiry_hash"])
def test_record_batch_inquiry_zero_key_rejected(consortium: Consortium, lender_a: LocalAccount, field: int) -> None:
    items = [credit_item(), inquiry_item()]
    bad = list(items[1])
    bad[field] = ZERO32
    items[1] = (bad[0], bad[1], bad[2], bad[3])
    expect_error(record_items(consortium, lender_a, 0, items), "LedgerZeroKey", 1)


@pytest.mark.parametrize("item_type", [0, 7, 15, 17, 255])
def test_record_batch_unknown_item_type_rejected(
    consortium: Consortium, lender_a: LocalAccount, item_type: int
) -> None:
    fields = codec.pack_event_data(ItemType.LOAN_OPENED, dt.date(2025, 3, 1), 5000) & ((1 << 248) - 1)
    items = [credit_item(), inquiry_item(), (random_key(), random_key(), random_key(), (item_type << 248) | fields)]
    expect_error(record_items(consortium, lender_a, 0, items), "LedgerUnknownItemType", 2, item_type)
    assert next_seq(consortium, lender_a) == 0


@pytest.mark.parametrize("data", [16 << 248, (16 << 248) | 0xFF], ids=["bare", "purpose_zero_low_bytes_set"])
def test_record_batch_inquiry_purpose_zero_rejected(consortium: Consortium, lender_a: LocalAccount, data: int) -> None:
    """Purpose 0 is an invalid purpose (reported before the non-zero padding: checks run in byte order)."""
    items = [inquiry_item(), credit_item(), (random_key(), random_key(), random_key(), data)]
    expect_error(record_items(consortium, lender_a, 0, items), "LedgerInvalidPurpose", 2, 0)


def test_record_batch_first_bad_item_reported(consortium: Consortium, lender_a: LocalAccount) -> None:
    zero_key = (random_key(), ZERO32, random_key(), 7 << 248)  # both a zero key and an unknown type
    unknown = (random_key(), random_key(), random_key(), 0)
    items = [credit_item(), zero_key, credit_item(), unknown]
    expect_error(record_items(consortium, lender_a, 0, items), "LedgerZeroKey", 1)
    expect_error(record_items(consortium, lender_a, 0, [items[0], items[2], unknown]), "LedgerUnknownItemType", 2, 0)


def test_record_batch_every_credit_type_round_trips(consortium: Consortium, lender_a: LocalAccount) -> None:
    """Every type at the edges the ledger accepts (the day and amount limits are tested in test_ledger_items)."""
    max_fen, max_dpd = records.MAX_FEN, records.MAX_DAYS_PAST_DUE
    today = dt.datetime.fromtimestamp(consortium.w3.eth.get_block("latest")["timestamp"], dt.UTC).date()
    items = [
        credit_item(ItemType.LOAN_OPENED, records.EARLIEST_DATE, 1, 0, 0),
        credit_item(ItemType.REPAYMENT, dt.date(2025, 3, 1), 123_456, 0, 0),
        credit_item(ItemType.OVERDUE, dt.date(2025, 4, 2), 1_000_000, 250_000, 31),
        credit_item(ItemType.DEFAULT, today, max_fen, max_fen, max_dpd),
        credit_item(ItemType.SETTLED, records.EARLIEST_DATE, 0, 0, 0),
        credit_item(ItemType.WRITTEN_OFF, dt.date(2026, 2, 28), 0, max_fen, max_dpd),
    ]
    receipt = consortium.record(lender_a, items)
    recorded = events(receipt, "CreditEventRecorded")
    assert len(recorded) == len(items)
    for event, item, item_type in zip(recorded, items, CREDIT_TYPES, strict=True):
        assert_credit_event(consortium, event, item, lender_a)
        assert codec.unpack_event_data(event.args["data"]).item_type == item_type
    assert codec.unpack_event_data(recorded[3].args["data"]) == codec.EventData(
        ItemType.DEFAULT, today, max_fen, max_fen, max_dpd
    )
    assert codec.unpack_event_data(recorded[2].args["data"]) == codec.EventData(
        ItemType.OVERDUE, dt.date(2025, 4, 2), 1_000_000, 250_000, 31
    )


# ---------------------------------------------------------------------------------------------------- exactly-once


def test_record_batch_replay_rejected(consortium: Consortium, lender_a: LocalAccount) -> None:
    first = [credit_item(), inquiry_item()]
    consortium.record(lender_a, first, seq=0)
    consortium.record(lender_a, [credit_item()], seq=1)

    expect_error(record_items(consortium, lender_a, 0, first), "LedgerBatchOutOfOrder", 2, 0)  # identical resend
    expect_error(record_items(consortium, lender_a, 1, [credit_item()]), "LedgerBatchOutOfOrder", 2, 1)
    assert next_seq(consortium, lender_a) == 2
    assert consortium.ledger.functions.batchDigest(lender_a.address, 0).call() == digest(hashes_of(first))


def test_record_batch_skip_ahead_rejected(consortium: Consortium, lender_a: LocalAccount) -> None:
    expect_error(record_items(consortium, lender_a, 1, [credit_item()]), "LedgerBatchOutOfOrder", 0, 1)
    consortium.record(lender_a, [credit_item()], seq=0)
    expect_error(record_items(consortium, lender_a, 2, [credit_item()]), "LedgerBatchOutOfOrder", 1, 2)
    expect_error(record_items(consortium, lender_a, 2**64 - 1, [credit_item()]), "LedgerBatchOutOfOrder", 1, 2**64 - 1)
    assert next_seq(consortium, lender_a) == 1
    assert consortium.ledger.functions.batchDigest(lender_a.address, 2).call() == ZERO32


def test_record_batch_sequences_per_lender(
    consortium: Consortium, lender_a: LocalAccount, lender_b: LocalAccount
) -> None:
    for seq in range(3):
        consortium.record(lender_a, [credit_item()], seq=seq)
    assert next_seq(consortium, lender_b) == 0
    expect_error(record_items(consortium, lender_b, 3, [credit_item()]), "LedgerBatchOutOfOrder", 0, 3)

    item = credit_item()
    receipt = consortium.record(lender_b, [item], seq=0)
    recorded, batch = events(receipt)
    assert_credit_event(consortium, recorded, item, lender_b)
    assert_batch_event(consortium, batch, lender_b, 0, [item[2]])
    assert next_seq(consortium, lender_a) == 3
    assert next_seq(consortium, lender_b) == 1
    assert consortium.ledger.functions.batchDigest(lender_b.address, 0).call() == digest([item[2]])
    assert consortium.ledger.functions.batchDigest(lender_b.address, 1).call() == ZERO32
    # A's next batch is still seq 3, untouched by B's.
    expect_error(record_items(consortium, lender_a, 1, [credit_item()]), "LedgerBatchOutOfOrder", 3, 1)
    consortium.record(lender_a, [credit_item()], seq=3)


def test_next_sequence_advances_by_one_per_batch(consortium: Consortium, lender_a: LocalAccount) -> None:
    for seq, size in enumerate([1, 3, 2, 5]):
        assert next_seq(consortium, lender_a) == seq
        items = [credit_item() if i % 2 else inquiry_item() for i in range(size)]
        receipt = consortium.record(lender_a, items, seq=seq)
        assert_batch_event(consortium, events(receipt, "BatchRecorded")[0], lender_a, seq, hashes_of(items))
        assert next_seq(consortium, lender_a) == seq + 1


def test_batch_digest_matches_keccak(consortium: Consortium, lender_a: LocalAccount, lender_b: LocalAccount) -> None:
    batches = [[credit_item()], [credit_item(), inquiry_item(), credit_item()], [inquiry_item(), inquiry_item()]]
    for seq, items in enumerate(batches):
        consortium.record(lender_a, items, seq=seq)
    for seq, items in enumerate(batches):
        expected = Web3.keccak(b"".join(hashes_of(items)))  # zero in place of each inquiry
        assert consortium.ledger.functions.batchDigest(lender_a.address, seq).call() == expected
    # Unknown batches read as zero.
    assert consortium.ledger.functions.batchDigest(lender_a.address, len(batches)).call() == ZERO32
    assert consortium.ledger.functions.batchDigest(lender_a.address, 2**64 - 1).call() == ZERO32
    assert consortium.ledger.functions.batchDigest(lender_b.address, 0).call() == ZERO32


# ---------------------------------------------------------------------------------------------------- corrections


@pytest.mark.parametrize("index", [0, 2])
def test_correct_record_owner_emits_events(consortium: Consortium, lender_a: LocalAccount, index: int) -> None:
    originals = [
        credit_item(),
        inquiry_item(),
        credit_item(ItemType.OVERDUE, amount_fen=9_000, overdue_fen=900, days_past_due=12),
    ]
    consortium.record(lender_a, originals, seq=0)
    hashes = hashes_of(originals)
    replacement = credit_item(ItemType.REPAYMENT, dt.date(2025, 5, 6), 8_100, 0, 0)

    receipt = correct_fn(consortium, lender_a, 1, (lender_a.address, 0, index, hashes), replacement)()
    recorded, corrected, batch = events(receipt)
    assert_credit_event(consortium, recorded, replacement, lender_a)
    assert corrected.name == "CreditEventCorrected"
    assert corrected.address == consortium.ledger.address
    assert corrected.args == {
        "lender": lender_a.address,
        "originalRecordHash": hashes[index],
        "recordHash": replacement[2],
    }
    assert_batch_event(consortium, batch, lender_a, 1, [replacement[2]])
    assert batch.args["digest"] == Web3.keccak(replacement[2])
    assert consortium.ledger.functions.batchDigest(lender_a.address, 1).call() == Web3.keccak(replacement[2])
    assert consortium.ledger.functions.batchDigest(lender_a.address, 0).call() == digest(hashes)


def test_correct_record_non_owner_rejected(
    consortium: Consortium, lender_a: LocalAccount, lender_b: LocalAccount
) -> None:
    originals = [credit_item(), credit_item()]
    consortium.record(lender_a, originals, seq=0)
    consortium.record(lender_b, [credit_item(), credit_item()], seq=0)
    ref: RecordRef = (lender_a.address, 0, 1, hashes_of(originals))

    expect_error(
        correct_fn(consortium, lender_b, 1, ref, credit_item()),
        "LedgerNotRecordOwner",
        lender_b.address,
        lender_a.address,
    )
    assert next_seq(consortium, lender_b) == 1


REF_TAMPERS: dict[str, Callable[[str, str, list[bytes]], RecordRef]] = {
    "hash_replaced": lambda a, b, h: (a, 0, 0, [random_key(), *h[1:]]),
    "hash_dropped": lambda a, b, h: (a, 0, 0, h[:-1]),
    "hash_added": lambda a, b, h: (a, 0, 0, [*h, random_key()]),
    "hashes_reordered": lambda a, b, h: (a, 0, 0, h[::-1]),
    "hashes_empty": lambda a, b, h: (a, 0, 0, []),
    "seq_of_other_batch": lambda a, b, h: (a, 1, 0, h),
    "seq_unknown": lambda a, b, h: (a, 7, 0, h),
    "index_out_of_range": lambda a, b, h: (a, 0, len(h), h),
    "index_max": lambda a, b, h: (a, 0, 2**256 - 1, h),
    "lender_other": lambda a, b, h: (b, 0, 0, h),
    "lender_zero": lambda a, b, h: ("0x" + "00" * 20, 0, 0, h),
}


@pytest.mark.parametrize("tamper", list(REF_TAMPERS))
def test_correct_record_tampered_ref_rejected(
    consortium: Consortium, lender_a: LocalAccount, lender_b: LocalAccount, tamper: str
) -> None:
    originals = [credit_item(), credit_item(), credit_item()]
    consortium.record(lender_a, originals, seq=0)
    consortium.record(lender_a, [credit_item()], seq=1)
    consortium.record(lender_b, [credit_item()], seq=0)
    ref = REF_TAMPERS[tamper](lender_a.address, lender_b.address, hashes_of(originals))

    expect_error(correct_fn(consortium, lender_a, 2, ref, credit_item()), "LedgerInvalidRecordRef", ref[0], ref[1])
    assert next_seq(consortium, lender_a) == 2


def test_correct_record_inquiry_item_rejected(consortium: Consortium, lender_a: LocalAccount) -> None:
    original = credit_item()
    consortium.record(lender_a, [original])
    ref: RecordRef = (lender_a.address, 0, 0, [original[2]])
    expect_error(correct_fn(consortium, lender_a, 1, ref, inquiry_item(5)), "LedgerUnknownItemType", 0, 16)
    assert next_seq(consortium, lender_a) == 1


def test_correct_record_invalid_item_rejected(consortium: Consortium, lender_a: LocalAccount) -> None:
    original = credit_item()
    consortium.record(lender_a, [original])
    ref: RecordRef = (lender_a.address, 0, 0, [original[2]])
    valid = credit_item()
    for field in range(3):
        bad = list(valid)
        bad[field] = ZERO32
        item = (bad[0], bad[1], bad[2], bad[3])
        expect_error(correct_fn(consortium, lender_a, 1, ref, item), "LedgerZeroKey", 0)
    for item_type in (0, 7, 255):
        item = (valid[0], valid[1], valid[2], (item_type << 248) | (valid[3] & ((1 << 248) - 1)))
        expect_error(correct_fn(consortium, lender_a, 1, ref, item), "LedgerUnknownItemType", 0, item_type)
    assert next_seq(consortium, lender_a) == 1


def test_correct_record_consumes_sequence(consortium: Consortium, lender_a: LocalAccount) -> None:
    original = credit_item()
    consortium.record(lender_a, [original], seq=0)
    ref: RecordRef = (lender_a.address, 0, 0, [original[2]])
    replacement = credit_item()
    expect_error(correct_fn(consortium, lender_a, 0, ref, replacement), "LedgerBatchOutOfOrder", 1, 0)
    expect_error(correct_fn(consortium, lender_a, 2, ref, replacement), "LedgerBatchOutOfOrder", 1, 2)

    receipt = correct_fn(consortium, lender_a, 1, ref, replacement)()
    assert events(receipt, "BatchRecorded")[0].args["seq"] == 1
    assert next_seq(consortium, lender_a) == 2
    # Resending the same correction cannot record it twice, and batches continue after it.
    expect_error(correct_fn(consortium, lender_a, 1, ref, replacement), "LedgerBatchOutOfOrder", 2, 1)
    expect_error(record_items(consortium, lender_a, 1, [credit_item()]), "LedgerBatchOutOfOrder", 2, 1)
    item = credit_item()
    receipt = consortium.record(lender_a, [item], seq=2)
    assert_batch_event(consortium, events(receipt, "BatchRecorded")[0], lender_a, 2, [item[2]])


def test_correct_record_correction_corrected(consortium: Consortium, lender_a: LocalAccount) -> None:
    originals = [credit_item(), credit_item()]
    consortium.record(lender_a, originals, seq=0)
    first = credit_item(ItemType.OVERDUE, overdue_fen=10, days_past_due=3)
    correct(consortium, lender_a, (lender_a.address, 0, 1, hashes_of(originals)), first)

    second = credit_item(ItemType.SETTLED, amount_fen=0)
    expect_error(  # a batch of one has only index 0
        correct_fn(consortium, lender_a, 2, (lender_a.address, 1, 1, [first[2]]), second),
        "LedgerInvalidRecordRef",
        lender_a.address,
        1,
    )
    receipt = correct(consortium, lender_a, (lender_a.address, 1, 0, [first[2]]), second)
    recorded, corrected, batch = events(receipt)
    assert_credit_event(consortium, recorded, second, lender_a)
    assert corrected.args == {"lender": lender_a.address, "originalRecordHash": first[2], "recordHash": second[2]}
    assert_batch_event(consortium, batch, lender_a, 2, [second[2]])
    assert next_seq(consortium, lender_a) == 3


# ---------------------------------------------------------------------------------------------------- disputes


def assert_opened(c: Consortium, receipt: TxReceipt, lender: str, record_hash: bytes, by: LocalAccount) -> None:
    (event,) = events(receipt)
    assert event.name == "DisputeOpened"
    assert event.address == c.ledger.address
    args = dict(event.args)
    today, total = args.pop("openedToday"), args.pop("openedTotal")
    assert args == {"lender": lender, "recordHash": record_hash, "openedBy": by.address, "objectionHash": OBJECTION}
    assert (today, total) == tuple(c.ledger.functions.disputesOpenedBy(by.address).call())
    assert 1 <= today <= total


def assert_resolved(
    c: Consortium, receipt: TxReceipt, lender: str, record_hash: bytes, by: LocalAccount, outcome: Outcome
) -> None:
    (event,) = events(receipt)
    assert event.name == "DisputeResolved"
    assert event.address == c.ledger.address
    assert event.args == {
        "lender": lender,
        "recordHash": record_hash,
        "resolvedBy": by.address,
        "outcome": outcome,
        "detail": DETAIL,
    }


@pytest.mark.parametrize("outcome", [Outcome.UPHELD, Outcome.CORRECTED], ids=["upheld", "corrected"])
def test_dispute_recording_lender_opens_and_resolves(
    consortium: Consortium, lender_a: LocalAccount, outcome: Outcome
) -> None:
    item = credit_item()
    consortium.record(lender_a, [item])
    a, h = lender_a.address, item[2]
    assert is_disputed(consortium, a, h) is False

    assert_opened(consortium, open_fn(consortium, lender_a, a, h)(), a, h, lender_a)
    assert is_disputed(consortium, a, h) is True
    assert_resolved(consortium, resolve_fn(consortium, lender_a, a, h, outcome)(), a, h, lender_a, outcome)
    assert is_disputed(consortium, a, h) is False


@pytest.mark.parametrize("outcome", [Outcome.UPHELD, Outcome.CORRECTED], ids=["upheld", "corrected"])
def test_dispute_governor_opens_and_resolves_any_lender(
    consortium: Consortium, lender_a: LocalAccount, lender_b: LocalAccount, outcome: Outcome
) -> None:
    opener, resolver = consortium.accounts[1], consortium.accounts[2]
    for lender in (lender_a, lender_b):
        item = credit_item()
        consortium.record(lender, [item])
        a, h = lender.address, item[2]
        assert_opened(consortium, open_fn(consortium, opener, a, h)(), a, h, opener)
        assert is_disputed(consortium, a, h) is True
        assert_resolved(consortium, resolve_fn(consortium, resolver, a, h, outcome)(), a, h, resolver, outcome)
        assert is_disputed(consortium, a, h) is False


def test_dispute_lender_and_governor_share_dispute(
    consortium: Consortium, lender_a: LocalAccount, governor: LocalAccount
) -> None:
    first, second = credit_item(), credit_item()
    consortium.record(lender_a, [first, second])
    a = lender_a.address
    assert_opened(consortium, open_fn(consortium, lender_a, a, first[2])(), a, first[2], lender_a)
    receipt = resolve_fn(consortium, governor, a, first[2], Outcome.UPHELD)()
    assert_resolved(consortium, receipt, a, first[2], governor, Outcome.UPHELD)
    assert_opened(consortium, open_fn(consortium, governor, a, second[2])(), a, second[2], governor)
    receipt = resolve_fn(consortium, lender_a, a, second[2], Outcome.CORRECTED)()
    assert_resolved(consortium, receipt, a, second[2], lender_a, Outcome.CORRECTED)


def test_dispute_other_lender_opens_but_may_not_resolve(
    consortium: Consortium, lender_a: LocalAccount, lender_b: LocalAccount
) -> None:
    item = credit_item()
    consortium.record(lender_a, [item])
    a, b, h = lender_a.address, lender_b.address, item[2]
    # The borrower objects through lender B, which opens the dispute on lender A's record.
    assert_opened(consortium, open_fn(consortium, lender_b, a, h)(), a, h, lender_b)
    expect_error(resolve_fn(consortium, lender_b, a, h, Outcome.UPHELD), "LedgerNotDisputeParty", b)
    assert is_disputed(consortium, a, h) is True
    # Disputes are keyed by lender: B's own (lender B, h) is a different, closed dispute.
    assert is_disputed(consortium, b, h) is False


@pytest.mark.parametrize("who", ["non_member", "auditor", "suspended_governor"])
def test_dispute_non_party_rejected(consortium: Consortium, lender_a: LocalAccount, who: str) -> None:
    item = credit_item()
    consortium.record(lender_a, [item])
    a, h = lender_a.address, item[2]
    if who == "suspended_governor":
        account = consortium.accounts[2]
        consortium.enact(Action.SUSPEND, account.address)
    else:
        account = outsider(consortium, who)
    expect_error(open_fn(consortium, account, a, h), "LedgerNotDisputeParty", account.address)
    open_fn(consortium, lender_a, a, h)()
    expect_error(resolve_fn(consortium, account, a, h, Outcome.UPHELD), "LedgerNotDisputeParty", account.address)
    assert is_disputed(consortium, a, h) is True


def test_dispute_double_open_rejected(consortium: Consortium, lender_a: LocalAccount, governor: LocalAccount) -> None:
    item = credit_item()
    consortium.record(lender_a, [item])
    a, h = lender_a.address, item[2]
    open_fn(consortium, lender_a, a, h)()
    expect_error(open_fn(consortium, lender_a, a, h), "LedgerDisputeAlreadyOpen", a, h)
    expect_error(open_fn(consortium, governor, a, h), "LedgerDisputeAlreadyOpen", a, h)
    assert is_disputed(consortium, a, h) is True


def test_dispute_resolve_closed_rejected(
    consortium: Consortium, lender_a: LocalAccount, governor: LocalAccount
) -> None:
    item = credit_item()
    consortium.record(lender_a, [item])
    a, h = lender_a.address, item[2]
    expect_error(resolve_fn(consortium, lender_a, a, h, Outcome.UPHELD), "LedgerDisputeNotOpen", a, h)  # never
    open_fn(consortium, lender_a, a, h)()
    resolve_fn(consortium, lender_a, a, h, Outcome.UPHELD)()
    expect_error(resolve_fn(consortium, lender_a, a, h, Outcome.UPHELD), "LedgerDisputeNotOpen", a, h)
    expect_error(resolve_fn(consortium, governor, a, h, Outcome.CORRECTED), "LedgerDisputeNotOpen", a, h)
    # A closed dispute can be opened again.
    assert_opened(consortium, open_fn(consortium, governor, a, h)(), a, h, governor)
    assert is_disputed(consortium, a, h) is True


def test_dispute_resolve_outcome_none_rejected(
    consortium: Consortium, lender_a: LocalAccount, governor: LocalAccount
) -> None:
    item = credit_item()
    consortium.record(lender_a, [item])
    a, h = lender_a.address, item[2]
    open_fn(consortium, lender_a, a, h)()
    expect_error(resolve_fn(consortium, lender_a, a, h, Outcome.NONE), "LedgerDisputeNotOpen", a, h)
    expect_error(resolve_fn(consortium, governor, a, h, Outcome.NONE), "LedgerDisputeNotOpen", a, h)
    assert is_disputed(consortium, a, h) is True


def test_dispute_resolve_outcome_out_of_range_rejected(consortium: Consortium, lender_a: LocalAccount) -> None:
    item = credit_item()
    consortium.record(lender_a, [item])
    a, h = lender_a.address, item[2]
    open_fn(consortium, lender_a, a, h)()
    # The ABI decoder rejects an enum value past `Corrected` with an empty revert (no custom error).
    with pytest.raises(TransactionFailed):
        resolve_fn(consortium, lender_a, a, h, 3)()
    assert is_disputed(consortium, a, h) is True


def test_dispute_resolved_corrected_after_correction(consortium: Consortium, lender_a: LocalAccount) -> None:
    original = credit_item(ItemType.DEFAULT, amount_fen=50_000)
    consortium.record(lender_a, [original])
    a, h = lender_a.address, original[2]
    open_fn(consortium, lender_a, a, h)()
    replacement = credit_item(ItemType.SETTLED, amount_fen=0)
    correct(consortium, lender_a, (a, 0, 0, [h]), replacement)
    receipt = resolve_fn(consortium, lender_a, a, h, Outcome.CORRECTED)()
    assert_resolved(consortium, receipt, a, h, lender_a, Outcome.CORRECTED)
    assert is_disputed(consortium, a, h) is False
    assert is_disputed(consortium, a, replacement[2]) is False


# ---------------------------------------------------------------------------------------------------- inquiries


@pytest.mark.parametrize("purpose", list(Purpose))
def test_inquiry_recorded_fields(consortium: Consortium, lender_b: LocalAccount, purpose: int) -> None:
    item = inquiry_item(purpose)
    receipt = consortium.record(lender_b, [item])
    inquiry, batch = events(receipt)
    assert_inquiry_event(consortium, inquiry, item, lender_b)
    assert codec.unpack_inquiry_purpose(inquiry.args["data"]) == purpose
    assert inquiry.args["data"] == codec.pack_inquiry_data(purpose)
    assert_batch_event(consortium, batch, lender_b, 0, hashes_of([item]))


def test_mixed_batch_keeps_item_order(consortium: Consortium, lender_a: LocalAccount) -> None:
    subject = random_key()
    items = [
        credit_item(ItemType.LOAN_OPENED, subject_key=subject),
        inquiry_item(1, subject_key=subject),
        inquiry_item(2),
        credit_item(ItemType.REPAYMENT, subject_key=subject, amount_fen=700_000),
        inquiry_item(3, subject_key=subject),
        credit_item(ItemType.WRITTEN_OFF, amount_fen=300_000, overdue_fen=300_000, days_past_due=181),
    ]
    receipt = consortium.record(lender_a, items)

    decoded = events(receipt)
    assert len(receipt["logs"]) == len(decoded) == len(items) + 1
    assert [e.name for e in decoded] == [
        "CreditEventRecorded",
        "InquiryRecorded",
        "InquiryRecorded",
        "CreditEventRecorded",
        "InquiryRecorded",
        "CreditEventRecorded",
        "BatchRecorded",
    ]
    log_indices = [e.log_index for e in decoded]
    assert log_indices == sorted(log_indices)
    assert len(set(log_indices)) == len(log_indices)
    for event, item in zip(decoded, items, strict=False):
        if codec.item_type_of(item[3]) == ItemType.INQUIRY:
            assert_inquiry_event(consortium, event, item, lender_a)
        else:
            assert_credit_event(consortium, event, item, lender_a)
    assert_batch_event(consortium, decoded[-1], lender_a, 0, hashes_of(items))
    assert decoded[-1].args["itemCount"] == 6
    assert consortium.ledger.functions.batchDigest(lender_a.address, 0).call() == digest(hashes_of(items))


def test_correct_record_pointing_at_inquiry_rejected(consortium: Consortium) -> None:
    lender = consortium.accounts[3]
    batch = [credit_item(), inquiry_item(3)]
    consortium.record(lender, batch)
    as_recorded = hashes_of(batch)
    assert as_recorded[1] == bytes(32)
    # the inquiry's real hash does not match the digest, and its zero slot is not a record
    for hashes in ([batch[0][2], batch[1][2]], as_recorded):
        ref = (lender.address, 0, 1, hashes)
        expect_error(correct_fn(consortium, lender, 1, ref, credit_item()), "LedgerInvalidRecordRef", lender.address, 0)
