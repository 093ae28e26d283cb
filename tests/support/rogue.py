"""A rogue member: an admitted lender that signs whatever ledger transactions it likes, for the adversarial suite
(tests/read/test_rogue_member.py).

Hypothesis generates the rogue's transactions as *specs*: symbolic descriptions such as "a batch at the next
sequence number holding these items", "a correction of the honest lenders' batch #3, record #1", "open a
dispute on this record of that lender". `Rogue.run` turns each spec into calldata only when it sends it, against
what is on chain by then (the honest lenders' batches, the rogue's own landed batches, its next sequence number),
signs it with its own key and nonces (`Transactor.sign_data` + `send_raw`) and does not wait for each receipt:
it sends a chunk, then collects the chunk's receipts.

Nothing here decides what the ledger must refuse: a transaction the ledger refuses reverts, one it accepts is the
index's to handle. The rogue only guesses which ones land (by the rules an honest gateway follows,
`domain.codec`) to keep its "right" sequence numbers right; a wrong guess costs reverts, never an assertion.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from eth_utils import function_abi_to_4byte_selector, keccak
from hexbytes import HexBytes
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from web3 import Web3
from web3.contract import Contract

from creditshare.chain.artifacts import LEDGER, event_topic
from creditshare.chain.ledger import Item, LedgerClient
from creditshare.chain.logs import address_topic
from creditshare.chain.rpc import Receipt, rpc
from creditshare.chain.transactor import Transactor
from creditshare.core.exceptions import ChainError
from creditshare.domain.codec import (
    MAX_DAYS_PAST_DUE,
    MAX_FEN,
    MAX_U16,
    MAX_U64,
    ItemType,
    day_number,
    event_word_problem,
    inquiry_word_problem,
)

WORD = 32
ZERO = bytes(WORD)
MAX_BATCH = 256  # the ledger's MAX_BATCH_SIZE today; only used to guess which batches land
EARLIEST_DAY = day_number(dt.date(1990, 1, 1))

CREDIT_TOPIC = event_topic(LEDGER, "CreditEventRecorded")
INQUIRY_TOPIC = event_topic(LEDGER, "InquiryRecorded")
BATCH_TOPIC = event_topic(LEDGER, "BatchRecorded")

# ---------------------------------------------------------------------------------------------------- specs

KeyKind = Literal["borrower", "random", "zero", "honest_loan", "honest_record", "own_record"]


@dataclass(frozen=True)
class Key:
    """A 32-byte key slot: a real borrower's subject key, a made-up key, zero, or one copied from the chain."""

    kind: KeyKind
    pick: int


@dataclass(frozen=True)
class Day:
    """An occurred-on day relative to today (UTC, as the ledger counts): in the past, tomorrow (the last day the
    ledger accepts), later, before 1990, or the largest uint32."""

    kind: Literal["past", "tomorrow", "future", "before_epoch", "max"]
    offset: int

    def number(self, today: int) -> int:
        if self.kind == "past":
            return max(EARLIEST_DAY, today - self.offset)
        if self.kind == "tomorrow":
            return today + 1
        if self.kind == "future":
            return today + 2 + self.offset
        if self.kind == "before_epoch":
            return self.offset % EARLIEST_DAY
        return 2**32 - 1


@dataclass(frozen=True)
class EventWord:
    """A credit event's data word with any field values (the strategy decides whether it is a valid one)."""

    item_type: int  # byte 0: 1-6 are credit events; anything else is unknown (16 is an inquiry's)
    day: Day
    amount: int  # < 2^64
    overdue: int  # < 2^64
    dpd: int  # < 2^16
    padding: int  # < 2^72: the bytes an honest word leaves zero

    def value(self, today: int) -> int:
        return (
            (self.item_type << 248)
            | (self.day.number(today) << 216)
            | (self.amount << 152)
            | (self.overdue << 88)
            | (self.dpd << 72)
            | self.padding
        )


@dataclass(frozen=True)
class InquiryWord:
    """An inquiry's data word: type 16, a purpose byte (1-6 are known) and padding (< 2^240)."""

    purpose: int
    padding: int

    def value(self, today: int) -> int:
        return (int(ItemType.INQUIRY) << 248) | (self.purpose << 240) | self.padding


@dataclass(frozen=True)
class ItemSpec:
    """One four-word item: subject key, loan key (consent hash for an inquiry), record hash, data word."""

    subject: Key
    key: Key
    record: Key
    word: EventWord | InquiryWord


@dataclass(frozen=True)
class Seq:
    """A batch's sequence number: the rogue's next one, one a little off, or any uint64."""

    kind: Literal["next", "offset", "any"]
    value: int


@dataclass(frozen=True)
class Batch:
    """`recordBatch`. `size` above the item count repeats the items (record hashes varied) up to `size` items:
    an oversize batch. `extra_words` appends words after the items: an array whose length is not a multiple
    of 4."""

    seq: Seq
    items: tuple[ItemSpec, ...]
    size: int = 0
    extra_words: int = 0


@dataclass(frozen=True)
class Ref:
    """The original a correction names: an honest lender's real batch (right digest, wrong owner), an honest
    batch claimed as the rogue's own (wrong digest), one of the rogue's own landed batches, or a forgery."""

    kind: Literal["honest", "honest_as_own", "own", "forged"]
    pick: int
    index: int


@dataclass(frozen=True)
class Correction:
    """`correctRecord`."""

    seq: Seq
    ref: Ref
    item: ItemSpec


@dataclass(frozen=True)
class Dispute:
    """`openDispute` (outcome None) or `resolveDispute` with a raw outcome byte (1-2 are known), on a record of an
    honest lender, of the rogue itself or of a made-up address."""

    lender: Literal["honest", "self", "random"]
    pick: int
    record: Key
    outcome: int | None


@dataclass(frozen=True)
class Garbage:
    """Raw calldata: random bytes, behind one of the ledger's selectors (so its ABI decoder reads them) or not."""

    function: Literal["recordBatch", "correctRecord", "openDispute", "resolveDispute"] | None
    body: bytes


RogueTx = Batch | Correction | Dispute | Garbage

# ---------------------------------------------------------------------------------------------------- strategies

_picks = st.integers(min_value=0, max_value=2**20)
_u64 = st.integers(min_value=0, max_value=MAX_U64)
_fen = st.integers(min_value=0, max_value=MAX_FEN)
_dpd = st.integers(min_value=0, max_value=MAX_DAYS_PAST_DUE)
_past = st.builds(Day, st.just("past"), st.integers(min_value=0, max_value=5_000))


T = TypeVar("T")


def weighted(*choices: tuple[int, st.SearchStrategy[T]]) -> st.SearchStrategy[T]:
    """One of `choices`, each drawn about `weight` times as often as a weight-1 one (`st.one_of` neither weighs
    its branches nor keeps a branch given twice)."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(range(len(pool))).flatmap(lambda i: pool[i])


def _key(*kinds: KeyKind) -> st.SearchStrategy[Key]:
    return st.builds(Key, st.sampled_from(kinds), _picks)


#: Most items are about a real borrower the honest gateways hold (or one only the rogue names).
_real_subjects = _key("borrower")
_subjects = weighted((6, _real_subjects), (1, _key("random")), (1, _key("zero")))
_loan_keys = weighted((3, _key("random")), (1, _key("honest_loan")), (1, _key("zero")))
_nonzero_records = weighted((4, _key("random")), (1, _key("honest_record")), (1, _key("own_record")))
_records = weighted((6, _nonzero_records), (1, _key("zero")))


@st.composite
def valid_event_words(draw: st.DrawFn) -> EventWord:
    """A credit event's word as an honest gateway writes it (`codec.event_word_problem` finds nothing)."""
    kind = draw(st.sampled_from([t for t in ItemType if t is not ItemType.INQUIRY]))
    day = draw(weighted((9, _past), (1, st.builds(Day, st.just("tomorrow"), st.just(0)))))
    if kind is ItemType.LOAN_OPENED:
        return EventWord(kind, day, draw(st.integers(1, MAX_FEN)), 0, 0, 0)
    if kind is ItemType.SETTLED:
        return EventWord(kind, day, 0, 0, 0, 0)
    if kind is ItemType.WRITTEN_OFF:
        return EventWord(kind, day, draw(_fen), draw(_fen), draw(_dpd), 0)
    low = 1 if kind is ItemType.OVERDUE else 0
    amount = draw(st.integers(low, MAX_FEN))
    overdue = draw(st.integers(low, amount))
    dpd = draw(st.integers(low, MAX_DAYS_PAST_DUE))
    return EventWord(kind, day, amount, overdue, dpd, 0)


#: Any word at all: unknown types, days before 1990 or after tomorrow, amounts past 10^15 up to 2^64-1, padding.
wild_event_words = st.builds(
    EventWord,
    weighted((1, st.integers(1, 6)), (1, st.integers(0, 255))),
    weighted(
        (1, _past),
        (2, st.builds(Day, st.sampled_from(["tomorrow", "future", "before_epoch", "max"]), st.integers(0, 2**31))),
    ),
    weighted((1, _fen), (1, st.integers(MAX_FEN + 1, MAX_U64)), (1, st.just(MAX_U64))),
    weighted((2, st.just(0)), (1, _fen), (1, _u64)),
    weighted((2, st.just(0)), (1, _dpd), (1, st.integers(0, MAX_U16))),
    weighted((2, st.just(0)), (1, st.integers(1, 2**72 - 1))),
)
valid_inquiry_words = st.builds(InquiryWord, st.integers(1, 6), st.just(0))
wild_inquiry_words = st.builds(
    InquiryWord, st.integers(0, 255), weighted((1, st.just(0)), (1, st.integers(1, 2**240 - 1)))
)

valid_items = weighted(
    (4, st.builds(ItemSpec, _real_subjects, weighted((3, _key("random")), (1, _key("honest_loan"))), _nonzero_records,
                  valid_event_words())),
    (1, st.builds(ItemSpec, _real_subjects, _key("random"), _key("random"), valid_inquiry_words)),
)  # fmt: skip
wild_items = st.builds(
    ItemSpec,
    _subjects,
    _loan_keys,
    _records,
    weighted((3, wild_event_words), (1, valid_event_words()), (1, wild_inquiry_words)),
)
_seqs = weighted(
    (8, st.builds(Seq, st.just("next"), st.just(0))),
    (1, st.builds(Seq, st.just("offset"), st.integers(-3, 3).filter(bool))),
    (1, st.builds(Seq, st.just("any"), _u64)),
)
batches = weighted(
    (6, st.builds(Batch, _seqs, st.lists(valid_items, min_size=1, max_size=8).map(tuple))),
    (3, st.builds(Batch, _seqs, st.lists(weighted((1, valid_items), (1, wild_items)), max_size=6).map(tuple))),
    (1, st.builds(Batch, _seqs, st.lists(valid_items, min_size=1, max_size=3).map(tuple), st.integers(257, 300))),
    (1, st.builds(Batch, _seqs, st.lists(valid_items, min_size=1, max_size=4).map(tuple), st.just(0),
                  st.integers(1, 3))),
)  # fmt: skip
corrections = st.builds(
    Correction,
    _seqs,
    st.builds(Ref, st.sampled_from(["honest", "honest", "honest_as_own", "own", "own", "own", "forged"]), _picks,
              _picks),
    weighted((3, valid_items), (1, wild_items)),
)  # fmt: skip
disputes = st.builds(
    Dispute,
    st.sampled_from(["honest", "honest", "self", "self", "random"]),
    _picks,
    weighted((2, _key("honest_record")), (2, _key("own_record")), (1, _key("random")), (1, _key("zero"))),
    weighted((2, st.none()), (1, st.integers(0, 3)), (1, st.integers(0, 255))),
)
garbage = st.builds(
    Garbage,
    st.sampled_from([None, "recordBatch", "correctRecord", "openDispute", "resolveDispute"]),
    st.binary(max_size=300),
)
rogue_transactions: st.SearchStrategy[RogueTx] = weighted((10, batches), (3, corrections), (2, disputes), (1, garbage))


def generate_plan(count: int) -> list[RogueTx]:
    """`count` rogue transactions drawn by hypothesis with a fixed seed (`derandomize`): the same plan every run.

    One hypothesis example per transaction. (A single example drawing hundreds of transactions does not work:
    with `max_examples=1` hypothesis runs only its simplest, all-zero example, and such an example overruns its
    8 KiB buffer.)"""
    plan: list[RogueTx] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(rogue_transactions)
    def collect(tx: RogueTx) -> None:
        plan.append(tx)

    collect()
    return plan


def flood(borrower: int, events: int, loans: int, batch_size: int = 250) -> list[Batch]:
    """`events` valid-looking credit events about one borrower, spread over `loans` loans (each opened first,
    then repayments and overdues on later days), in batches at the rogue's next sequence number."""
    items: list[ItemSpec] = []
    for i in range(events):
        loan, n = i % loans, i // loans
        day = Day("past", max(0, 600 - 5 * n - loan % 7))
        if n == 0:
            word = EventWord(ItemType.LOAN_OPENED, day, 1_000_000 + loan, 0, 0, 0)
        elif n % 3 == 2:
            word = EventWord(ItemType.OVERDUE, day, 900_000, 50_000, 30 * n, 0)
        else:
            word = EventWord(ItemType.REPAYMENT, day, 900_000 - n, 0, 0, 0)
        items.append(ItemSpec(Key("borrower", borrower), Key("random", 2**30 + loan), Key("random", 2**31 + i), word))
    return [Batch(Seq("next", 0), tuple(items[start : start + batch_size])) for start in range(0, events, batch_size)]


# ---------------------------------------------------------------------------------------------------- the chain side


@dataclass(frozen=True)
class Landed:
    """A batch on chain: its lender, sequence number and record hashes in order (zero for each inquiry), as a
    correction's `RecordRef` needs them."""

    lender: str
    seq: int
    hashes: tuple[bytes, ...]
    loan_keys: tuple[bytes, ...]


def landed_batches(receipt: Receipt, ledger: str) -> list[Landed]:
    """The batches a mined transaction recorded (read from its logs)."""
    found: list[Landed] = []
    hashes: list[bytes] = []
    loans: list[bytes] = []
    for log in receipt.logs:
        if log.address != ledger.lower() or not log.topics:
            continue
        if log.topics[0] == CREDIT_TOPIC:
            hashes.append(log.topics[3])
            loans.append(log.data[:WORD])
        elif log.topics[0] == INQUIRY_TOPIC:
            hashes.append(ZERO)
        elif log.topics[0] == BATCH_TOPIC:
            lender = "0x" + log.topics[1][-20:].hex()
            found.append(Landed(lender, int.from_bytes(log.topics[2], "big"), tuple(hashes), tuple(loans)))
            hashes, loans = [], []
    return found


def batches_of(w3: Web3, ledger: str, lender: str) -> list[Landed]:
    """Every batch `lender` has on chain, in sequence order."""
    logs = rpc(
        w3,
        "eth_getLogs",
        [{"address": ledger, "fromBlock": "0x0", "toBlock": "latest",
          "topics": ["0x" + BATCH_TOPIC.hex(), address_topic(lender)]}],
    )  # fmt: skip
    found: list[Landed] = []
    for tx_hash in dict.fromkeys(str(log["transactionHash"]) for log in logs):
        found += landed_batches(Receipt.from_rpc(rpc(w3, "eth_getTransactionReceipt", [tx_hash])), ledger)
    return sorted(found, key=lambda b: b.seq)


@dataclass
class Targets:
    """What the rogue aims at: real borrowers' subject keys, the honest lenders and their batches on chain, and
    its own batches as they land."""

    subjects: list[bytes]
    honest_lenders: list[str]
    honest_batches: list[Landed]
    own_batches: list[Landed] = field(default_factory=list)

    @property
    def honest_records(self) -> list[bytes]:
        return [h for b in self.honest_batches for h in b.hashes if h != ZERO]

    @property
    def honest_loans(self) -> list[bytes]:
        return [k for b in self.honest_batches for k in b.loan_keys]

    @property
    def own_records(self) -> list[bytes]:
        return [h for b in self.own_batches for h in b.hashes if h != ZERO]


@dataclass
class RogueStats:
    """What the rogue did: transactions planned, sent (the node took them), refused at sending, mined and
    reverted; the ledger logs the mined ones produced; and per kind of spec, sent and mined."""

    planned: int = 0
    sent: int = 0
    refused: int = 0
    mined: int = 0
    reverted: int = 0
    logs: int = 0
    item_logs: int = 0
    sent_by_kind: Counter[str] = field(default_factory=Counter)
    mined_by_kind: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        kinds = ", ".join(f"{k} {self.mined_by_kind[k]}/{n}" for k, n in sorted(self.sent_by_kind.items()))
        return (
            f"rogue: {self.planned} planned, {self.sent} sent, {self.refused} refused by the node, "
            f"{self.mined} mined, {self.reverted} reverted, {self.logs} ledger logs ({self.item_logs} items); "
            f"mined/sent by kind: {kinds}"
        )


@dataclass(frozen=True)
class Built:
    """A spec built into calldata, with the gas it is sent with and whether the rogue expects it to consume its
    next sequence number (only used to keep "next" sequence numbers right)."""

    kind: str
    data: bytes
    gas: int
    takes_seq: bool = False


def _derived(tag: bytes, n: int) -> bytes:
    return keccak(tag + n.to_bytes(32, "big"))


def _address(tag: bytes, n: int) -> str:
    return Web3.to_checksum_address(_derived(tag, n)[-20:])


def _gas(data: bytes, items: int) -> int:
    """Generous: a rogue transaction that runs out of gas proves nothing."""
    return min(29_000_000, 21_000 + 16 * len(data) + 12_000 * items + 200_000)


class Rogue:
    """Builds, signs and sends the rogue's transactions (see the module docstring)."""

    def __init__(self, tx: Transactor, ledger: Contract, registry: Contract, targets: Targets) -> None:
        self.tx = tx
        self.ledger = ledger
        self.address = str(tx.address)
        self.client = LedgerClient(ledger, registry, tx.address)
        self.targets = targets
        self.stats = RogueStats()
        self.today = 0
        self.next_seq = 0
        self._selectors = {
            str(f["name"]): function_abi_to_4byte_selector(f) for f in ledger.abi if f["type"] == "function"
        }

    # ------------------------------------------------------------------ running

    def run(self, plan: Sequence[RogueTx], chunk: int = 50) -> RogueStats:
        """Send every transaction of `plan`, `chunk` at a time without waiting for receipts in between; then
        collect the chunk's receipts and learn the rogue's landed batches and its next sequence number."""
        self.stats.planned += len(plan)
        for start in range(0, len(plan), chunk):
            self.today = int(self.tx.w3.eth.get_block("latest")["timestamp"]) // 86_400
            self.next_seq = self.client.next_sequence()
            sent: list[tuple[str, str]] = []
            for spec in plan[start : start + chunk]:
                built = self.build(spec)
                signed = self.tx.sign_data(self.ledger.address, built.data, built.gas)
                try:
                    self.tx.send_raw(signed.raw)
                except ChainError:  # the node refused it outright: its nonce is free again
                    self.stats.refused += 1
                    self.tx.resync_nonce()
                    continue
                self.stats.sent += 1
                self.stats.sent_by_kind[built.kind] += 1
                sent.append((signed.tx_hash, built.kind))
                if built.takes_seq:
                    self.next_seq += 1
            for tx_hash, kind in sent:
                self._settle(self.tx.wait_receipt(tx_hash, timeout=120), kind)
        return self.stats

    def _settle(self, receipt: Receipt, kind: str) -> None:
        if receipt.status != 1:
            self.stats.reverted += 1
            return
        self.stats.mined += 1
        self.stats.mined_by_kind[kind] += 1
        ours = [log for log in receipt.logs if log.address == self.ledger.address.lower()]
        self.stats.logs += len(ours)
        self.stats.item_logs += sum(1 for log in ours if log.topics and log.topics[0] in (CREDIT_TOPIC, INQUIRY_TOPIC))
        self.targets.own_batches += landed_batches(receipt, self.ledger.address)

    # ------------------------------------------------------------------ building

    def build(self, spec: RogueTx) -> Built:
        if isinstance(spec, Batch):
            return self._batch(spec)
        if isinstance(spec, Correction):
            return self._correction(spec)
        if isinstance(spec, Dispute):
            return self._dispute(spec)
        return self._garbage(spec)

    def key(self, key: Key) -> bytes:
        pools = {
            "borrower": self.targets.subjects,
            "honest_loan": self.targets.honest_loans,
            "honest_record": self.targets.honest_records,
            "own_record": self.targets.own_records,
        }
        pool = pools.get(key.kind)
        if pool:
            return pool[key.pick % len(pool)]
        return ZERO if key.kind == "zero" else _derived(b"rogue-key", key.pick)

    def item(self, spec: ItemSpec, variant: int = 0) -> Item:
        record = self.key(spec.record)
        if variant:
            record = _derived(record, variant)
        word = spec.word.value(self.today).to_bytes(WORD, "big")
        return Item(self.key(spec.subject), self.key(spec.key), record, word)

    def valid(self, item: Item) -> bool:
        """Whether an honest gateway could have written this item (the rules `domain.codec` states)."""
        if ZERO in (item.subject_key, item.key, item.record_hash):
            return False
        data = int.from_bytes(item.data_word, "big")
        if data >> 248 == ItemType.INQUIRY:
            return inquiry_word_problem(data) is None
        return event_word_problem(data, latest_day=self.today + 1) is None

    def seq(self, spec: Seq) -> int:
        if spec.kind == "next":
            return self.next_seq
        if spec.kind == "offset":
            return max(0, self.next_seq + spec.value)
        return spec.value

    def _batch(self, spec: Batch) -> Built:
        size = max(spec.size, len(spec.items))
        items = [self.item(spec.items[i % len(spec.items)], i // len(spec.items)) for i in range(size)]
        seq = self.seq(spec.seq)
        if spec.extra_words:
            words = [w for it in items for w in (it.subject_key, it.key, it.record_hash, it.data_word)]
            words += [_derived(b"rogue-extra", i) for i in range(spec.extra_words)]
            head = seq.to_bytes(WORD, "big") + (2 * WORD).to_bytes(WORD, "big") + len(words).to_bytes(WORD, "big")
            data = self._selectors["recordBatch"] + head + b"".join(words)
        else:
            data = self.client.record_batch_data(seq, items)
        lands = seq == self.next_seq and not spec.extra_words and 1 <= size <= MAX_BATCH and all(map(self.valid, items))
        kind = "batch/oversize" if size > MAX_BATCH else "batch/malformed" if spec.extra_words else "batch"
        return Built(kind, data, _gas(data, size), takes_seq=lands)

    def _ref(self, spec: Ref) -> tuple[tuple[str, int, int, list[bytes]], bool]:
        """The `RecordRef` a correction names, and whether it is a real original of the rogue's own."""
        honest, own = self.targets.honest_batches, self.targets.own_batches
        if spec.kind in ("honest", "honest_as_own") and honest:
            batch = honest[spec.pick % len(honest)]
            lender = batch.lender if spec.kind == "honest" else self.address
            return (
                Web3.to_checksum_address(lender),
                batch.seq,
                spec.index % len(batch.hashes),
                list(batch.hashes),
            ), False
        if spec.kind == "own" and own:
            batch = own[spec.pick % len(own)]
            index = spec.index % len(batch.hashes)
            return (self.address, batch.seq, index, list(batch.hashes)), batch.hashes[index] != ZERO
        lenders = [*self.targets.honest_lenders, self.address]
        lender = lenders[spec.pick % len(lenders)]
        hashes = [_derived(b"rogue-forged", spec.pick + n) for n in range(1 + spec.index % 4)]
        return (Web3.to_checksum_address(lender), spec.pick, spec.index % len(hashes), hashes), False

    def _correction(self, spec: Correction) -> Built:
        ref, own = self._ref(spec.ref)
        item = self.item(spec.item)
        seq = self.seq(spec.seq) % 2**64
        words = [item.subject_key, item.key, item.record_hash, item.data_word]
        data = bytes(HexBytes(self.ledger.encode_abi("correctRecord", args=[seq, ref, words])))
        credit = int.from_bytes(item.data_word, "big") >> 248 != ItemType.INQUIRY
        lands = own and credit and seq == self.next_seq and self.valid(item)
        return Built(f"correct/{spec.ref.kind}", data, _gas(data, 1 + len(ref[3])), takes_seq=lands)

    def _dispute(self, spec: Dispute) -> Built:
        if spec.lender == "honest":
            lender = self.targets.honest_lenders[spec.pick % len(self.targets.honest_lenders)]
        elif spec.lender == "self":
            lender = self.address
        else:
            lender = _address(b"rogue-lender", spec.pick)
        args = bytes.fromhex(address_topic(lender)[2:]) + self.key(spec.record)
        if spec.outcome is None:  # the objection's hash: the record key again (zero when it is zero)
            data = self._selectors["openDispute"] + args + self.key(spec.record)
        else:  # the detail: reason code 1 (the index checks it; the ledger only that it is not zero)
            data = (
                self._selectors["resolveDispute"]
                + args
                + spec.outcome.to_bytes(WORD, "big")
                + (1).to_bytes(WORD, "big")
            )
        kind = f"{'open' if spec.outcome is None else 'resolve'}/{spec.lender}"
        return Built(kind, data, _gas(data, 1))

    def _garbage(self, spec: Garbage) -> Built:
        data = (self._selectors[spec.function] if spec.function else b"") + spec.body
        return Built(f"garbage/{spec.function or 'raw'}", data, _gas(data, 1))
