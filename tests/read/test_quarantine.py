"""The index treats every log as untrusted: what it cannot accept is quarantined with its reason, counted in the
metrics, left out of every report, and never stops the follower — on SQLite and on PostgreSQL.

A `RogueLedger` (tests/read/contracts) stands in the ledger's place: it emits whatever logs it is given, as a
buggy or hostile contract (or node) would, including what the real ledger refuses to emit.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from prometheus_client import generate_latest
from sqlalchemy import func, select
from web3 import Web3

from creditshare.chain.artifacts import LEDGER, event_topic
from creditshare.chain.deploy import Deployment
from creditshare.chain.logs import address_topic
from creditshare.chain.rpc import contract_at
from creditshare.chain.transactor import Transactor
from creditshare.core.db import make_engine, session_factory
from creditshare.core.db.tables import IndexEvent, IndexQuarantine
from creditshare.core.metrics import Metrics
from creditshare.devtools.checkout import project_root
from creditshare.devtools.compiler import compile_sources
from creditshare.domain.codec import ItemType, day_number, pack_event_data, pack_inquiry_data
from creditshare.domain.report import Policy
from creditshare.read.follower import Follower
from creditshare.read.reports import build_report
from creditshare.read.store import quarantined_by_reason
from tests.support import Consortium

CONTRACTS = Path(__file__).parent / "contracts"
TODAY = dt.date.today()


def word(item_type: int, day: int, amount: int = 0, overdue: int = 0, dpd: int = 0, padding: int = 0) -> bytes:
    """A data word with any field values (no checks)."""
    value = (item_type << 248) | (day << 216) | (amount << 152) | (overdue << 88) | (dpd << 72) | padding
    return value.to_bytes(32, "big")


def key() -> bytes:
    return uuid.uuid4().bytes * 2


@dataclass
class Rogue:
    """A consortium whose ledger address is a RogueLedger, and a way to make it emit."""

    consortium: Consortium
    deployment: Deployment
    emitter: Transactor
    contract: object

    def emit(self, topics: list[bytes], data: bytes) -> None:
        fn = self.contract.functions.emitLog(topics, data)  # type: ignore[attr-defined]
        self.emitter.transact(fn, gas=200_000)

    def lender(self, n: int) -> str:
        return self.consortium.accounts[n].address.lower()


@pytest.fixture(scope="module")
def rogue_artifact():  # type: ignore[no-untyped-def]
    return compile_sources(CONTRACTS, base=project_root())["RogueLedger"]


@pytest.fixture
def rogue(consortium: Consortium, rogue_artifact, accounts: list[LocalAccount]) -> Rogue:  # type: ignore[no-untyped-def]
    emitter = consortium.tx(accounts[5])
    address, _ = emitter.deploy(rogue_artifact)
    return Rogue(
        consortium,
        replace(consortium.deployment, ledger=address),
        emitter,
        contract_at(consortium.w3, rogue_artifact, address),
    )


CREDIT = event_topic(LEDGER, "CreditEventRecorded")
INQUIRY = event_topic(LEDGER, "InquiryRecorded")
CORRECTED = event_topic(LEDGER, "CreditEventCorrected")
OPENED = event_topic(LEDGER, "DisputeOpened")
RESOLVED = event_topic(LEDGER, "DisputeResolved")


def addr(address: str) -> bytes:
    return bytes.fromhex(address_topic(address)[2:])


def opened_data() -> bytes:
    """A DisputeOpened log's data: an objection hash and the opener's counts (today, total)."""
    return key() + (1).to_bytes(32, "big") + (1).to_bytes(32, "big")


def resolved_data(outcome: int, detail: int | bytes) -> bytes:
    """A DisputeResolved log's data: the outcome and its detail (a reason code or a correction's hash)."""
    word_ = detail if isinstance(detail, bytes) else detail.to_bytes(32, "big")
    return outcome.to_bytes(32, "big") + word_


def credit(lender: str, subject: bytes, data: bytes, record: bytes | None = None) -> tuple[list[bytes], bytes]:
    return [CREDIT, subject, addr(lender), record or key()], key() + data


#: (case id, expected reason, how to build the log from (rogue, subject, an existing record of lender 3)).
Case = tuple[str, str, Callable[[Rogue, bytes, bytes], tuple[list[bytes], bytes]]]
TODAY_DAY = day_number(TODAY)
CASES: list[Case] = [
    ("unknown_type", "invalid_event", lambda r, s, _: credit(r.lender(3), s, word(7, TODAY_DAY, 100))),
    ("day_before_epoch", "invalid_event", lambda r, s, _: credit(r.lender(3), s, word(1, 100, 100))),
    ("day_far_future", "invalid_event", lambda r, s, _: credit(r.lender(3), s, word(1, 2**32 - 1, 100))),
    ("amount_uint64_max", "invalid_event", lambda r, s, _: credit(r.lender(3), s, word(1, TODAY_DAY, 2**64 - 1))),
    ("padding", "invalid_event", lambda r, s, _: credit(r.lender(3), s, word(1, TODAY_DAY, 100, padding=1))),
    ("opened_overdue", "invalid_event", lambda r, s, _: credit(r.lender(3), s, word(1, TODAY_DAY, 100, 5, 3))),
    ("settled_owing", "invalid_event", lambda r, s, _: credit(r.lender(3), s, word(5, TODAY_DAY, 100))),
    (
        "inquiry_purpose",
        "invalid_inquiry",
        lambda r, s, _: (
            [INQUIRY, s, addr(r.lender(3)), key()],
            key() + ((16 << 248) | (99 << 240)).to_bytes(32, "big"),
        ),
    ),
    ("three_topics", "malformed_log", lambda r, s, _: ([CREDIT, s, addr(r.lender(3))], key() + word(1, TODAY_DAY, 1))),
    ("short_data", "malformed_log", lambda r, s, _: ([CREDIT, s, addr(r.lender(3)), key()], key())),
    (
        "dirty_address",
        "malformed_log",
        lambda r, s, _: ([CREDIT, s, b"\xff" * 32, key()], key() + word(1, TODAY_DAY, 1)),
    ),
    ("zero_subject", "zero_key", lambda r, s, _: credit(r.lender(3), bytes(32), word(1, TODAY_DAY, 100))),
    ("not_a_lender", "not_a_lender", lambda r, s, _: credit(r.lender(7), s, word(1, TODAY_DAY, 100))),
    ("governor_records", "not_a_lender", lambda r, s, _: credit(r.lender(0), s, word(1, TODAY_DAY, 100))),
    ("unknown_original", "unknown_original", lambda r, s, _: ([CORRECTED, addr(r.lender(3)), key(), key()], b"")),
    (
        "unknown_record",
        "unknown_record",
        lambda r, s, _: ([OPENED, addr(r.lender(3)), key(), addr(r.lender(3))], opened_data()),
    ),
    (
        "dispute_opened_old_shape",
        "malformed_log",
        lambda r, s, rec: ([OPENED, addr(r.lender(3)), rec, addr(r.lender(4))], b""),
    ),
    (
        "dispute_by_non_member",
        "not_a_dispute_party",
        lambda r, s, rec: ([OPENED, addr(r.lender(3)), rec, addr(r.lender(7))], opened_data()),
    ),
    (
        "resolved_by_competitor",
        "not_a_dispute_party",
        lambda r, s, rec: ([RESOLVED, addr(r.lender(3)), rec, addr(r.lender(4))], resolved_data(1, 1)),
    ),
    (
        "resolved_outcome",
        "invalid_dispute",
        lambda r, s, rec: ([RESOLVED, addr(r.lender(3)), rec, addr(r.lender(3))], resolved_data(7, 1)),
    ),
    (
        "upheld_unknown_reason",
        "invalid_dispute",
        lambda r, s, rec: ([RESOLVED, addr(r.lender(3)), rec, addr(r.lender(3))], resolved_data(1, 99)),
    ),
    (
        "corrected_without_correction",
        "unknown_correction",
        lambda r, s, rec: ([RESOLVED, addr(r.lender(3)), rec, addr(r.lender(3))], resolved_data(2, key())),
    ),
]


def test_follower_quarantines_every_unacceptable_log_and_keeps_going(rogue: Rogue, database_url: str) -> None:
    w3: Web3 = rogue.consortium.w3
    subject = key()
    good = key()
    topics, data = credit(rogue.lender(3), subject, word(1, TODAY_DAY, 500_000), record=good)
    rogue.emit(topics, data)  # a record of lender 3 the bad logs refer to
    for _, _, build in CASES:
        rogue.emit(*build(rogue, subject, good))
    later = key()
    rogue.emit(*credit(rogue.lender(4), subject, word(1, TODAY_DAY, 300_000), record=later))

    engine = make_engine(database_url)
    try:
        factory = session_factory(engine)
        metrics = Metrics()
        follower = Follower(w3, factory, rogue.deployment, max_range=5, metrics=metrics)
        step = follower.sync()

        assert step.indexed == int(w3.eth.block_number)
        assert follower.lag == 0 and follower.last_error is None
        with factory() as session:
            reasons = list(session.scalars(select(IndexQuarantine.reason).order_by(IndexQuarantine.block_number)))
            stored = set(session.scalars(select(IndexEvent.record_hash).where(IndexEvent.subject_key == subject)))
            counted = quarantined_by_reason(session)
            block = int(w3.eth.block_number)
            when = int(w3.eth.get_block(block)["timestamp"])
            report = build_report(session, subject, as_of_block=block, as_of_time=when, policy=Policy.load())
            raw = session.execute(select(IndexQuarantine.topics, IndexQuarantine.data).limit(1)).one()
        assert reasons == [reason for _, reason, _ in CASES]
        assert stored == {good, later}
        assert counted == {reason: reasons.count(reason) for reason in set(reasons)}
        assert raw.topics and len(raw.topics) % 32 == 0  # kept raw, as the node returned it
        assert report.summary.loans_total == 2 and {loan.principal_fen for loan in report.loans} == {500_000, 300_000}
        exposition = generate_latest(metrics.registry).decode()
        invalid = sum(reason == "invalid_event" for _, reason, _ in CASES)
        assert f'creditshare_quarantined_logs{{reason="invalid_event"}} {float(invalid)}' in exposition
        assert f"creditshare_indexed_block {float(block)}" in exposition
        assert "creditshare_index_lag_blocks 0.0" in exposition

        with factory() as session:  # a re-read of the same blocks adds nothing, quarantine included
            before = session.scalar(select(func.count()).select_from(IndexQuarantine))
        Follower(w3, factory, rogue.deployment, max_range=3).sync()
        with factory() as session:
            assert session.scalar(select(func.count()).select_from(IndexQuarantine)) == before
    finally:
        engine.dispose()


def test_follower_metrics_load_quarantine_counts_after_restart(rogue: Rogue, tmp_path: Path) -> None:
    rogue.emit(*credit(rogue.lender(3), key(), word(9, TODAY_DAY, 1)))
    url = f"sqlite:///{tmp_path / 'index.db'}"
    engine = make_engine(url)
    try:
        Follower(rogue.consortium.w3, session_factory(engine), rogue.deployment).sync()
        metrics = Metrics()
        Follower(rogue.consortium.w3, session_factory(engine), rogue.deployment, metrics=metrics).sync()
        assert 'creditshare_quarantined_logs{reason="invalid_event"} 1.0' in generate_latest(metrics.registry).decode()
    finally:
        engine.dispose()


def test_quarantine_inquiry_word_of_honest_gateway_accepted(rogue: Rogue, tmp_path: Path) -> None:
    """The screening accepts exactly what an honest gateway writes (here: an inquiry and each event type)."""
    subject = key()
    rogue.emit([INQUIRY, subject, addr(rogue.lender(3)), key()], key() + pack_inquiry_data(1).to_bytes(32, "big"))
    loan = key()
    for kind, amount, overdue, dpd in (
        (ItemType.LOAN_OPENED, 900, 0, 0),
        (ItemType.REPAYMENT, 800, 0, 0),
        (ItemType.OVERDUE, 800, 100, 31),
        (ItemType.DEFAULT, 800, 800, 95),
        (ItemType.WRITTEN_OFF, 800, 900, 0),
        (ItemType.SETTLED, 0, 0, 0),
    ):
        data = pack_event_data(kind, TODAY, amount, overdue, dpd).to_bytes(32, "big")
        rogue.emit([CREDIT, subject, addr(rogue.lender(3)), key()], loan + data)
    engine = make_engine(f"sqlite:///{tmp_path / 'index.db'}")
    try:
        factory = session_factory(engine)
        Follower(rogue.consortium.w3, factory, rogue.deployment).sync()
        with factory() as session:
            assert quarantined_by_reason(session) == {}
            assert session.scalar(select(func.count()).select_from(IndexEvent)) == 6
    finally:
        engine.dispose()
