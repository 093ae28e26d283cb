"""Property: the report read from the index equals a report folded from the raw chain logs.

Random streams of credit events, inquiries, corrections (also of corrections) and disputes for two subjects
across three lenders are recorded on the session's Ganache chain. A fresh SQLite index then follows the chain,
and for every subject `build_report` (index) must equal `fold` over facts rebuilt here straight from
`eth_getLogs` — filtered by the subject key (topic 1) and, for corrections and disputes, by record hash, decoded
with web3's ABI decoder, not with `creditshare.index.decode_logs`.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from web3 import Web3

from creditshare.chain.artifacts import decode_logs
from creditshare.core.db.tables import IndexCorrection, IndexDispute, IndexEvent, IndexInquiry
from creditshare.domain import codec
from creditshare.domain.codec import MAX_DAYS_PAST_DUE, MAX_FEN, ItemType
from creditshare.domain.report import CorrectionFact, DisputeFact, EventFact, InquiryFact, SubjectFacts, fold
from creditshare.read.reports import block_time, load_facts
from tests.support import Consortium
from tests.support.report import (
    DAY,
    GOVERNOR,
    LENDER_A,
    LENDER_B,
    LENDER_C,
    POLICY,
    LedgerWriter,
    OnChain,
    event_item,
    inquiry_of,
    open_index,
    report_consortium,
)

SUBJECTS = 2
LOANS = 2  # loans per (lender, subject)
TOPIC = {
    name: Web3.keccak(text=signature)
    for name, signature in {
        "CreditEventRecorded": "CreditEventRecorded(bytes32,address,bytes32,bytes32,uint256)",
        "InquiryRecorded": "InquiryRecorded(bytes32,address,bytes32,bytes32,uint256)",
        "CreditEventCorrected": "CreditEventCorrected(address,bytes32,bytes32)",
        "DisputeOpened": "DisputeOpened(address,bytes32,address,bytes32,uint32,uint64)",
        "DisputeResolved": "DisputeResolved(address,bytes32,address,uint8,bytes32)",
        "MemberAdmitted": "MemberAdmitted(address,uint8,string)",
    }.items()
}


# ---------------------------------------------------------------------------------------------------- streams


@dataclass(frozen=True)
class EventSpec:
    subject: int
    loan: int
    item_type: ItemType
    days_ago: int
    amount_fen: int
    overdue_fen: int
    days_past_due: int


@dataclass(frozen=True)
class InquirySpec:
    subject: int
    purpose: int


@dataclass(frozen=True)
class BatchStep:
    lender: int
    items: list[EventSpec | InquirySpec]


@dataclass(frozen=True)
class CorrectStep:
    target: int  # index into the credit events recorded so far (modulo)
    loan: int
    item_type: ItemType
    days_ago: int
    amount_fen: int
    overdue_fen: int
    days_past_due: int


@dataclass(frozen=True)
class DisputeStep:
    target: int
    outcome: int  # used when the step resolves
    by_governor: bool


# Ages around the 5-year cut-off, the 24-month window and same-day ties, plus anything within 7 years.
days_ago = st.one_of(st.sampled_from([0, 1, 30, 31, 400, 5 * 365 + 1, 5 * 365 + 2, 6 * 365]), st.integers(0, 7 * 365))
credit_types = st.sampled_from([t for t in ItemType if t != ItemType.INQUIRY])
# Up to the largest amount a record may carry (the ledger refuses more; tests/read/test_quarantine.py feeds the
# index what it refuses).
amounts = st.one_of(st.just(0), st.integers(1, 10**9), st.just(MAX_FEN))
dpds = st.sampled_from([0, 0, 0, 10, 29, 30, 45, 95, 200, 400, MAX_DAYS_PAST_DUE])


def honest(item_type: ItemType, amount: int, overdue: int, dpd: int) -> tuple[int, int, int]:
    """The nearest fields an honest gateway would send for this type (`domain.records.check_rules`): the ledger
    refuses anything else, and the stream is about what the index does with what the chain accepts."""
    if item_type == ItemType.LOAN_OPENED:
        return max(amount, 1), 0, 0
    if item_type == ItemType.SETTLED:
        return 0, 0, 0
    if item_type == ItemType.OVERDUE:
        amount = max(amount, 1)
        return amount, max(1, min(overdue, amount)), max(dpd, 1)
    if item_type == ItemType.WRITTEN_OFF:
        return amount, overdue, dpd
    return amount, min(overdue, amount), dpd


event_specs = st.builds(
    EventSpec, st.integers(0, SUBJECTS - 1), st.integers(0, LOANS - 1), credit_types, days_ago, amounts, amounts, dpds
)
inquiry_specs = st.builds(InquirySpec, st.integers(0, SUBJECTS - 1), st.integers(1, 6))
batch_steps = st.builds(
    BatchStep, st.integers(0, 2), st.lists(st.one_of(event_specs, event_specs, inquiry_specs), min_size=1, max_size=6)
)
correct_steps = st.builds(
    CorrectStep, st.integers(0, 1_000), st.integers(0, LOANS - 1), credit_types, days_ago, amounts, amounts, dpds
)
dispute_steps = st.builds(DisputeStep, st.integers(0, 1_000), st.sampled_from([1, 2]), st.booleans())
streams = st.tuples(
    batch_steps,  # something to correct or dispute
    st.lists(st.one_of(batch_steps, correct_steps, dispute_steps, dispute_steps), min_size=2, max_size=6),
).map(lambda first_rest: [first_rest[0], *first_rest[1]])


@pytest.fixture(scope="module")
def writer(w3: Web3, accounts: list[LocalAccount]) -> LedgerWriter:
    """One consortium for the module; every example uses subject keys of its own."""
    return LedgerWriter(report_consortium(w3, accounts))


def play(writer: LedgerWriter, accounts: list[LocalAccount], subjects: list[bytes], stream: list[Any]) -> list[int]:
    """Record `stream` on chain; returns how many credit events were recorded per subject."""
    lenders = [accounts[LENDER_A], accounts[LENDER_B], accounts[LENDER_C]]
    today = dt.date.today()
    mine: list[OnChain] = []
    recorded = [0] * len(subjects)

    def loan_key(account: LocalAccount, subject: int, loan: int) -> bytes:
        return Web3.keccak(text=f"{account.address}:{subjects[subject].hex()}:{loan}")

    for step in stream:
        if not isinstance(step, BatchStep) and not mine:
            continue  # nothing to correct or dispute yet (the batches so far held only inquiries)
        if isinstance(step, BatchStep):
            account = lenders[step.lender]
            items = []
            for spec in step.items:
                if isinstance(spec, InquirySpec):
                    items.append(inquiry_of(subjects[spec.subject], spec.purpose))
                else:
                    recorded[spec.subject] += 1
                    items.append(
                        event_item(
                            subjects[spec.subject],
                            loan_key(account, spec.subject, spec.loan),
                            spec.item_type,
                            today - dt.timedelta(days=spec.days_ago),
                            *honest(spec.item_type, spec.amount_fen, spec.overdue_fen, spec.days_past_due),
                        )
                    )
            mine += writer.batch(account, items)
        elif isinstance(step, CorrectStep):
            original = mine[step.target % len(mine)]
            subject = subjects.index(original.subject_key)
            recorded[subject] += 1
            item = event_item(
                original.subject_key,
                loan_key(original.lender, subject, step.loan),
                step.item_type,
                today - dt.timedelta(days=step.days_ago),
                *honest(step.item_type, step.amount_fen, step.overdue_fen, step.days_past_due),
            )
            mine.append(writer.correct(original, item))
        else:
            target = mine[step.target % len(mine)]
            writer.toggle_dispute(target, step.outcome, accounts[GOVERNOR] if step.by_governor else None)
    return recorded


# ---------------------------------------------------------------------------------------------------- naive facts


def get_logs(w3: Web3, address: str, to_block: int, from_block: int, topics: list[Any]) -> list[Any]:
    return list(w3.eth.get_logs({"address": address, "fromBlock": from_block, "toBlock": to_block, "topics": topics}))


def naive_facts(c: Consortium, subject: bytes, as_of_block: int, times: dict[int, int]) -> SubjectFacts:
    """The subject's facts rebuilt from eth_getLogs and web3's decoder."""
    w3, ledger, start = c.w3, c.ledger.address, c.deployment.block

    def when(block: int) -> int:
        if block not in times:
            times[block] = int(w3.eth.get_block(block)["timestamp"])
        return times[block]

    events: list[EventFact] = []
    inquiries: list[InquiryFact] = []
    for e in decode_logs(get_logs(w3, ledger, as_of_block, start, [None, Web3.to_hex(subject)])):
        tx_hash = bytes.fromhex(e.transaction_hash[2:])
        lender = e.args["lender"].lower()
        if e.name == "CreditEventRecorded":
            data = codec.unpack_event_data(e.args["data"])
            events.append(
                EventFact(
                    e.block_number,
                    e.log_index,
                    tx_hash,
                    lender,
                    e.args["recordHash"],
                    e.args["loanKey"],
                    int(data.item_type),
                    codec.day_number(data.occurred_on),
                    data.amount_fen,
                    data.overdue_fen,
                    data.days_past_due,
                )
            )
        elif e.name == "InquiryRecorded":
            purpose = codec.unpack_inquiry_purpose(e.args["data"])
            inquiries.append(InquiryFact(e.block_number, e.log_index, tx_hash, lender, purpose, when(e.block_number)))
        else:
            raise AssertionError(f"unexpected {e.name} with the subject key as topic 1")

    corrections: list[CorrectionFact] = []
    disputes: list[DisputeFact] = []
    hashes = sorted({Web3.to_hex(e.record_hash) for e in events})
    if hashes:
        for e in decode_logs(get_logs(w3, ledger, as_of_block, start, [TOPIC["CreditEventCorrected"], None, hashes])):
            corrections.append(
                CorrectionFact(
                    e.block_number,
                    e.log_index,
                    bytes.fromhex(e.transaction_hash[2:]),
                    e.args["lender"].lower(),
                    e.args["originalRecordHash"],
                    e.args["recordHash"],
                )
            )
        dispute_topics = [[TOPIC["DisputeOpened"], TOPIC["DisputeResolved"]], None, hashes]
        for e in decode_logs(get_logs(w3, ledger, as_of_block, start, dispute_topics)):
            disputes.append(
                DisputeFact(
                    e.block_number,
                    e.log_index,
                    bytes.fromhex(e.transaction_hash[2:]),
                    e.args["lender"].lower(),
                    e.args["recordHash"],
                    int(e.args["outcome"]) if e.name == "DisputeResolved" else 0,
                    when(e.block_number),
                )
            )
    return SubjectFacts(tuple(events), tuple(corrections), tuple(disputes), tuple(inquiries))


def naive_names(c: Consortium, as_of_block: int) -> dict[str, str]:
    admitted = get_logs(c.w3, c.registry.address, as_of_block, c.deployment.block, [TOPIC["MemberAdmitted"]])
    return {e.args["account"].lower(): e.args["name"] for e in decode_logs(admitted) if e.args["name"]}


def ledger_log_count(c: Consortium, name: str, as_of_block: int) -> int:
    return len(get_logs(c.w3, c.ledger.address, as_of_block, c.deployment.block, [TOPIC[name]]))


# ---------------------------------------------------------------------------------------------------- property


@settings(
    max_examples=15,
    deadline=None,
    database=None,  # a fresh chain every session: stored examples would replay against other state
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@pytest.mark.slow
@given(stream=streams)
def test_index_report_equals_fold_of_raw_logs_for_random_streams(writer: LedgerWriter, stream: list[Any]) -> None:
    c = writer.c
    subjects = [uuid.uuid4().bytes * 2 for _ in range(SUBJECTS)]
    recorded = play(writer, c.accounts, subjects, stream)

    with tempfile.TemporaryDirectory() as tmp:
        index = open_index(c.w3, c, f"sqlite:///{Path(tmp) / 'index.db'}", max_range=7)
        try:
            as_of_block = index.sync()
            assert as_of_block == c.w3.eth.block_number
            times: dict[int, int] = {}
            as_of_time = int(c.w3.eth.get_block(as_of_block)["timestamp"])
            names = naive_names(c, as_of_block)
            assert sorted(names.values()) == ["Governor 1", "Report Lender A", "Report Lender B", "Report Lender C"]

            # Nothing lost or duplicated: whole-ledger counts against eth_getLogs.
            with index.factory() as session:
                assert block_time(session, as_of_block) == as_of_time  # the index's "now" is the chain's
                for model, log_names in (
                    (IndexEvent, ["CreditEventRecorded"]),
                    (IndexInquiry, ["InquiryRecorded"]),
                    (IndexCorrection, ["CreditEventCorrected"]),
                    (IndexDispute, ["DisputeOpened", "DisputeResolved"]),
                ):
                    rows = session.scalar(select(func.count()).select_from(model))
                    assert rows == sum(ledger_log_count(c, n, as_of_block) for n in log_names), model.__name__

                for subject, expected_events in zip(subjects, recorded, strict=True):
                    raw = naive_facts(c, subject, as_of_block, times)
                    indexed = load_facts(session, subject, as_of_block)
                    assert len(raw.events) == expected_events
                    for part in ("events", "corrections", "disputes", "inquiries"):
                        mine, theirs = getattr(raw, part), getattr(indexed, part)
                        assert len(theirs) == len({(f.block, f.log_index) for f in theirs}), f"duplicate {part}"
                        assert sorted(theirs, key=repr) == sorted(mine, key=repr), part

            # Reports: now, and 25 days later (so open disputes pass the 20-day verification limit).
            for at in (as_of_time, as_of_time + 25 * DAY):
                from_index = index.reports(subjects, as_of_block, at)
                for subject, got in zip(subjects, from_index, strict=True):
                    want = fold(
                        subject,
                        naive_facts(c, subject, as_of_block, times),
                        as_of_block=as_of_block,
                        as_of_time=at,
                        lender_names=names,
                        policy=POLICY,
                    ).model_dump()
                    assert got == want
        finally:
            index.engine.dispose()
