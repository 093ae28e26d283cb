"""Helpers of the report tests.

* Fact builders for the pure fold: fixed lender addresses, record/transaction hashes derived from (block, log
  index), and one as-of instant (2026-06-15 12:00 China Standard Time) so expectations can be written by hand.
* A consortium run only by dev accounts 15-18 (governor 15 with threshold 1; lenders 16, 17 and 18, the last also
  the deployer), a writer that keeps what corrections and disputes need, and index helpers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine
from web3 import Web3

from creditshare.core.clock import CST
from creditshare.core.db import Sessions, make_engine, session_factory
from creditshare.domain import codec
from creditshare.domain.codec import ItemType
from creditshare.domain.report import (
    CorrectionFact,
    CreditReport,
    DisputeFact,
    EventFact,
    Evidence,
    InquiryFact,
    Policy,
    SubjectFacts,
    fold,
)
from creditshare.read.follower import Follower
from creditshare.read.reports import block_time, build_report
from tests.support import Consortium

# ---------------------------------------------------------------------------------------------------- fold facts

POLICY = Policy.load()
DAY = 86_400
A = "0x" + "a1" * 20
B = "0x" + "b2" * 20
C = "0x" + "c3" * 20
NAMES = {A: "Lender A", B: "Lender B", C: "Lender C"}
SUBJECT = bytes.fromhex("5a" * 32)
AS_OF_BLOCK = 1_000
#: 2026-06-15 12:00 in China Standard Time (04:00 UTC): the as-of date is 2026-06-15, its month June 2026.
AS_OF_TIME = int(dt.datetime(2026, 6, 15, 12, 0, tzinfo=CST).timestamp())


def lender(n: int) -> str:
    """The n-th made-up lender address (beyond A, B, C)."""
    return "0x" + f"{n:02x}" * 20


def tx(block: int) -> bytes:
    """The transaction hash of every fact in `block` (one transaction per block)."""
    return block.to_bytes(32, "big")


def tx_hex(block: int) -> str:
    return "0x" + tx(block).hex()


def rec(block: int, log_index: int) -> bytes:
    """The record hash of the event logged at (block, log index)."""
    return (0xEE << 248 | block << 16 | log_index).to_bytes(32, "big")


def loan(n: int) -> bytes:
    return bytes([n]) * 32


def loan_hex(n: int) -> str:
    return "0x" + f"{n:02x}" * 32


def event(
    block: int,
    log_index: int,
    lender_address: str,
    loan_no: int,
    item_type: ItemType,
    on: dt.date,
    amount_fen: int,
    overdue_fen: int = 0,
    days_past_due: int = 0,
) -> EventFact:
    """A CreditEventRecorded fact with record hash `rec(block, log_index)`."""
    return EventFact(
        block,
        log_index,
        tx(block),
        lender_address,
        rec(block, log_index),
        loan(loan_no),
        int(item_type),
        codec.day_number(on),
        amount_fen,
        overdue_fen,
        days_past_due,
    )


def correction(block: int, log_index: int, lender_address: str, original: bytes, replacement: bytes) -> CorrectionFact:
    return CorrectionFact(block, log_index, tx(block), lender_address, original, replacement)


def dispute(block: int, log_index: int, lender_address: str, record_hash: bytes, outcome: int, at: int) -> DisputeFact:
    return DisputeFact(block, log_index, tx(block), lender_address, record_hash, outcome, at)


def inquiry(block: int, log_index: int, lender_address: str, purpose: int, at: int) -> InquiryFact:
    return InquiryFact(block, log_index, tx(block), lender_address, purpose, at)


def facts(
    events: Iterable[EventFact] = (),
    corrections: Iterable[CorrectionFact] = (),
    disputes: Iterable[DisputeFact] = (),
    inquiries: Iterable[InquiryFact] = (),
) -> SubjectFacts:
    return SubjectFacts(tuple(events), tuple(corrections), tuple(disputes), tuple(inquiries))


def report(
    subject_facts: SubjectFacts,
    *,
    as_of_time: int = AS_OF_TIME,
    names: dict[str, str] | None = None,
    policy: Policy | None = None,
) -> CreditReport:
    """Fold `subject_facts` of SUBJECT as of block AS_OF_BLOCK at `as_of_time` with the shipped policy (or
    `policy`)."""
    return fold(
        SUBJECT,
        subject_facts,
        as_of_block=AS_OF_BLOCK,
        as_of_time=as_of_time,
        lender_names=NAMES if names is None else names,
        policy=policy or POLICY,
    )


def cited(kind: str, block: int, log_index: int) -> Evidence:
    """The evidence entry of the fact at (block, log index)."""
    return Evidence(kind=kind, tx_hash=tx_hex(block), log_index=log_index, block_number=block)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------- chain

#: Dev-chain accounts of this package. The gateway fault tests use 14-17 too, but only inside their own tests
#: (fresh transactors each time), and tests run one after another, so nonces never clash.
GOVERNOR, LENDER_A, LENDER_B, LENDER_C = 15, 16, 17, 18
LENDER_NAMES = ("Report Lender A", "Report Lender B", "Report Lender C")
Item = tuple[bytes, bytes, bytes, int]


def report_consortium(w3: Web3, accounts: list[LocalAccount]) -> Consortium:
    """Fresh contracts: governor 15 (threshold 1), lenders 16-18 admitted; 18 deploys."""
    c = Consortium.deploy(w3, accounts[: LENDER_C + 1], governors=[accounts[GOVERNOR]], threshold=1)
    for index, name in zip((LENDER_A, LENDER_B, LENDER_C), LENDER_NAMES, strict=True):
        c.admit_lender(accounts[index], name)
    return c


@dataclass(frozen=True)
class OnChain:
    """A credit event as recorded: what a correction needs to point at it."""

    lender: LocalAccount
    seq: int
    index: int
    batch_hashes: tuple[bytes, ...]
    item: Item

    @property
    def record_hash(self) -> bytes:
        return self.item[2]

    @property
    def subject_key(self) -> bytes:
        return self.item[0]


@dataclass
class LedgerWriter:
    """Records batches, corrections and disputes, keeping each lender's sequence and the open disputes."""

    c: Consortium
    records: list[OnChain] = field(default_factory=list)
    open_disputes: set[tuple[str, bytes]] = field(default_factory=set)
    corrected_by: dict[tuple[str, bytes], bytes] = field(default_factory=dict)  # (lender, original) → correction
    _next: dict[str, int] = field(default_factory=dict)

    def __repr__(self) -> str:  # hypothesis prints its arguments: keep it short
        return f"LedgerWriter(ledger={self.c.ledger.address}, records={len(self.records)})"

    def _seq(self, account: LocalAccount) -> int:
        if account.address not in self._next:
            self._next[account.address] = int(self.c.ledger.functions.nextSequence(account.address).call())
        seq = self._next[account.address]
        self._next[account.address] = seq + 1
        return seq

    def batch(self, account: LocalAccount, items: list[Item]) -> list[OnChain]:
        """Record `items` in one batch; returns the credit events (inquiries cannot be corrected)."""
        seq = self._seq(account)
        self.c.record(account, items, seq)
        is_inquiry = [codec.item_type_of(item[3]) == ItemType.INQUIRY for item in items]
        hashes = tuple(bytes(32) if inq else item[2] for item, inq in zip(items, is_inquiry, strict=True))
        recorded = [
            OnChain(account, seq, i, hashes, item)
            for i, (item, inq) in enumerate(zip(items, is_inquiry, strict=True))
            if not inq
        ]
        self.records.extend(recorded)
        return recorded

    def correct(self, original: OnChain, item: Item) -> OnChain:
        """Replace `original` (by its own lender) with `item`."""
        account = original.lender
        seq = self._seq(account)
        ref = (account.address, original.seq, original.index, list(original.batch_hashes))
        self.corrected_by[(account.address, original.record_hash)] = item[2]
        self.c.tx(account).transact(self.c.ledger.functions.correctRecord(seq, ref, codec.encode_items([item])))
        replacement = OnChain(account, seq, 0, (item[2],), item)
        self.records.append(replacement)
        return replacement

    def toggle_dispute(self, record: OnChain, outcome: int = 1, by: LocalAccount | None = None) -> None:
        """Open a dispute on `record`, or resolve the open one with `outcome` (by its lender or `by`)."""
        actor = by or record.lender
        key = (record.lender.address, record.record_hash)
        ledger = self.c.ledger.functions
        if key in self.open_disputes:
            # Upheld carries a reason code (1: verified with the source); corrected names the correction, which the
            # index checks, so a record never corrected is upheld instead.
            correction = self.corrected_by.get(key)
            if outcome == 2 and correction is not None:
                detail = correction
            else:
                outcome, detail = 1, (1).to_bytes(32, "big")
            resolve = ledger.resolveDispute(record.lender.address, record.record_hash, outcome, detail)
            self.c.tx(actor).transact(resolve)
            self.open_disputes.discard(key)
        else:
            objection = hashlib.sha256(b"objection" + record.record_hash).digest()
            self.c.tx(actor).transact(ledger.openDispute(record.lender.address, record.record_hash, objection))
            self.open_disputes.add(key)


def event_item(
    subject_key: bytes,
    loan_key: bytes,
    item_type: ItemType,
    on: dt.date,
    amount_fen: int,
    overdue_fen: int = 0,
    days_past_due: int = 0,
) -> Item:
    """A credit event with a fresh random record hash."""
    data = codec.pack_event_data(item_type, on, amount_fen, overdue_fen, days_past_due)
    return (subject_key, loan_key, uuid.uuid4().bytes * 2, data)


def inquiry_of(subject_key: bytes, purpose: int) -> Item:
    return (subject_key, uuid.uuid4().bytes * 2, uuid.uuid4().bytes * 2, codec.pack_inquiry_data(purpose))


# ---------------------------------------------------------------------------------------------------- index


@dataclass
class Index:
    """One gateway's index: an engine, its sessions and the follower writing into it."""

    engine: Engine
    factory: Sessions
    follower: Follower

    def sync(self) -> int:
        """Catch up with the chain head; returns the last indexed block."""
        return self.follower.sync().indexed

    def reports(self, subjects: Iterable[bytes], as_of_block: int, as_of_time: int | None = None) -> list[dict]:
        """model_dump() of each subject's report from this index, as of `as_of_block` (at its block time)."""
        with self.factory() as session:
            at = as_of_time if as_of_time is not None else block_time(session, as_of_block)
            assert at is not None, f"block {as_of_block} is not in the index"
            return [
                build_report(session, s, as_of_block=as_of_block, as_of_time=at, policy=POLICY).model_dump()
                for s in subjects
            ]


def open_index(w3: Web3, c: Consortium, url: str, *, max_range: int = 2_000) -> Index:
    engine = make_engine(url)
    factory = session_factory(engine)
    return Index(engine, factory, Follower(w3, factory, c.deployment, max_range=max_range))
