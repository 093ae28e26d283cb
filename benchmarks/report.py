"""Pre-loan credit report at 1M indexed events: latency in process and over HTTP, the naive eth_getLogs path,
and index ingest rates.

Run after `make setup`:

    .venv/bin/python benchmarks/report.py [--events 1000000] [--subjects 200000] [--chain-events 100000]

Starts its own Ganache (DevChain, free port), deploys the consortium (one governor, threshold 1) and admits four
lenders through governance, then measures in the same run:

1. Generated ingest: a synthetic chain of `--events` CreditEventRecorded logs over `--subjects` borrowers (loan
   life cycles: opened, repayments, overdue, default, settled, written off), plus inquiries, corrections and
   disputes of the four lenders, and the registry's MemberAdmitted logs, built as raw `eth_getLogs` dicts with
   the deployed ledger and registry addresses. They go through `index.decode_logs` and the Follower's insert
   path (`index.store_batch`, one transaction per block range: rows, IndexBlock rows, the idx_state cursor)
   into a SQLite file, exactly as `Follower.sync_once` writes them.
2. `report.build_report` in process on that index: p50/p99 over `--samples` random subjects, median of `--runs`.
3. `POST /v1/reports` over HTTP: the real gateway (`creditshare serve`, index follower off, submitter on with
   the default batch interval, so every report's inquiry goes to the chain) on the same database, an API key of
   scope query: `--http-requests` requests offered at `--http-rate` per second (open loop), then
   `--http-capacity-requests` sent back to back from `--http-clients` threads (its capacity); the gateway
   process's peak RSS (psutil) meanwhile. A few answers are checked equal to `build_report`.
4. Follower ingest from Ganache: `--sync-events` real events recorded with `recordBatch` (256-item batches from
   four lenders, signed locally, one sender thread per lender) plus corrections and disputes, then a fresh
   `Follower.sync()` into an empty database, timed.
5. The naive path: the chain grown to `--chain-events` events; for `--naive-samples` subjects, the same report
   built from `eth_getLogs` filtered by the subject-key topic over the whole chain (plus the corrections and
   disputes of those records, the registry's member logs and the needed block times), decoded with
   `decode_logs` and folded with `report.fold`; each is checked equal to `build_report` on a synced index.

Prints a table, PASS/FAIL for the targets and, as the last line, one JSON object with `report_p50_ms`,
`report_p99_ms`, `http_p99_ms`, `getlogs_p50_ms`, `ingest_events_per_s` and `rss_mb` (plus details). Exits 0 even
if a target is missed: it is a measurement.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from web3 import Web3

from bench_keys import start_holders, subject_key_of
from creditshare.chain import governance
from creditshare.chain.artifacts import LEDGER, REGISTRY, event_abis, load_artifact
from creditshare.chain.deploy import Deployment, deploy_consortium
from creditshare.chain.governance import Action, Role
from creditshare.chain.ledger import Item, LedgerClient, batch_gas
from creditshare.chain.rpc import connect, contract_at, make_web3, rpc
from creditshare.chain.transactor import Transactor
from creditshare.core.config import Settings
from creditshare.core.db import checkpoint, make_engine, session_factory, transaction
from creditshare.core.db.tables import IndexBlock, IndexEvent, IndexState, OutboxItem
from creditshare.core.exceptions import ChainError
from creditshare.core.pipeline import pipelined
from creditshare.devtools.devchain import DevChain, dev_accounts
from creditshare.devtools.localnet import GatewayEnv, GatewayProcess
from creditshare.devtools.samples import sample_resident_id
from creditshare.domain.codec import EPOCH, ItemType, event_word_problem, pack_event_data, pack_inquiry_data
from creditshare.domain.report import (
    CorrectionFact,
    CreditReport,
    DisputeFact,
    EventFact,
    InquiryFact,
    Policy,
    SubjectFacts,
    fold,
)
from creditshare.read.decode import IndexRows, decode_logs
from creditshare.read.follower import Follower, rows_per_write_for, write_runs
from creditshare.read.reports import build_report
from creditshare.read.store import store_batch

TARGET_P99_MS = 20.0
TARGET_INGEST_EPS = 5_000
TARGET_SPEEDUP = 50
TARGET_RSS_MB = 500
TARGET_CAPACITY_RATIO = 10  # issue 15: ten times the capacity of the unbatched gateway, measured in the same run
TARGET_HIGH_P99_MS = 50  # issue 15: p99 at 200 reports/s

#: The synthetic chain: 2-second blocks from 2020-01-01 00:00 China Standard Time; the report is as of the
#: last block of AS_OF (CST). Loans open from FIRST_DAY on.
CST = dt.timezone(dt.timedelta(hours=8))
GENESIS_TS = int(dt.datetime(2020, 1, 1, tzinfo=CST).timestamp())
BLOCK_SECONDS = 2
AS_OF = dt.date(2026, 11, 28)
FIRST_DAY = dt.date(2020, 6, 1)

LENDER_NAMES = ("Jinhe Microcredit", "Anxin Petty Loans", "Hengfeng Microfinance", "Ruyi Consumer Credit")
LENDER_WEIGHTS = (40, 30, 20, 10)
MAX_BATCH = 256
MAX_EVENTS_PER_SUBJECT = 36

T = {abi["name"]: "0x" + topic.hex() for name in (LEDGER, REGISTRY) for topic, abi in event_abis(name).items()}

Feed = tuple[int, bytes, bytes, int]  # subject index, loan key (or consent hash), record (or inquiry) hash, word


def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the results."""
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def day_number(day: dt.date) -> int:
    return (day - EPOCH).days


def block_at(ts: int) -> int:
    return (ts - GENESIS_TS) // BLOCK_SECONDS + 1


def block_time(number: int) -> int:
    return GENESIS_TS + (number - 1) * BLOCK_SECONDS


def feed_block(day: int) -> int:
    """First block of a day's nightly feed: 01:00 CST of that day."""
    return block_at(int(dt.datetime.combine(EPOCH + dt.timedelta(days=day), dt.time(1), tzinfo=CST).timestamp()))


# ---------------------------------------------------------------------------------------------------- data


@dataclass
class Dataset:
    """Synthetic borrowers and everything the lenders report about them, grouped by the day it is reported."""

    subject_keys: list[bytes]
    id_numbers: list[str]
    #: day → per lender, the items of that night's feed (credit events and inquiries), in order.
    feeds: dict[int, list[list[Feed]]]
    #: day → (lender, corrected event's new item, original record hash).
    corrections: dict[int, list[tuple[int, Feed, bytes]]]
    #: day → (lender, record hash, outcome: 0 opened, 1 confirmed, 2 corrected).
    disputes: dict[int, list[tuple[int, bytes, int]]]
    counts: dict[str, int] = field(default_factory=dict)

    def days(self) -> list[int]:
        return sorted(set(self.feeds) | set(self.corrections) | set(self.disputes))


def resident_ids(n: int, rng: random.Random, offset: int = 0) -> list[str]:
    """`n` distinct, valid 18-character resident ID numbers (the region digits are unique per index)."""
    return [sample_resident_id(rng, region=110000 + i) for i in range(offset, offset + n)]


def nonzero(rng: random.Random) -> bytes:
    while True:
        key = rng.randbytes(32)
        if any(key):
            return key


def loan_events(rng: random.Random, n: int, first: int, last: int) -> list[tuple[int, int, int, int, int]]:
    """`n` events (type, day, amount fen, overdue fen, days past due) of one plausible micro-loan, all on or
    before day `last`: active, settled, overdue then cured, or overdue into default (and maybe write-off)."""
    principal = rng.randrange(1_000, 200_000) * 100
    months = max(6, n + rng.randrange(0, 12))
    installment = principal // months
    span = 30 * (n - 1) + 2
    if n == 1:
        low = max(first, last - 400) if rng.random() < 0.6 else first
        return [(ItemType.LOAN_OPENED, rng.randint(low, last), principal, 0, 0)]
    r = rng.random()
    outcome = "active" if r < 0.45 else "settled" if r < 0.78 else "cured" if r < 0.86 and n >= 3 else "delinquent"
    if outcome == "active":  # still running: the last event is recent
        start = max(first, last - span - rng.randrange(0, 30))
    else:
        start = rng.randint(first, max(first, last - span))
    days = [min(last, start + 30 * k + (rng.randrange(-2, 3) if k else 0)) for k in range(n)]
    events = [(ItemType.LOAN_OPENED, days[0], principal, 0, 0)]

    def repaid(k: int) -> int:
        return max(installment, principal - k * installment)

    if outcome in ("active", "settled"):
        repayments = n - 1 if outcome == "active" else n - 2
        events += [(ItemType.REPAYMENT, days[k], repaid(k), 0, 0) for k in range(1, repayments + 1)]
        if outcome == "settled":
            events.append((ItemType.SETTLED, days[-1], 0, 0, 0))
    elif outcome == "cured":
        late = rng.randrange(1, n - 1)
        for k in range(1, n):
            if k == late:
                events.append((ItemType.OVERDUE, days[k], repaid(k - 1), installment, rng.randrange(5, 45)))
            else:
                events.append((ItemType.REPAYMENT, days[k], repaid(k), 0, 0))
    else:
        paid = rng.randrange(0, n - 1)
        events += [(ItemType.REPAYMENT, days[k], repaid(k), 0, 0) for k in range(1, paid + 1)]
        owed = repaid(paid)
        tail = n - 1 - paid
        for j in range(tail):
            dpd = 30 * (j + 1) + rng.randrange(0, 10)
            overdue = min(owed, installment * (j + 1))
            if j == tail - 1 and dpd >= 180 and rng.random() < 0.6:
                kind = ItemType.WRITTEN_OFF
            elif dpd >= 90:
                kind = ItemType.DEFAULT
            else:
                kind = ItemType.OVERDUE
            events.append((kind, days[paid + 1 + j], owed, overdue, dpd))
    return events


def event_budgets(rng: random.Random, subjects: int, total: int) -> list[int]:
    """Events per subject: 1 + a geometric-like tail (mean total/subjects), adjusted to sum exactly `total`."""
    mean = total / subjects
    sizes = [min(MAX_EVENTS_PER_SUBJECT, 1 + int(rng.expovariate(1 / max(0.1, mean - 0.5)))) for _ in range(subjects)]
    diff = total - sum(sizes)
    while diff:
        i = rng.randrange(subjects)
        if diff > 0 and sizes[i] < MAX_EVENTS_PER_SUBJECT:
            sizes[i] += 1
            diff -= 1
        elif diff < 0 and sizes[i] > 1:
            sizes[i] -= 1
            diff += 1
    return sizes


def generate(
    *,
    events: int,
    subjects: int,
    inquiries: int,
    corrections: int,
    disputes: int,
    lenders: int,
    key_of: Callable[[str], bytes],
    seed: int,
    id_offset: int = 0,
    id_numbers: Callable[[int, random.Random, int], list[str]] = resident_ids,
) -> Dataset:
    """Exactly `events` CreditEventRecorded items (`corrections` of them corrections' replacement events) over
    exactly `subjects` borrowers, plus `inquiries` inquiries and `disputes` disputes (about 60 % resolved)."""
    rng = random.Random(seed)
    first, last = day_number(FIRST_DAY), day_number(AS_OF)
    ids = id_numbers(subjects, rng, id_offset)
    keys = [key_of(i) for i in ids]
    feeds: dict[int, list[list[Feed]]] = defaultdict(lambda: [[] for _ in range(lenders)])
    lender_ids = list(range(lenders))
    weights = LENDER_WEIGHTS[:lenders]
    recorded: list[tuple[int, int, Feed]] = []  # (report day, lender, item) of every lifecycle event
    loans: list[tuple[int, int, int]] = []  # (lender, subject, open day)
    counts: dict[str, int] = defaultdict(int)
    for s, budget in enumerate(event_budgets(rng, subjects, events - corrections)):
        n_loans = 1 if budget <= 2 else min(budget, rng.choices((1, 2, 3, 4), (50, 30, 15, 5))[0])
        cuts = sorted(rng.sample(range(1, budget), n_loans - 1)) if n_loans > 1 else []
        for size in (b - a for a, b in zip([0, *cuts], [*cuts, budget], strict=True)):
            lender = rng.choices(lender_ids, weights)[0]
            loan_key = nonzero(rng)
            history = loan_events(rng, size, first, last - 1)
            loans.append((lender, s, history[0][1]))
            for kind, day, amount, overdue, dpd in history:
                word = pack_event_data(kind, EPOCH + dt.timedelta(days=day), amount, overdue, dpd)
                report_day = min(last, day + (1 if rng.random() < 0.85 else rng.randrange(2, 8)))
                item = (s, loan_key, nonzero(rng), word)
                feeds[report_day][lender].append(item)
                recorded.append((report_day, lender, item))
                counts[ItemType(kind).name.lower()] += 1

    for q in range(inquiries):
        if q % 10 < 7:  # a loan application reviewed before the loan opened
            lender, s, opened = rng.choice(loans)
            day, purpose = max(first, opened - rng.randrange(0, 4)), 1
        else:  # recent reviews, some of them for other purposes
            lender, s = rng.choices(lender_ids, weights)[0], rng.randrange(subjects)
            day = last - rng.randrange(0, 180)
            purpose = rng.choices((1, 2, 3, 4, 5), (70, 20, 5, 3, 2))[0]
        feeds[day][lender].append((s, nonzero(rng), nonzero(rng), pack_inquiry_data(purpose)))
        counts[f"inquiry_{purpose}"] += 1

    fixes: dict[int, list[tuple[int, Feed, bytes]]] = defaultdict(list)
    touched: set[bytes] = set()
    while len(touched) < corrections:
        report_day, lender, (s, loan_key, record_hash, word) = rng.choice(recorded)
        day = report_day + rng.randrange(1, 31)
        if day > last or record_hash in touched:
            continue
        amount = (word >> 152) & (2**64 - 1)
        amended = max(0, amount + rng.randrange(-amount // 10 - 1, amount // 10 + 2))
        new_word = (word & ~((2**64 - 1) << 152)) | (amended << 152)
        if event_word_problem(new_word, latest_day=day + 1):  # an amendment the ledger (and a gateway) would refuse
            continue
        touched.add(record_hash)
        fixes[day].append((lender, (s, loan_key, nonzero(rng), new_word), record_hash))
    counts["correction"] = corrections

    contested: dict[int, list[tuple[int, bytes, int]]] = defaultdict(list)
    while counts["dispute_opened"] < disputes:
        report_day, lender, (_, _, record_hash, _) = rng.choice(recorded)
        opened = report_day + rng.randrange(1, 90)
        if opened > last or record_hash in touched:
            continue
        touched.add(record_hash)
        contested[opened].append((lender, record_hash, 0))
        counts["dispute_opened"] += 1
        resolved = opened + rng.randrange(1, 40)
        if rng.random() < 0.6 and resolved <= last:
            contested[resolved].append((lender, record_hash, rng.choice((1, 2))))
            counts["dispute_resolved"] += 1
    return Dataset(keys, ids, dict(feeds), dict(fixes), dict(contested), dict(counts))


# ---------------------------------------------------------------------------------------------------- synthetic chain


def _h(*parts: object) -> str:
    return "0x" + hashlib.blake2b(repr(parts).encode(), digest_size=32).hexdigest()


def _padded(address: str) -> str:
    return "0x" + "00" * 12 + address.lower().removeprefix("0x")


def synthetic_chain(
    data: Dataset, deployment: Deployment, lenders: list[str], governor: str, first_block: int
) -> Iterator[tuple[int, int, list[dict[str, Any]]]]:
    """(block, timestamp, raw logs) of the synthetic chain, in block order, shaped like `eth_getLogs` output:
    the registry's MemberAdmitted logs, then every night's feed as 256-item `recordBatch` transactions
    (item logs, then BatchRecorded), then that night's corrections and dispute transactions."""
    ledger, registry = deployment.ledger.lower(), deployment.registry.lower()
    lender_topics = [_padded(a) for a in lenders]
    subject_hex = ["0x" + k.hex() for k in data.subject_keys]
    seq = [0] * len(lenders)

    def entry(address: str, block: int, tx: int, index: int, topics: list[str], payload: str) -> dict[str, Any]:
        return {
            "address": address,
            "blockHash": _h("block", block),
            "blockNumber": hex(block),
            "data": payload,
            "logIndex": hex(index),
            "removed": False,
            "topics": topics,
            "transactionHash": _h("tx", block, tx),
            "transactionIndex": hex(tx),
        }

    def batch_logs(block: int, tx: int, index: int, lender: int, items: list[Feed]) -> list[dict[str, Any]]:
        out = []
        digest_words = []
        for s, key, record_hash, word in items:
            inquiry = word >> 248 == ItemType.INQUIRY
            topics = [
                T["InquiryRecorded" if inquiry else "CreditEventRecorded"],
                subject_hex[s],
                lender_topics[lender],
                "0x" + record_hash.hex(),
            ]
            out.append(entry(ledger, block, tx, index + len(out), topics, f"0x{key.hex()}{word:064x}"))
            digest_words.append(bytes(32) if inquiry else record_hash)
        seq_topic = f"0x{seq[lender]:064x}"
        summary = f"0x{len(items):064x}{keccak(b''.join(digest_words)).hex()}"
        out.append(
            entry(ledger, block, tx, index + len(out), [T["BatchRecorded"], lender_topics[lender], seq_topic], summary)
        )
        seq[lender] += 1
        return out

    members = [(governor, Role.GOVERNOR, "Consortium Governor")] + [
        (a, Role.LENDER, n) for a, n in zip(lenders, LENDER_NAMES, strict=False)
    ]
    for i, (address, role, name) in enumerate(members):
        payload = "0x" + abi_encode(["uint8", "string"], [int(role), name]).hex()
        block = first_block + i
        yield block, block_time(block), [entry(registry, block, 0, 0, [T["MemberAdmitted"], _padded(address)], payload)]

    for day in data.days():
        base = feed_block(day)
        lanes = data.feeds.get(day, [])
        for k in range(max((math.ceil(len(lane) / MAX_BATCH) for lane in lanes), default=0)):
            block, logs = base + k, []
            for tx, lender in enumerate(i for i, lane in enumerate(lanes) if len(lane) > k * MAX_BATCH):
                logs += batch_logs(block, tx, len(logs), lender, lanes[lender][k * MAX_BATCH : (k + 1) * MAX_BATCH])
            yield block, block_time(block), logs
        fixes = data.corrections.get(day, [])
        assert len(fixes) < 300
        for j, (lender, item, original) in enumerate(fixes):
            block = base + 300 + j
            s, key, record_hash, word = item
            event = entry(
                ledger,
                block,
                0,
                0,
                [T["CreditEventRecorded"], subject_hex[s], lender_topics[lender], "0x" + record_hash.hex()],
                f"0x{key.hex()}{word:064x}",
            )
            corrected = entry(
                ledger,
                block,
                0,
                1,
                [T["CreditEventCorrected"], lender_topics[lender], "0x" + original.hex(), "0x" + record_hash.hex()],
                "0x",
            )
            seq_topic = f"0x{seq[lender]:064x}"
            summary = f"0x{1:064x}{keccak(record_hash).hex()}"
            done = entry(ledger, block, 0, 2, [T["BatchRecorded"], lender_topics[lender], seq_topic], summary)
            seq[lender] += 1
            yield block, block_time(block), [event, corrected, done]
        contested = data.disputes.get(day, [])
        assert len(contested) < 300
        for j, (lender, record_hash, outcome) in enumerate(contested):
            block = base + 600 + j
            name = "DisputeResolved" if outcome else "DisputeOpened"
            topics = [T[name], lender_topics[lender], "0x" + record_hash.hex(), lender_topics[lender]]
            payload = f"0x{outcome:064x}" if outcome else "0x"
            yield block, block_time(block), [entry(ledger, block, 0, 0, topics, payload)]


@dataclass
class IngestStats:
    rows: int = 0
    events: int = 0
    logs: int = 0
    ranges: int = 0
    generate_s: float = 0.0
    decode_s: float = 0.0
    insert_s: float = 0.0
    wall_s: float = 0.0
    segment_rates: list[int] = field(default_factory=list)


def checkpoint_loop(engine: Engine, stop: threading.Event) -> None:
    """What the gateway's checkpoint thread does: a passive WAL checkpoint every second."""
    while not stop.wait(1.0):
        checkpoint(engine)


def ingest(
    factory: Any,
    deployment: Deployment,
    blocks: Iterator[tuple[int, int, list[dict[str, Any]]]],
    *,
    first_block: int,
    as_of_block: int,
    range_size: int,
    progress_every: int,
) -> IngestStats:
    """Write the blocks' logs into the index as `Follower.sync_once` does: `range_size` blocks per page (one
    `eth_getLogs`), each page split into runs of whole blocks of at most the follower's rows per write
    (`write_runs`), each run decoded (`decode_logs`) while the previous one is stored (`store_batch`, one
    transaction: the rows of each table, the blocks' IndexBlock rows — blocks with logs and the run's end — and the
    idx_state cursor). Pages without logs are skipped (a follower only moves its cursor over them)."""
    stats = IngestStats()
    rows_per_write = rows_per_write_for(factory)
    with transaction(factory) as session:
        session.add(
            IndexState(
                id=1,
                chain_id=deployment.chain_id,
                ledger_address=deployment.ledger.lower(),
                registry_address=deployment.registry.lower(),
                last_block=first_block - 1,
                last_hash=None,
            )
        )
    pending: list[dict[str, Any]] = []
    times: dict[int, int] = {}
    current: int | None = None
    next_report = progress_every
    started = time.perf_counter()
    segment = [0, started]  # rows since the last progress line, and when it was

    def flush(index: int) -> None:
        nonlocal pending, times
        end = min(as_of_block, first_block + (index + 1) * range_size - 1)
        times[end] = block_time(end)
        # As the follower does: one run is decoded while the previous one is stored.
        for stored_rows in pipelined(write_runs(pending, end, rows_per_write), decode_run, store_run):
            counted(stored_rows)
        pending, times = [], {}

    def decode_run(run: tuple[int, list[dict[str, Any]]]) -> tuple[int, IndexRows, dict[int, tuple[bytes, int]]]:
        last, part = run
        t0 = time.perf_counter()
        numbers = {int(entry["blockNumber"], 16) for entry in part} | {last}
        blocks = {n: (bytes.fromhex(_h("block", n)[2:]), times[n]) for n in numbers}
        batch = decode_logs(part, deployment.ledger, deployment.registry, {n: times[n] for n in numbers})
        stats.decode_s += time.perf_counter() - t0
        stats.logs += len(part)
        return last, batch, blocks

    def store_run(run: tuple[int, IndexRows, dict[int, tuple[bytes, int]]]) -> IndexRows:
        last, batch, blocks = run
        t0 = time.perf_counter()
        with transaction(factory) as session:
            store_batch(session, batch, blocks, last)
        stats.insert_s += time.perf_counter() - t0
        return batch

    def counted(batch: IndexRows) -> None:
        nonlocal next_report
        stats.rows += batch.size
        segment[0] += batch.size
        stats.events += len(batch.table("events"))
        stats.ranges += 1
        if stats.events >= next_report:
            now = time.perf_counter()
            rate = segment[0] / (now - segment[1])
            log(f"  {stats.events:,} events indexed; last {segment[0]:,} rows at {rate:,.0f} rows/s (wall)")
            stats.segment_rates.append(round(rate))
            segment[:] = [0, now]
            next_report += progress_every

    for number, timestamp, logs in blocks:
        index = (number - first_block) // range_size
        if current is not None and index != current:
            flush(current)
        current = index
        pending.extend(logs)
        times[number] = timestamp
    if current is not None:
        flush(current)
    with transaction(factory) as session:  # the follower's cursor moves on to the as-of block
        session.merge(IndexBlock(number=as_of_block, hash=bytes.fromhex(_h("block", as_of_block)[2:]),
                                 timestamp=block_time(as_of_block)))  # fmt: skip
        state = session.get(IndexState, 1)
        assert state is not None
        state.last_block = as_of_block
        state.last_hash = bytes.fromhex(_h("block", as_of_block)[2:])
    stats.wall_s = time.perf_counter() - started
    stats.generate_s = max(0.0, stats.wall_s - stats.decode_s - stats.insert_s)  # decode and store overlap
    return stats


# ---------------------------------------------------------------------------------------------------- latency


def time_reports(factory: Any, keys: list[bytes], as_of_block: int, as_of_time: int, policy: Policy) -> list[float]:
    """Milliseconds per report: open a session, `build_report` (what a request does besides audit and outbox)."""
    out = []
    for key in keys:
        t0 = time.perf_counter()
        with factory() as session:
            build_report(session, key, as_of_block=as_of_block, as_of_time=as_of_time, policy=policy)
        out.append((time.perf_counter() - t0) * 1000)
    return out


class RssSampler:
    """Peak resident set size of a process (and its children), sampled every 50 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = self.proc.memory_info().rss + sum(c.memory_info().rss for c in self.proc.children(recursive=True))
            except psutil.Error:
                return
            self.samples.append(rss)
            self.peak = max(self.peak, rss)
            self._stop.wait(0.05)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def http_load(
    url: str, key: str, bodies: list[dict[str, Any]], rate: float, clients: int
) -> tuple[list[float], float, list[dict[str, Any]]]:
    """Offer the requests at `rate` per second (open loop: request i is due at start + i / rate) from `clients`
    threads; latency counts from the due time, so queueing counts. With `rate` 0 the threads send back to back
    (closed loop: the gateway's capacity). Returns latencies (ms), the wall time and a few response bodies."""
    latencies: list[float] = []
    errors: list[str] = []
    samples: list[dict[str, Any]] = []
    lock = threading.Lock()
    order = iter(range(len(bodies)))
    start = time.perf_counter() + 0.2

    def worker() -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
            while True:
                with lock:
                    i = next(order, None)
                if i is None:
                    return
                if rate > 0:
                    due = start + i / rate
                    time.sleep(max(0.0, due - time.perf_counter()))
                else:
                    due = time.perf_counter()
                response = client.post("/v1/reports", json=bodies[i])
                elapsed = (time.perf_counter() - due) * 1000
                with lock:
                    latencies.append(elapsed)
                    if response.status_code != 200:
                        errors.append(f"{response.status_code}: {response.text[:200]}")
                    elif len(samples) < 5:
                        samples.append({"request": i, **response.json()})

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{len(errors)} of {len(bodies)} report requests failed, first: {errors[0]}")
    return latencies, wall, samples


@dataclass
class HttpRun:
    """One gateway's figures: the open-loop run, its capacity (closed loop), the high-rate open loop."""

    open_loop: list[float]
    open_wall: float
    capacity: list[float]
    capacity_wall: float
    high: list[float]
    samples: list[dict[str, Any]]
    rss_peak_mb: float
    rss_after_mb: float
    confirmed: int


#: The gateway before group commit and shared key-share rounds: one round per report, one commit per request.
BASELINE_BATCHING = {"CREDITSHARE_KEYSHARE_QUERY_BATCH": "1", "CREDITSHARE_COMMIT_BATCH": "1"}
DEFAULT_BATCHING = {
    "CREDITSHARE_KEYSHARE_QUERY_BATCH": str(Settings().keyshare_query_batch),
    "CREDITSHARE_COMMIT_BATCH": str(Settings().commit_batch),
}


def http_runs(env: GatewayEnv, key: str, bodies: list[dict[str, Any]], args: argparse.Namespace) -> HttpRun:
    """Start the gateway on `env`, warm it up, then: `--http-requests` offered at `--http-rate`, the capacity
    (`--http-capacity-requests` back to back from `--http-clients`), and `--http-high-requests` offered at
    `--http-high-rate` (from enough clients that the clients are not the limit); wait for the inquiries."""
    gateway = GatewayProcess(env).start(timeout=90)
    assert gateway.pid is not None
    try:
        n_open, n_busy = args.http_requests, args.http_capacity_requests
        warm, rest = bodies[:50], bodies[50:]
        http_load(env.url, key, warm, rate=args.http_rate, clients=args.http_clients)
        with RssSampler(gateway.pid) as rss:
            log(f"POST /v1/reports: {n_open} requests offered at {args.http_rate:.0f}/s ...")
            latencies, open_wall, samples = http_load(
                env.url, key, rest[:n_open], rate=args.http_rate, clients=args.http_clients
            )
            log(f"  p50 {statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms")
            log(f"POST /v1/reports: {n_busy} requests back to back from {args.http_clients} clients ...")
            busy, busy_wall, _ = http_load(
                env.url, key, rest[n_open : n_open + n_busy], rate=0, clients=args.http_clients
            )
            log(
                f"  {len(busy) / busy_wall:.0f} req/s, p50 {statistics.median(busy):.1f} ms, "
                f"p99 {percentile(busy, 0.99):.1f} ms"
            )
            log(f"POST /v1/reports: {args.http_high_requests} requests offered at {args.http_high_rate:.0f}/s ...")
            high, _, _ = http_load(
                env.url, key, rest[n_open + n_busy :], rate=args.http_high_rate, clients=args.http_high_clients
            )
            log(f"  p50 {statistics.median(high):.1f} ms, p99 {percentile(high, 0.99):.1f} ms")
        rss_after_mb = psutil.Process(gateway.pid).memory_info().rss / 1e6
        engine = make_engine(env.database)
        factory = session_factory(engine)
        deadline = time.monotonic() + 120
        inquiries = select(func.count()).where(OutboxItem.kind == "inquiry")
        while True:
            with factory() as session:
                confirmed = session.scalar(inquiries.where(OutboxItem.status == "confirmed")) or 0
                pending = session.scalar(inquiries.where(OutboxItem.status != "confirmed")) or 0
            if args.no_submitter or pending == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        engine.dispose()
    finally:
        gateway.stop()
    log(f"  gateway peak RSS {rss.peak / 1e6:.0f} MB; {confirmed} inquiries confirmed on chain in all")
    return HttpRun(latencies, open_wall, busy, busy_wall, high, samples, rss.peak / 1e6, rss_after_mb, confirmed)


def check_answers(
    env: GatewayEnv,
    samples: list[dict[str, Any]],
    picks: list[int],
    data: Any,
    as_of_block: int,
    as_of_time: int,
    policy: Policy,
) -> None:
    """The HTTP answer is the in-process report plus the inquiry id."""
    engine = make_engine(env.database)
    try:
        with session_factory(engine)() as session:
            for body in samples:
                s = picks[50 + body.pop("request")]
                body.pop("inquiry_event_id")
                local = build_report(
                    session, data.subject_keys[s], as_of_block=as_of_block, as_of_time=as_of_time, policy=policy
                )
                assert local.model_dump(mode="json") == body, "HTTP report differs from build_report"
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------------------------------- real chain


@dataclass
class ChainLender:
    account: LocalAccount
    tx: Transactor
    client: LedgerClient
    seq: int
    #: record hash → (batch seq, index in batch); batch seq → the batch's record hashes (inquiries as zero).
    where: dict[bytes, tuple[int, int]] = field(default_factory=dict)
    batches: dict[int, list[bytes]] = field(default_factory=dict)


def chain_lenders(rpc_url: str, deployment: Deployment, accounts: list[LocalAccount]) -> list[ChainLender]:
    """A transactor and ledger client per lender, on a Web3 that never re-sends a request by itself (web3.py
    retries eth_sendRawTransaction after a timeout, which turns a slow answer into a nonce error)."""
    w3 = make_web3(rpc_url, timeout=120)
    w3.provider.exception_retry_configuration = None  # type: ignore[attr-defined]
    ledger = contract_at(w3, load_artifact(LEDGER), deployment.ledger)
    registry = contract_at(w3, load_artifact(REGISTRY), deployment.registry)
    out = []
    for account in accounts:
        # Nothing of this account may still be in flight (the gateway signs with one of them): the transactor
        # counts nonces from the node's pending count.
        deadline = time.monotonic() + 30
        while w3.eth.get_transaction_count(account.address, "pending") != w3.eth.get_transaction_count(
            account.address, "latest"
        ):
            if time.monotonic() > deadline:
                raise RuntimeError(f"transactions of {account.address} still pending after 30 s")
            time.sleep(0.1)
        client = LedgerClient(ledger, registry, account.address)
        out.append(ChainLender(account, Transactor(w3, account), client, client.next_sequence()))
    return out


def record_days(
    w3: Web3, deployment: Deployment, lenders: list[ChainLender], data: Dataset, days: list[int]
) -> dict[str, int]:
    """Record the days' items on the chain as a backfill: each lender's feed items, in day order, in full
    256-item `recordBatch` transactions; its corrections (`correctRecord`) and disputes (`openDispute` /
    `resolveDispute`) after the batches holding their records. One sender thread per lender, signing locally and
    sending without waiting for receipts; then every receipt is checked."""
    ledger = contract_at(w3, load_artifact(LEDGER), deployment.ledger)
    sent: list[list[str]] = [[] for _ in lenders]
    counts = {"batches": 0, "corrections": 0, "disputes": 0, "send_errors": 0, "slowest_send_ms": 0}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def send(i: int, data_: bytes, gas: int, kind: str) -> None:
        lender = lenders[i]
        signed = lender.tx.sign_data(deployment.ledger, data_, gas)
        t0 = time.perf_counter()
        try:
            lender.tx.send_raw(signed.raw)
        except ChainError as exc:  # e.g. a timed-out answer: fine if the node has the transaction anyway
            known = lender.tx.rpc("eth_getTransactionByHash", [signed.tx_hash]) is not None
            log(f"  send of {signed.tx_hash} (nonce {signed.nonce}) failed: {exc!r}; the node has it: {known}")
            if not known:
                raise
            with lock:
                counts["send_errors"] += 1
        sent[i].append(signed.tx_hash)
        with lock:
            counts[kind] += 1
            counts["slowest_send_ms"] = max(counts["slowest_send_ms"], round((time.perf_counter() - t0) * 1000))

    def run(i: int) -> None:
        lender = lenders[i]
        buffer: list[Feed] = []

        def flush() -> None:
            items = [Item(data.subject_keys[s], key, h, word.to_bytes(32, "big")) for s, key, h, word in buffer]
            hashes = []
            for j, (_, _, h, word) in enumerate(buffer):
                hashes.append(bytes(32) if word >> 248 == ItemType.INQUIRY else h)
                lender.where[h] = (lender.seq, j)
            lender.batches[lender.seq] = hashes
            payload = lender.client.record_batch_data(lender.seq, items)
            send(i, payload, batch_gas(payload, len(items)), "batches")
            lender.seq += 1
            buffer.clear()

        try:
            for day in days:
                for item in data.feeds[day][i] if day in data.feeds else []:
                    buffer.append(item)
                    if len(buffer) == MAX_BATCH:
                        flush()
                for who, (s, key, h, word), original in data.corrections.get(day, []):
                    if who != i:
                        continue
                    if original not in lender.where:
                        flush()  # the original is still in the buffer
                    original_seq, index = lender.where[original]
                    item = Item(data.subject_keys[s], key, h, word.to_bytes(32, "big"))
                    payload = lender.client.correct_record_data(
                        lender.seq, original_seq, index, lender.batches[original_seq], item
                    )
                    lender.where[h] = (lender.seq, 0)
                    lender.batches[lender.seq] = [h]
                    send(i, payload, 2_000_000, "corrections")
                    lender.seq += 1
                for who, h, outcome in data.disputes.get(day, []):
                    if who != i:
                        continue
                    if h not in lender.where:
                        flush()  # the disputed record is still in the buffer
                    address = lender.account.address
                    calldata = (
                        ledger.encode_abi("resolveDispute", args=[address, h, 1, (1).to_bytes(32, "big")])
                        if outcome
                        else ledger.encode_abi("openDispute", args=[address, h, h])
                    )
                    send(i, bytes(Web3.to_bytes(hexstr=calldata)), 200_000, "disputes")
            if buffer:
                flush()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(lenders))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    for i, hashes in enumerate(sent):
        for h in hashes:
            receipt = lenders[i].tx.wait_receipt(h, timeout=300)
            if receipt.status != 1:
                raise RuntimeError(f"transaction {h} reverted: {lenders[i].tx.revert_reason(h, receipt)}")
    return counts


def timed_sync(follower: Follower) -> tuple[int, float]:
    """Rows written and seconds taken by `Follower.sync()` to the head."""
    rows = 0

    def progress(step: Any) -> None:
        nonlocal rows
        rows += step.rows

    t0 = time.perf_counter()
    follower.sync(progress)
    return rows, time.perf_counter() - t0


def naive_report(w3: Web3, deployment: Deployment, key: bytes, policy: Policy) -> CreditReport:
    """The report without an index: `eth_getLogs` over the whole chain filtered by the subject-key topic, then
    the corrections and disputes of the subject's records (topic 2), the registry's member logs and the block
    times the fold needs, decoded with `decode_logs` and folded."""
    ledger, registry = deployment.ledger, deployment.registry
    head = int(rpc(w3, "eth_blockNumber", []), 16)
    window = {"fromBlock": "0x0", "toBlock": hex(head)}
    logs = rpc(
        w3,
        "eth_getLogs",
        [{**window, "address": ledger, "topics": [[T["CreditEventRecorded"], T["InquiryRecorded"]], "0x" + key.hex()]}],
    )
    hashes = [entry["topics"][3] for entry in logs if entry["topics"][0] == T["CreditEventRecorded"]]
    if hashes:
        related = [T["CreditEventCorrected"], T["DisputeOpened"], T["DisputeResolved"]]
        logs += rpc(w3, "eth_getLogs", [{**window, "address": ledger, "topics": [related, None, hashes]}])
    member_topics = [T["MemberAdmitted"], T["MemberRoleChanged"], T["MemberStatusChanged"]]
    logs += rpc(w3, "eth_getLogs", [{**window, "address": registry, "topics": [member_topics]}])
    # Every log's block time: the decoder checks each credit event's date against its block's day, and a log
    # whose block has no time is quarantined (which once left this path with no events and no member names).
    needed = {int(e["blockNumber"], 16) for e in logs} | {head}
    times = {n: int(rpc(w3, "eth_getBlockByNumber", [hex(n), False])["timestamp"], 16) for n in needed}
    batch = decode_logs(logs, ledger, registry, times)
    facts = SubjectFacts(
        tuple(
            EventFact(
                r["block_number"],
                r["log_index"],
                r["tx_hash"],
                r["lender"],
                r["record_hash"],
                r["loan_key"],
                r["item_type"],
                r["occurred_day"],
                r["amount_fen"],
                r["overdue_fen"],
                r["days_past_due"],
            )
            for r in batch.table("events")
        ),
        tuple(
            CorrectionFact(
                r["block_number"], r["log_index"], r["tx_hash"], r["lender"], r["original_hash"], r["record_hash"]
            )
            for r in batch.table("corrections")
        ),
        tuple(
            DisputeFact(
                r["block_number"],
                r["log_index"],
                r["tx_hash"],
                r["lender"],
                r["record_hash"],
                r["outcome"],
                r["block_time"],
            )
            for r in batch.table("disputes")
        ),
        tuple(
            InquiryFact(r["block_number"], r["log_index"], r["tx_hash"], r["lender"], r["purpose"], r["block_time"])
            for r in batch.table("inquiries")
        ),
    )
    names = {
        m["address"]: m["name"] for m in sorted(batch.table("members"), key=lambda m: m["block_number"]) if m["name"]
    }
    return fold(key, facts, as_of_block=head, as_of_time=times[head], lender_names=names, policy=policy)


# ---------------------------------------------------------------------------------------------------- main


def db_size_mb(path: Path) -> float:
    """Size of the database file itself (not its WAL)."""
    return path.stat().st_size / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1_000_000, help="credit events in the generated index")
    parser.add_argument("--subjects", type=int, default=200_000, help="borrowers in the generated index")
    parser.add_argument("--inquiries", type=int, default=5_000)
    parser.add_argument("--corrections", type=int, default=2_000)
    parser.add_argument("--disputes", type=int, default=1_500)
    parser.add_argument(
        "--range", type=int, default=Settings().node_profile.max_logs_range, help="blocks per ingest transaction"
    )
    parser.add_argument("--samples", type=int, default=2_000, help="subjects per in-process run")
    parser.add_argument("--runs", type=int, default=3, help="in-process runs (median reported)")
    parser.add_argument("--http-requests", type=int, default=600, help="requests of the open-loop run")
    parser.add_argument("--http-rate", type=float, default=50, help="offered POST /v1/reports per second")
    parser.add_argument("--http-clients", type=int, default=8, help="client threads (concurrent requests)")
    parser.add_argument("--http-capacity-requests", type=int, default=400, help="requests of the closed-loop run")
    parser.add_argument("--http-high-rate", type=float, default=200, help="offered rate of the high-rate run")
    parser.add_argument("--http-high-requests", type=int, default=1_000, help="requests of the high-rate run")
    parser.add_argument("--http-high-clients", type=int, default=64, help="client threads of the high-rate run")
    parser.add_argument("--no-submitter", action="store_true", help="gateway without its submitter thread")
    parser.add_argument("--sync-events", type=int, default=50_000, help="chain events for the Follower.sync() run")
    parser.add_argument("--chain-events", type=int, default=100_000, help="chain events for the eth_getLogs path")
    parser.add_argument("--chain-subjects", type=int, default=20_000)
    parser.add_argument("--naive-samples", type=int, default=40, help="subjects reported via eth_getLogs")
    parser.add_argument("--seed", type=int, default=20_261_129)
    args = parser.parse_args()
    started = time.perf_counter()
    policy = Policy.load()
    rng = random.Random(args.seed)

    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp_name, DevChain(accounts=10) as chain:
        tmp = Path(tmp_name)
        w3 = connect(chain.rpc_url)
        accounts = dev_accounts(10)
        governor = Transactor(w3, accounts[0])
        deployment = deploy_consortium(governor, [accounts[0].address], ["Consortium Governor"], threshold=1)
        registry = contract_at(w3, load_artifact(REGISTRY), deployment.registry)
        lender_accounts = accounts[1:5]
        for account, name in zip(lender_accounts, LENDER_NAMES, strict=True):
            governance.propose(registry, governor, Action.ADMIT, account.address, Role.LENDER, name=name)
        lenders = [a.address.lower() for a in lender_accounts]
        log(f"chain {chain.rpc_url}: ledger {deployment.ledger}, 4 lenders admitted")
        start_holders(tmp, w3, chain.rpc_url, deployment, governor, accounts[5:8])
        log("3 key-share holders (2-of-3) started")

        # 1. generated ingest --------------------------------------------------------------------------------
        t0 = time.perf_counter()
        log(f"generating {args.events:,} events over {args.subjects:,} subjects ...")
        data = generate(
            events=args.events,
            subjects=args.subjects,
            inquiries=args.inquiries,
            corrections=args.corrections,
            disputes=args.disputes,
            lenders=4,
            key_of=subject_key_of,
            seed=args.seed,
        )
        gen_seconds = time.perf_counter() - t0
        log(f"  {gen_seconds:.1f} s; mix {data.counts}")
        env = GatewayEnv(
            tmp / "gateway",
            lender_accounts[0],
            chain.rpc_url,
            deployment,
            extra={
                "CREDITSHARE_INDEX": "false",
                "CREDITSHARE_SUBMITTER": "false" if args.no_submitter else "true",
                "CREDITSHARE_BATCH_INTERVAL": str(Settings().batch_interval),  # the product default
                "CREDITSHARE_QUERY_RATE_PER_MINUTE": "1000000000",
                "CREDITSHARE_LENDER_QUERY_RATE_PER_MINUTE": "1000000000",
            },
        )
        db_path = env.home / "gateway.db"
        engine = make_engine(env.database)
        factory = session_factory(engine)
        first_block = 1
        as_of_block = block_at(int(dt.datetime.combine(AS_OF, dt.time(23, 59, 58), tzinfo=CST).timestamp()))
        log(f"ingesting through decode_logs + the follower's insert path ({args.range}-block ranges) ...")
        stop = threading.Event()
        checkpointer = threading.Thread(target=checkpoint_loop, args=(engine, stop), daemon=True)
        checkpointer.start()
        stats = ingest(
            factory,
            deployment,
            synthetic_chain(data, deployment, lenders, accounts[0].address, first_block),
            first_block=first_block,
            as_of_block=as_of_block,
            range_size=args.range,
            progress_every=max(1, args.events // 5),
        )
        stop.set()
        checkpointer.join()
        checkpoint(engine)
        t0 = time.perf_counter()
        os.sync()  # the latency runs start from a quiet disk, not under the ingest's writeback
        log(f"  flushed the ingest's dirty pages in {time.perf_counter() - t0:.1f} s")
        with factory() as session:
            stored = session.scalar(select(func.count()).select_from(IndexEvent))
            state = session.get(IndexState, 1)
            assert state is not None and state.last_block == as_of_block
        assert stored == args.events, (stored, args.events)
        database_mb = db_size_mb(db_path)
        mix = dict(sorted(data.counts.items()))
        gen_rate = stats.rows / (stats.decode_s + stats.insert_s)
        gen_rate_wall = stats.rows / stats.wall_s
        log(
            f"  {stats.rows:,} rows ({stats.logs:,} logs) in {stats.ranges:,} ranges: decode {stats.decode_s:.1f} s, "
            f"insert {stats.insert_s:.1f} s, log generation {stats.generate_s:.1f} s; "
            f"database {database_mb:.0f} MB"
        )

        # 2. in process ------------------------------------------------------------------------------------------
        as_of_time = block_time(as_of_block)
        runs = []
        time_reports(factory, rng.sample(data.subject_keys, 200), as_of_block, as_of_time, policy)  # warm-up
        for run in range(args.runs):
            sample = rng.sample(data.subject_keys, args.samples)
            ms = time_reports(factory, sample, as_of_block, as_of_time, policy)
            runs.append((statistics.median(ms), percentile(ms, 0.99), max(ms)))
            log(f"build_report run {run + 1}: p50 {runs[-1][0]:.2f} ms, p99 {runs[-1][1]:.2f} ms over {len(ms)}")
        report_p50 = statistics.median(r[0] for r in runs)
        report_p99 = statistics.median(r[1] for r in runs)
        with factory() as session:  # what the sampled reports look like
            shapes = [
                build_report(session, k, as_of_block=as_of_block, as_of_time=as_of_time, policy=policy)
                for k in data.subject_keys[:1000]
            ]
        loans_per_report = statistics.mean(len(r.loans) for r in shapes)
        grades = {g: sum(r.grade == g for r in shapes) for g in "ABCDE"}
        engine.dispose()

        # 3. HTTP --------------------------------------------------------------------------------------------------
        key = env.add_client("bench-query", "query")
        total_requests = 50 + args.http_requests + args.http_capacity_requests + args.http_high_requests
        picks = [rng.randrange(args.subjects) for _ in range(2 * total_requests)]
        bodies = [
            {
                "id_type": "resident_id",
                "id_number": data.id_numbers[s],
                "purpose": "loan_application",
                "consent_ref": f"BENCH-CONSENT-{n:06d}",
            }
            for n, s in enumerate(picks)
        ]
        runs_http: dict[str, HttpRun] = {}
        for name, batching in (("baseline", BASELINE_BATCHING), ("batched", {})):
            env.extra.update({**DEFAULT_BATCHING, **batching})
            offset = len(runs_http) * total_requests
            log(f"starting the gateway (follower off, {name}: {env.extra['CREDITSHARE_KEYSHARE_QUERY_BATCH']} "
                f"reports per key-share round, {env.extra['CREDITSHARE_COMMIT_BATCH']} per commit) ...")  # fmt: skip
            runs_http[name] = http_runs(env, key, bodies[offset : offset + total_requests], args)
            check_answers(env, runs_http[name].samples, picks[offset:], data, as_of_block, as_of_time, policy)
        base, http = runs_http["baseline"], runs_http["batched"]
        latencies, busy, high = http.open_loop, http.capacity, http.high
        http_wall, busy_wall = http.open_wall, http.capacity_wall
        rss_mb, rss_idle_mb, confirmed = http.rss_peak_mb, http.rss_after_mb, http.confirmed
        http_p50, http_p99 = statistics.median(latencies), percentile(latencies, 0.99)
        capacity, base_capacity = len(busy) / busy_wall, len(base.capacity) / base.capacity_wall
        log(f"  capacity {capacity:.0f} req/s vs {base_capacity:.0f} unbatched: ×{capacity / base_capacity:.1f}")

        # 4. Follower ingest from Ganache ---------------------------------------------------------------------------
        del data
        log(f"generating the chain's {args.chain_events:,} events over {args.chain_subjects:,} subjects ...")
        chain_data = generate(
            events=args.chain_events,
            subjects=args.chain_subjects,
            inquiries=args.chain_events // 100,
            corrections=max(1, args.chain_events // 2_000),
            disputes=max(1, args.chain_events // 2_000),
            lenders=4,
            key_of=subject_key_of,
            seed=args.seed + 1,
            id_offset=args.subjects,
        )
        days = chain_data.days()
        cumulative, cut = 0, len(days)
        for i, day in enumerate(days):
            cumulative += sum(
                1 for lane in chain_data.feeds.get(day, []) for it in lane if it[3] >> 248 != ItemType.INQUIRY
            ) + len(chain_data.corrections.get(day, []))
            if cumulative >= args.sync_events:
                cut = i + 1
                break
        clients = chain_lenders(chain.rpc_url, deployment, lender_accounts)
        t0 = time.perf_counter()
        log(f"recording {cumulative:,} events on Ganache (recordBatch, 256 per batch) ...")
        sent = record_days(w3, deployment, clients, chain_data, days[:cut])
        record_seconds = time.perf_counter() - t0
        log(f"  {sent} in {record_seconds:.0f} s ({cumulative / record_seconds:,.0f} events/s)")
        follower_engine = make_engine(f"sqlite:///{tmp / 'follower.db'}")
        follower_factory = session_factory(follower_engine)
        follower = Follower(
            make_web3(chain.rpc_url), follower_factory, deployment, max_range=Settings().node_profile.max_logs_range
        )  # as the gateway builds it
        stop = threading.Event()
        checkpointer = threading.Thread(target=checkpoint_loop, args=(follower_engine, stop), daemon=True)
        checkpointer.start()
        log("fresh Follower.sync() ...")
        sync_rows, sync_seconds = timed_sync(follower)
        with follower_factory() as session:
            sync_events = session.scalar(select(func.count()).select_from(IndexEvent))
        ingest_eps = sync_rows / sync_seconds
        log(f"  {sync_rows:,} rows ({sync_events:,} credit events) in {sync_seconds:.2f} s: {ingest_eps:,.0f} rows/s")

        # 5. the naive eth_getLogs path -----------------------------------------------------------------------------
        t0 = time.perf_counter()
        log("recording the rest of the chain's events ...")
        sent2 = record_days(w3, deployment, clients, chain_data, days[cut:])
        log(f"  {sent2} in {time.perf_counter() - t0:.0f} s")
        inc_rows, inc_seconds = timed_sync(follower)
        stop.set()
        checkpointer.join()
        checkpoint(follower_engine)  # the gateway's checkpoint thread would have run by now
        with follower_factory() as session:
            chain_events = session.scalar(select(func.count()).select_from(IndexEvent))
            chain_state = session.get(IndexState, 1)
            assert chain_state is not None
            head_block = chain_state.last_block
            head_row = session.get(IndexBlock, head_block)
            assert head_row is not None
            head_time = int(head_row.timestamp)
        head_logs = len(
            rpc(w3, "eth_getLogs", [{"fromBlock": "0x0", "toBlock": hex(head_block), "address": deployment.ledger}])
        )
        log(
            f"  incremental sync: {inc_rows:,} rows in {inc_seconds:.2f} s; chain holds {chain_events:,} credit "
            f"events, {head_logs:,} ledger logs in {head_block} blocks"
        )
        naive_w3 = make_web3(chain.rpc_url, timeout=120)
        naive_keys = rng.sample(chain_data.subject_keys, args.naive_samples)
        naive_ms = []
        log(f"eth_getLogs reports for {args.naive_samples} subjects ...")
        for key_ in naive_keys:
            t1 = time.perf_counter()
            slow = naive_report(naive_w3, deployment, key_, policy)
            naive_ms.append((time.perf_counter() - t1) * 1000)
            with follower_factory() as session:
                fast = build_report(session, key_, as_of_block=head_block, as_of_time=head_time, policy=policy)
            assert slow.as_of.block_number == head_block, "the chain moved during the naive run"
            if slow.model_dump() != fast.model_dump():
                a, b = slow.model_dump(mode="json"), fast.model_dump(mode="json")
                diff = {k: (a.get(k), b.get(k)) for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
                raise AssertionError(f"naive and indexed reports differ for 0x{key_.hex()}: {diff}")
        # The index on this same chain, timed as in step 2 (back to back, after a warm-up).
        chain_keys = chain_data.subject_keys
        time_reports(follower_factory, rng.sample(chain_keys, 200), head_block, head_time, policy)
        index_ms = time_reports(
            follower_factory, rng.sample(chain_keys, min(args.samples, len(chain_keys))), head_block, head_time, policy
        )
        follower_engine.dispose()
        getlogs_p50 = statistics.median(naive_ms)
        same_chain_p50 = statistics.median(index_ms)

    speedup = getlogs_p50 / report_p50
    result = {
        "report_p50_ms": round(report_p50, 2),
        "report_p99_ms": round(report_p99, 2),
        "report_runs": [[round(a, 2), round(b, 2), round(c, 2)] for a, b, c in runs],
        "report_samples_per_run": args.samples,
        "loans_per_report": round(loans_per_report, 2),
        "grades_of_1000": grades,
        "http_p50_ms": round(http_p50, 1),
        "http_p99_ms": round(http_p99, 1),
        "http_max_ms": round(max(latencies), 1),
        "http_requests": len(latencies),
        "http_offered_per_s": args.http_rate,
        "http_achieved_per_s": round(len(latencies) / http_wall, 1),
        "http_clients": args.http_clients,
        "http_capacity_per_s": round(len(busy) / busy_wall, 1),
        "http_capacity_p50_ms": round(statistics.median(busy), 1),
        "http_capacity_p99_ms": round(percentile(busy, 0.99), 1),
        "http_capacity_baseline_per_s": round(base_capacity, 1),
        "http_capacity_baseline_p99_ms": round(percentile(base.capacity, 0.99), 1),
        "http_capacity_ratio": round(capacity / base_capacity, 2),
        "http_high_rate_per_s": args.http_high_rate,
        "http_high_p50_ms": round(statistics.median(high), 1),
        "http_high_p99_ms": round(percentile(high, 0.99), 1),
        "http_high_baseline_p99_ms": round(percentile(base.high, 0.99), 1),
        "http_baseline_p99_ms": round(percentile(base.open_loop, 0.99), 1),
        "http_submitter": not args.no_submitter,
        "rss_mb": round(rss_mb, 1),
        "rss_after_mb": round(rss_idle_mb, 1),
        "inquiries_confirmed": confirmed,
        "getlogs_p50_ms": round(getlogs_p50, 1),
        "getlogs_p99_ms": round(percentile(naive_ms, 0.99), 1),
        "getlogs_samples": len(naive_ms),
        "speedup_p50": round(speedup, 1),
        "same_chain_report_p50_ms": round(same_chain_p50, 2),
        "same_chain_speedup_p50": round(getlogs_p50 / same_chain_p50, 1),
        "chain_credit_events": chain_events,
        "chain_ledger_logs": head_logs,
        "chain_blocks": head_block,
        "ingest_events_per_s": round(ingest_eps),
        "ingest_rows": sync_rows,
        "ingest_credit_events": sync_events,
        "ingest_seconds": round(sync_seconds, 2),
        "incremental_rows": inc_rows,
        "incremental_seconds": round(inc_seconds, 2),
        "chain_record_events_per_s": round(cumulative / record_seconds),
        "chain_record_transactions": [sent, sent2],
        "generated_rows": stats.rows,
        "generated_events": stats.events,
        "generated_ranges": stats.ranges,
        "generated_ingest_rows_per_s": round(gen_rate),
        "generated_ingest_rows_per_s_with_log_generation": round(gen_rate_wall),
        "generated_decode_s": round(stats.decode_s, 1),
        "generated_ingest_rows_per_s_by_fifth": stats.segment_rates,
        "generated_insert_s": round(stats.insert_s, 1),
        "generated_mix": mix,
        "database_mb": round(database_mb),
        "subjects": args.subjects,
        "total_seconds": round(time.perf_counter() - started),
    }
    print(
        f"Credit report — {dt.date.today()} — {stats.events:,} events / {args.subjects:,} subjects, SQLite, "
        f"Ganache 7.9.2, {os.cpu_count()} cores"
    )
    rows = [
        ("generated ingest (decode_logs + insert)", f"{gen_rate:,.0f} rows/s", f"{stats.rows:,} rows"),
        ("build_report in process, p50 / p99", f"{report_p50:.2f} / {report_p99:.2f} ms",
         f"{args.runs} runs × {args.samples}"),
        ("POST /v1/reports, p50 / p99", f"{http_p50:.1f} / {http_p99:.1f} ms",
         f"{len(latencies)} at {args.http_rate:.0f}/s"),
        ("  back to back, p50 / p99", f"{statistics.median(busy):.1f} / {percentile(busy, 0.99):.1f} ms",
         f"{capacity:.0f} req/s from {args.http_clients} clients"),
        ("  same, unbatched baseline (same run)", f"{statistics.median(base.capacity):.1f} / "
         f"{percentile(base.capacity, 0.99):.1f} ms", f"{base_capacity:.0f} req/s: ×{capacity / base_capacity:.1f}"),
        (f"  at {args.http_high_rate:.0f}/s, p50 / p99", f"{statistics.median(high):.1f} / "
         f"{percentile(high, 0.99):.1f} ms", f"baseline p99 {percentile(base.high, 0.99):.0f} ms"),
        ("gateway peak RSS", f"{rss_mb:.0f} MB", "during both HTTP runs"),
        ("Follower.sync() from Ganache", f"{ingest_eps:,.0f} rows/s", f"{sync_rows:,} rows"),
        ("eth_getLogs report, p50", f"{getlogs_p50:.0f} ms", f"{chain_events:,}-event chain"),
        ("  index report on that chain, p50", f"{same_chain_p50:.2f} ms", f"{getlogs_p50 / same_chain_p50:,.0f}×"),
    ]  # fmt: skip
    print(f"{'measure':<42}{'value':>22}  note")
    for label, value, note in rows:
        print(f"{label:<42}{value:>22}  {note}")
    checks = [
        (f"build_report p99 ≤ {TARGET_P99_MS:.0f} ms at {stats.events:,} events", report_p99 <= TARGET_P99_MS),
        (f"Follower.sync() ≥ {TARGET_INGEST_EPS:,} events/s from Ganache", ingest_eps >= TARGET_INGEST_EPS),
        (f"report p50 ≥ {TARGET_SPEEDUP}× faster than eth_getLogs (×{speedup:,.0f})", speedup >= TARGET_SPEEDUP),
        (f"gateway RSS ≤ {TARGET_RSS_MB} MB during the HTTP runs", rss_mb <= TARGET_RSS_MB),
        (
            f"report capacity ≥ {TARGET_CAPACITY_RATIO}× the unbatched gateway (×{capacity / base_capacity:.1f})",
            capacity / base_capacity >= TARGET_CAPACITY_RATIO,
        ),
        (
            f"p99 ≤ {TARGET_HIGH_P99_MS} ms at {args.http_high_rate:.0f} reports/s ({percentile(high, 0.99):.0f} ms)",
            percentile(high, 0.99) <= TARGET_HIGH_P99_MS,
        ),
    ]
    for label, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {label}")
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
