"""The index at scale on PostgreSQL: ingest rate, report latency and disk per event at N events for N/5 borrowers.

Run after `make setup`, with a PostgreSQL server (default: 127.0.0.1:5432, trust auth, as in the suite):

    .venv/bin/python benchmarks/scale.py [--events 10000000] [--subjects N/5] [--admin-url postgresql://...]

For each of two sizes — N/10 events first (the same-run baseline), then N — it creates a fresh database, loads a
synthetic chain (the generator of benchmarks/report.py: loan life cycles of four lenders, inquiries, corrections,
disputes; subject keys are hashes here, as no ID is ever needed to index) through the follower's real ingest path:
pages of `--range` blocks (one `eth_getLogs` each; replayed from a file written before the timing, or with
`--logs-from process` generated in a child process, as logs come from a node), split into the follower's write
runs, each decoded (`decode_logs`) while the previous one is stored (`store_batch`: COPY on PostgreSQL, the cursor
moved in the same transaction). It then runs ANALYZE and times
`build_report` for `--samples` random borrowers (median of `--runs`). It also measures, on 200,000 raw event rows,
batched inserts against COPY, so the choice of ingest path rests on a figure.

Prints a table and, as the last line, one JSON object: `events`, `subjects`, `ingest_events_per_s`,
`report_p50_ms`, `report_p99_ms`, `db_bytes_per_event` (each with its N/10 baseline and the ratio), the
insert-vs-COPY rates, and the disk a 100M-event index would take at the measured bytes per event. Exits 0 even if
a target is missed: it is a measurement.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import itertools
import json
import multiprocessing
import pickle
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from sqlalchemy import func, select, text

from creditshare.chain.deploy import Deployment
from creditshare.core.db import make_engine, session_factory
from creditshare.core.db.tables import IndexEvent
from creditshare.domain.report import Policy
from report import (
    AS_OF,
    CST,
    block_at,
    block_time,
    generate,
    ingest,
    log,
    percentile,
    synthetic_chain,
    time_reports,
)

TARGET_REPORT_P99_MS = 20
TARGET_INGEST_EPS = 20_000
#: Four lenders and a governor with made-up addresses: nothing here touches a chain.
LENDERS = ["0x" + f"{0xA0 + i:02x}" * 20 for i in range(4)]
GOVERNOR = "0x" + "90" * 20
DEPLOYMENT = Deployment(chain_id=20261, registry="0x" + "11" * 20, ledger="0x" + "22" * 20, block=1,
                        solc_version="0.8.28")  # fmt: skip


T = TypeVar("T")


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """The items in lists of `size` (the last one may be shorter); none for no items."""
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def from_child_process(make: Callable[[], Iterator[T]], chunk: int = 2_000) -> Iterator[T]:
    """The items of `make()`, produced in a forked child process. A gateway's logs come from another process (its
    node), so generating the synthetic chain must not take the indexing process's time; the indexer still pays
    what receiving them costs (unpickling here, parsing a JSON answer there)."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue(maxsize=16)

    def produce() -> None:
        for batch in chunks(make(), chunk):
            queue.put(batch)
        queue.put(None)

    child = context.Process(target=produce, daemon=True)
    child.start()
    try:
        while (batch := queue.get()) is not None:
            yield from batch
    finally:
        if child.is_alive():
            child.kill()
        child.join()


def spool(items: Iterator[T], path: Path, chunk: int = 2_000) -> int:
    """Write the items to `path` as pickled chunks; returns how many there were."""
    count = 0
    with path.open("wb") as out:
        for batch in chunks(items, chunk):
            pickle.dump(batch, out, protocol=pickle.HIGHEST_PROTOCOL)
            count += len(batch)
    return count


def replay(path: Path) -> Iterator[Any]:
    """The items `spool` wrote, read back chunk by chunk (what receiving them costs: reading and unpickling)."""
    with path.open("rb") as source:
        while True:
            try:
                batch = pickle.load(source)
            except EOFError:
                return
            yield from batch


def cheap_ids(n: int, rng: random.Random, offset: int = 0) -> list[str]:
    """Distinct borrower ids: indexing never sees one, only its subject key."""
    return [f"S{offset + i:012d}" for i in range(n)]


def hashed_key(id_number: str) -> bytes:
    return hashlib.sha256(id_number.encode()).digest()


@dataclass
class Measured:
    """One size's figures."""

    events: int
    subjects: int
    ingest_events_per_s: float
    ingest_rows_per_s: float
    report_p50_ms: float
    report_p99_ms: float
    db_bytes: int
    events_table_bytes: int
    wal_bytes: int

    @property
    def db_bytes_per_event(self) -> float:
        return self.db_bytes / self.events


def wal_position(engine: Any) -> str:
    """The server's current WAL position: the WAL an ingest writes is the difference (the server's other
    databases are idle while this runs)."""
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT pg_current_wal_lsn()")).scalar_one())


#: The server settings that decide how much an ingest writes and how often it is flushed.
SETTINGS = ("shared_buffers", "max_wal_size", "checkpoint_timeout", "wal_compression", "full_page_writes")


def server_settings(admin_url: str) -> dict[str, str]:
    with psycopg.connect(admin_url) as conn:
        return {name: str(conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()[0])  # type: ignore[index]
                for name in SETTINGS}  # fmt: skip


def fresh_database(admin_url: str) -> str:
    """Create a uniquely named database; returns its name."""
    name = f"creditshare_scale_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def measure(events: int, subjects: int, args: argparse.Namespace, policy: Policy) -> Measured:
    """Generate, ingest into a fresh database, ANALYZE, time reports; the database is dropped afterwards."""
    log(f"{events:,} events for {subjects:,} borrowers: generating ...")
    t0 = time.perf_counter()
    data = generate(
        events=events,
        subjects=subjects,
        inquiries=events // 200,
        corrections=events // 500,
        disputes=events // 700,
        lenders=len(LENDERS),
        key_of=hashed_key,
        seed=args.seed,
        id_numbers=cheap_ids,
    )
    log(f"  {time.perf_counter() - t0:.1f} s; mix {dict(sorted(data.counts.items()))}")
    subject_keys = data.subject_keys
    spooled = Path(tempfile.mkdtemp(prefix="creditshare-scale-")) / "logs.pickle"
    if args.logs_from == "file":
        t0 = time.perf_counter()
        blocks = spool(synthetic_chain(data, DEPLOYMENT, LENDERS, GOVERNOR, 1), spooled)
        log(f"  {blocks:,} blocks of logs written to {spooled} ({spooled.stat().st_size / 2**20:,.0f} MB) in "
            f"{time.perf_counter() - t0:.0f} s")  # fmt: skip
        del data
        source: Iterator[Any] = replay(spooled)
    else:
        source = from_child_process(lambda: synthetic_chain(data, DEPLOYMENT, LENDERS, GOVERNOR, 1))
    # Whatever generated data is left lives until the end: keep the cyclic collector from re-scanning it on every
    # full collection, which would charge the indexing with the generator's memory.
    gc.collect()
    gc.freeze()
    name = fresh_database(args.admin_url)
    url = args.admin_url.rsplit("/", 1)[0] + "/" + name
    try:
        from creditshare.core.db import schema

        engine = make_engine(url, check_schema=False)
        schema.upgrade(engine)
        factory = session_factory(engine)
        as_of_block = block_at(int(dt.datetime.combine(AS_OF, dt.time(23, 59, 58), tzinfo=CST).timestamp()))
        log(f"  ingesting through decode_logs + store_batch ({args.range}-block ranges) ...")
        wal_before = wal_position(engine)
        stats = ingest(
            factory,
            DEPLOYMENT,
            source,
            first_block=1,
            as_of_block=as_of_block,
            range_size=args.range,
            progress_every=max(1, events // 5),
        )
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
            db_bytes = int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
            events_bytes = int(conn.execute(text("SELECT pg_total_relation_size('idx_events')")).scalar_one())
            wal_bytes = int(
                conn.execute(
                    text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), :lsn)"), {"lsn": wal_before}
                ).scalar_one()
            )
        with factory() as session:
            stored = session.scalar(select(func.count()).select_from(IndexEvent))
        assert stored == events, (stored, events)
        rng = random.Random(args.seed + 1)
        as_of_time = block_time(as_of_block)
        time_reports(factory, rng.sample(subject_keys, 200), as_of_block, as_of_time, policy)  # warm-up
        runs = []
        for run in range(args.runs):
            ms = time_reports(factory, rng.sample(subject_keys, args.samples), as_of_block, as_of_time, policy)
            runs.append((statistics.median(ms), percentile(ms, 0.99)))
            log(f"  build_report run {run + 1}: p50 {runs[-1][0]:.2f} ms, p99 {runs[-1][1]:.2f} ms over {len(ms)}")
        measured = Measured(
            events=events,
            subjects=subjects,
            ingest_events_per_s=stats.events / stats.wall_s,
            ingest_rows_per_s=stats.rows / stats.wall_s,
            report_p50_ms=statistics.median(r[0] for r in runs),
            report_p99_ms=statistics.median(r[1] for r in runs),
            db_bytes=db_bytes,
            events_table_bytes=events_bytes,
            wal_bytes=wal_bytes,
        )
        log(
            f"  ingest {measured.ingest_events_per_s:,.0f} events/s ({stats.rows:,} rows in {stats.wall_s:.0f} s; "
            f"busy decoding {stats.decode_s:.0f} s and storing {stats.insert_s:.0f} s, side by side); "
            f"database {db_bytes / 2**20:,.0f} MB, {measured.db_bytes_per_event:,.0f} bytes/event; "
            f"WAL {wal_bytes / 2**20:,.0f} MB, {wal_bytes / events:,.0f} bytes/event"
        )
        engine.dispose()
        return measured
    finally:
        gc.unfreeze()
        spooled.unlink(missing_ok=True)
        spooled.parent.rmdir()
        if not args.keep:
            drop_database(args.admin_url, name)


def insert_vs_copy(args: argparse.Namespace, rows: int = 200_000) -> tuple[float, float]:
    """Rows/s into idx_events, 20,000 rows per transaction: batched INSERT … ON CONFLICT DO NOTHING (how the
    index writes a re-read range, and all of it before COPY) against COPY (how it writes a range above its
    cursor, i.e. every range the follower writes)."""
    rng = random.Random(args.seed)
    data = [
        (n // 40, n % 40, rng.randbytes(32), "0x" + "a0" * 20, rng.randbytes(32), rng.randbytes(32),
         rng.randbytes(32), 1, 20_000 + n % 2000, 100_000, 0, 0)
        for n in range(rows)
    ]  # fmt: skip
    columns = ("block_number", "log_index", "tx_hash", "lender", "subject_key", "record_hash", "loan_key",
               "item_type", "occurred_day", "amount_fen", "overdue_fen", "days_past_due")  # fmt: skip
    cols = ", ".join(columns)
    rates = []
    for how in ("insert", "copy"):
        name = fresh_database(args.admin_url)
        url = args.admin_url.rsplit("/", 1)[0] + "/" + name
        try:
            from creditshare.core.db import schema

            engine = make_engine(url, check_schema=False)
            schema.upgrade(engine)
            engine.dispose()
            with psycopg.connect(url) as conn:
                t0 = time.perf_counter()
                for start in range(0, rows, 20_000):
                    chunk = data[start : start + 20_000]
                    with conn.cursor() as cur:
                        if how == "insert":
                            marks = ", ".join(["%s"] * len(columns))
                            cur.executemany(
                                f"INSERT INTO idx_events ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING", chunk
                            )
                        else:  # as store_batch writes a range above the index's cursor
                            with cur.copy(f"COPY idx_events ({cols}) FROM STDIN") as copy:
                                for row in chunk:
                                    copy.write_row(row)
                    conn.commit()
                rates.append(rows / (time.perf_counter() - t0))
                log(f"  {how}: {rates[-1]:,.0f} rows/s")
        finally:
            drop_database(args.admin_url, name)
    return rates[0], rates[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--subjects", type=int, default=None, help="borrowers (default: events / 5)")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--range", type=int, default=1_000, help="blocks per ingest transaction")
    parser.add_argument("--samples", type=int, default=2_000, help="borrowers per report run")
    parser.add_argument("--runs", type=int, default=3, help="report runs (median reported)")
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument(
        "--logs-from",
        choices=("file", "process"),
        default="file",
        help="replay the synthetic chain from a file written before the timing (default), or generate it in a "
        "child process while indexing (it then shares the cores, as a node on the same machine would)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases (names are logged)")
    args = parser.parse_args()
    subjects = args.subjects or args.events // 5
    policy = Policy.load()

    log("insert vs COPY into idx_events (200,000 rows, 20,000 per transaction) ...")
    insert_rate, copy_rate = insert_vs_copy(args)
    baseline = measure(args.events // 10, subjects // 10, args, policy)
    full = measure(args.events, subjects, args, policy)

    def ratio(a: float, b: float) -> float:
        return round(a / b, 2) if b else 0.0

    rows = [
        ("ingest events/s", full.ingest_events_per_s, baseline.ingest_events_per_s, f">= {TARGET_INGEST_EPS:,}"),
        ("report p50 ms", full.report_p50_ms, baseline.report_p50_ms, ""),
        ("report p99 ms", full.report_p99_ms, baseline.report_p99_ms, f"<= {TARGET_REPORT_P99_MS}"),
        ("db bytes/event", full.db_bytes_per_event, baseline.db_bytes_per_event, ""),
    ]
    print(f"\n{'figure':<18} {full.events:>14,} ev {baseline.events:>14,} ev {'ratio':>7}  target", file=sys.stderr)
    for label, value, base, target in rows:
        print(f"{label:<18} {value:>17,.2f} {base:>17,.2f} {ratio(value, base):>7}  {target}", file=sys.stderr)
    copy_ratio = ratio(copy_rate, insert_rate)
    print(f"{'COPY vs insert rows/s':<18} {copy_rate:>17,.0f} {insert_rate:>17,.0f} {copy_ratio:>7}", file=sys.stderr)
    result = {
        "events": full.events,
        "subjects": full.subjects,
        "ingest_events_per_s": round(full.ingest_events_per_s),
        "report_p50_ms": round(full.report_p50_ms, 2),
        "report_p99_ms": round(full.report_p99_ms, 2),
        "db_bytes_per_event": round(full.db_bytes_per_event),
        "baseline_events": baseline.events,
        "baseline_ingest_events_per_s": round(baseline.ingest_events_per_s),
        "baseline_report_p50_ms": round(baseline.report_p50_ms, 2),
        "baseline_report_p99_ms": round(baseline.report_p99_ms, 2),
        "baseline_db_bytes_per_event": round(baseline.db_bytes_per_event),
        "report_p99_ratio": ratio(full.report_p99_ms, baseline.report_p99_ms),
        "ingest_ratio": ratio(full.ingest_events_per_s, baseline.ingest_events_per_s),
        "ingest_rows_per_s": round(full.ingest_rows_per_s),
        "events_table_bytes_per_event": round(full.events_table_bytes / full.events),
        "wal_bytes_per_event": round(full.wal_bytes / full.events),
        "baseline_wal_bytes_per_event": round(baseline.wal_bytes / baseline.events),
        "server": server_settings(args.admin_url),
        "insert_rows_per_s": round(insert_rate),
        "copy_rows_per_s": round(copy_rate),
        "copy_ratio": copy_ratio,
        "disk_gb_per_100m_events": round(full.db_bytes_per_event * 100_000_000 / 1e9, 1),
        "target_report_p99_ms": TARGET_REPORT_P99_MS,
        "target_ingest_events_per_s": TARGET_INGEST_EPS,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
