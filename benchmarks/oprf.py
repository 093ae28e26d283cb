"""Subject keys v2 (threshold OPRF): what they cost a gateway, and what they cost an attacker.

Run after `make setup`:

    .venv/bin/python benchmarks/oprf.py [--inputs 5000] [--events 1000000] [--submit 10000]

Measures in one run, each beside its baseline:

* `hmac_per_s` — v1 subject keys (HMAC-SHA256 under the consortium secret), one core, Python;
* `oprf_per_s` — single-key VOPRF, full round per input (blind, evaluate with proof, verify, finalize), in process;
* `threshold_per_s` — 2-of-3 over HTTP on loopback: three `creditshare keyshare serve` processes on a Ganache
  consortium, a `KeyshareClient` sending batches of 100 (signed requests, membership read from the registry,
  proofs verified, every answer logged by the holders), one client thread and two;
* `report_p99_ms` — `POST /v1/reports` end to end with its OPRF round trip, on an index of `--events` generated
  events (benchmarks/report.py's generator, keyed with the benchmark's OPRF key), gateway index follower off;
  with hedged key-share rounds (the default `CREDITSHARE_KEYSHARE_HEDGE_AFTER`) and, as the baseline, without;
* `submit_events_per_s` — `POST /v1/events` for known customers (their outputs cached by the gateway), from the
  first request to the last confirmation on chain, as benchmarks/submit.py measures it;
* Ganache runs at `--chain-nice` (19): in production it has a machine of its own and no report waits for it, so
  here it takes the cycles the gateway leaves; the holders run at `--holder-nice` (0), since every report waits
  for two of them;
* the attacker's cost of enumerating one region and birth year (365,000 IDs): offline at `hmac_per_s` with v1,
  and with v2 at the demo's quota (`CREDITSHARE_KEYSHARE_QUOTA_PER_DAY`, per member, at every holder).

Prints a table and, as the last line, one JSON object. Exits 0 even if a target is missed: it is a measurement.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import text

from bench_keys import start_holders, subject_key_of
from creditshare.chain import governance
from creditshare.chain.artifacts import REGISTRY, load_artifact
from creditshare.chain.deploy import deploy_consortium
from creditshare.chain.governance import Action, Role
from creditshare.chain.rpc import connect, contract_at
from creditshare.chain.transactor import Transactor
from creditshare.core.config import Settings
from creditshare.core.db import checkpoint, make_engine, session_factory
from creditshare.core.oprf import Mode, blind, blind_evaluate_batch, derive_key_pair, finalize_batch
from creditshare.core.secrets import DEV_CONSORTIUM_SECRET_HEX, ConsortiumSecret
from creditshare.devtools.devchain import DevChain, dev_accounts
from creditshare.devtools.localnet import GatewayEnv, GatewayProcess
from creditshare.domain.identity import oprf_input, subject_key
from creditshare.keyshare.client import KeyshareClient
from creditshare.keyshare.directory import published_share_set
from report import AS_OF, CST, block_at, generate, http_load, ingest, percentile, resident_ids, synthetic_chain

TARGET_THRESHOLD_PER_S = 1_000
TARGET_REPORT_P99_MS = 30.0
TARGET_SUBMIT_EPS = 1_000
TARGET_ATTACK_DAYS = 30
REGION_YEAR_IDS = 365_000
WARM_UP = 20  # reports sent before each timed run
DEMO_QUOTA_PER_DAY = Settings().keyshare_quota_per_day


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def per_second(work, seconds: float = 2.0) -> float:  # type: ignore[no-untyped-def]
    """How many times per second `work(i)` runs, over about `seconds`."""
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(50):
            work(count)
            count += 1
    return count / elapsed


def measure_local() -> tuple[float, float]:
    secret = ConsortiumSecret(1, bytes.fromhex(DEV_CONSORTIUM_SECRET_HEX))
    hmac_rate = per_second(lambda i: subject_key(secret, "resident_id", f"11010519491231{i % 1000:03d}2"))
    key = derive_key_pair(bytes(range(32)), b"benchmark", Mode.VOPRF)

    def round_trip(i: int) -> None:
        blinded = [blind(oprf_input("resident_id", f"1101051949123{i % 10000:04d}2"), Mode.VOPRF)]
        evaluation = blind_evaluate_batch(key, [b.element for b in blinded], Mode.VOPRF)
        finalize_batch(blinded, evaluation, public_key=key.public_key)

    return hmac_rate, per_second(round_trip)


def measure_threshold(client: KeyshareClient, inputs: int, threads: int) -> float:
    """Inputs per second through `client`, batches of 100, from `threads` threads at once."""
    ids = resident_ids(inputs // 100 * 100, random.Random(inputs * 31 + threads), offset=300_000 * threads)
    batches = [[oprf_input("resident_id", i) for i in ids[b : b + 100]] for b in range(0, len(ids), 100)]
    order = iter(batches)
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                batch = next(order, None)
            if batch is None:
                return
            client.evaluate(batch, "submit")

    start = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return len(batches) * 100 / (time.perf_counter() - start)


def mean_histogram_ms(url: str, name: str) -> float:
    """The mean of a Prometheus histogram of seconds on the gateway's /metrics, in ms (all observations)."""
    values = {}
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith((f"{name}_sum", f"{name}_count")):
            key, value = line.rsplit(" ", 1)
            values[key.split("{")[0]] = float(value)
    return 1000 * values[f"{name}_sum"] / max(1.0, values[f"{name}_count"])


@dataclass(frozen=True)
class ReportRun:
    """One open-loop run of reports against a gateway started for it."""

    p50: float
    p99: float
    index_ms: float
    hedged_per_100: float  # key-share requests beyond the t = 2 a report needs


def report_run(url: str, key: str, bodies: list[dict[str, str]], rate: float) -> ReportRun:
    http_load(url, key, bodies[:WARM_UP], 0, 2)
    latencies, _, _ = http_load(url, key, bodies, rate, 8)
    answers = metric_total(url, "creditshare_keyshare_answers_total")
    extra = answers - 2 * (len(bodies) + WARM_UP)
    return ReportRun(
        statistics.median(latencies),
        percentile(latencies, 0.99),
        mean_histogram_ms(url, "creditshare_report_seconds"),
        100 * extra / (len(bodies) + WARM_UP),
    )


def metric_total(url: str, name: str) -> float:
    """The sum of a Prometheus counter over all its labels on the gateway's /metrics."""
    lines = httpx.get(f"{url}/metrics").text.splitlines()
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith(f"{name}{{"))


def submit_known_customers(env: GatewayEnv, key: str, customers: list[str], events: int) -> float:
    """Confirmed events per second for `events` repayments of `customers` (already known to the gateway)."""
    records = [
        {
            "record_id": f"REPAY-{i}",
            "event_type": "repayment",
            "id_type": "resident_id",
            "id_number": customers[i % len(customers)],
            "loan_number": f"LOAN-{i % len(customers)}",
            "occurred_on": (dt.date(2026, 6, 1) + dt.timedelta(days=i // len(customers))).isoformat(),
            "outstanding_fen": 100_000,
        }
        for i in range(events)
    ]
    chunks = [records[i : i + 100] for i in range(0, len(records), 100)]
    order, lock = iter(chunks), threading.Lock()
    errors: list[str] = []

    def worker() -> None:
        with httpx.Client(base_url=env.url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:
            while True:
                with lock:
                    chunk = next(order, None)
                if chunk is None:
                    return
                answer = http.post("/v1/events", json=chunk)
                if answer.status_code != 200 or answer.json()["accepted"] != len(chunk):
                    errors.append(answer.text[:300])

    start = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(4)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} submissions failed, first: {errors[0]}")
    wait_confirmed(env, events)
    return events / (time.perf_counter() - start)


def wait_confirmed(env: GatewayEnv, at_least: int, timeout: float = 600) -> None:
    engine = make_engine(env.database)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                done = conn.execute(text("SELECT count(*) FROM outbox WHERE status = 'confirmed'")).scalar_one()
                failed = conn.execute(text("SELECT count(*) FROM outbox WHERE status = 'failed'")).scalar_one()
            if failed:
                raise RuntimeError(f"{failed} outbox items failed")
            if done >= at_least:
                return
            time.sleep(0.1)
    finally:
        engine.dispose()
    raise TimeoutError(f"fewer than {at_least} items confirmed within {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--inputs", type=int, default=5_000, help="inputs per threshold run (batches of 100)")
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the report benchmark's index")
    parser.add_argument("--subjects", type=int, default=200_000, help="borrowers in that index")
    parser.add_argument("--reports", type=int, default=400, help="POST /v1/reports sent (8 client threads)")
    parser.add_argument("--report-rate", type=float, default=50, help="offered reports per second (open loop)")
    parser.add_argument("--customers", type=int, default=1_000, help="known customers of the submit run")
    parser.add_argument("--submit", type=int, default=10_000, help="events of the submit run")
    parser.add_argument("--seed", type=int, default=20_261_130)
    parser.add_argument(
        "--chain-nice",
        type=int,
        default=19,
        help="CPU niceness of Ganache, which has its own machine in production and which no report waits for "
        "(0: co-hosted at the gateway's priority)",
    )
    parser.add_argument(
        "--holder-nice",
        type=int,
        default=0,
        help="CPU niceness of the key-share holders (every report waits for two of them: a niced holder starves "
        "behind the gateway and the load generator)",
    )
    args = parser.parse_args()

    log("local rates (HMAC v1, single-key VOPRF round) ...")
    hmac_rate, oprf_rate = measure_local()

    chain_node = DevChain(accounts=10, nice=args.chain_nice)
    with tempfile.TemporaryDirectory(prefix="bench-oprf-") as tmp_name, chain_node as chain:
        tmp = Path(tmp_name)
        w3 = connect(chain.rpc_url)
        accounts = dev_accounts(10)
        governor = Transactor(w3, accounts[0])
        deployment = deploy_consortium(governor, [accounts[0].address], ["Governor"], threshold=1)
        registry = contract_at(w3, load_artifact(REGISTRY), deployment.registry)
        for i in (1, 2, 3, 4):
            governance.propose(registry, governor, Action.ADMIT, accounts[i].address, Role.LENDER, name=f"L{i}")
        start_holders(tmp, w3, chain.rpc_url, deployment, governor, accounts[5:8], nice=args.holder_nice)
        log("3 key-share holders (2-of-3, separate processes) up")

        client = KeyshareClient(published_share_set(w3, deployment), accounts[1])
        client.evaluate([b"warm-up"], "submit")
        log(f"threshold: {args.inputs:,} inputs in batches of 100, 1 client thread ...")
        threshold_1 = measure_threshold(client, args.inputs, 1)
        log(f"threshold: {args.inputs:,} inputs in batches of 100, 2 client threads ...")
        threshold_2 = measure_threshold(client, args.inputs, 2)
        client.close()

        # report end to end on a generated index keyed with the benchmark's OPRF key -----------------------------
        log(f"generating {args.events:,} events over {args.subjects:,} subjects (v2 keys) ...")
        data = generate(
            events=args.events,
            subjects=args.subjects,
            inquiries=args.events // 200,
            corrections=args.events // 500,
            disputes=args.events // 700,
            lenders=4,
            key_of=subject_key_of,
            seed=args.seed,
        )
        env = GatewayEnv(
            tmp / "gateway",
            accounts[1],
            chain.rpc_url,
            deployment,
            extra={
                "CREDITSHARE_INDEX": "false",
                "CREDITSHARE_QUERY_RATE_PER_MINUTE": "1000000000",
                "CREDITSHARE_LENDER_QUERY_RATE_PER_MINUTE": "1000000000",
            },
        )
        engine = make_engine(env.database)
        as_of_block = block_at(int(dt.datetime.combine(AS_OF, dt.time(23, 59, 58), tzinfo=CST).timestamp()))
        log("ingesting the index ...")
        lenders = [a.address.lower() for a in accounts[1:5]]
        ingest(
            session_factory(engine),
            deployment,
            synthetic_chain(data, deployment, lenders, accounts[0].address, 1),
            first_block=1,
            as_of_block=as_of_block,
            range_size=Settings().node_profile.max_logs_range,
            progress_every=max(1, args.events // 5),
        )
        checkpoint(engine)
        engine.dispose()
        os.sync()
        query_key = env.add_client("bench-query", "query")
        submit_key = env.add_client("bench-submit", "submit")
        rng = random.Random(args.seed)
        bodies = [
            {
                "id_type": "resident_id",
                "id_number": data.id_numbers[rng.randrange(args.subjects)],
                "purpose": "loan_application",
                "consent_ref": f"C-{i}",
            }
            for i in range(2 * args.reports)
        ]
        runs: dict[str, ReportRun] = {}
        # Hedged first (the default), so the page cache warmed by the first run favours the baseline.
        for name, hedge_after in (("hedged", str(Settings().keyshare_hedge_after)), ("unhedged", "0")):
            env.extra["CREDITSHARE_KEYSHARE_HEDGE_AFTER"] = hedge_after
            gateway = GatewayProcess(env).start()
            log(f"POST /v1/reports x {args.reports} at {args.report_rate}/s, {name} key-share rounds ...")
            offset = 0 if name == "hedged" else args.reports
            runs[name] = report_run(env.url, query_key, bodies[offset : offset + args.reports], args.report_rate)
            if name == "hedged":
                gateway.stop()
        atexit.register(gateway.stop)

        # submissions for known customers ---------------------------------------------------------------------
        customers = resident_ids(args.customers, random.Random(args.seed + 7), offset=800_000)
        log(f"submit: {args.customers:,} customers made known (one loan each) ...")
        opened = [
            {
                "record_id": f"OPEN-{i}",
                "event_type": "loan_opened",
                "id_type": "resident_id",
                "id_number": c,
                "loan_number": f"LOAN-{i}",
                "occurred_on": "2026-05-01",
                "principal_fen": 1_000_000,
            }
            for i, c in enumerate(customers)
        ]
        with httpx.Client(base_url=env.url, headers={"Authorization": f"Bearer {submit_key}"}, timeout=120) as http:
            for start in range(0, len(opened), 500):
                http.post("/v1/events", json=opened[start : start + 500]).raise_for_status()
        inquiries_before = 2 * (args.reports + WARM_UP)
        wait_confirmed(env, len(opened) + inquiries_before)
        log(f"submit: {args.submit:,} repayments of known customers ...")
        submit_eps = submit_known_customers(env, submit_key, customers, args.submit)
        gateway.stop()

    hedged, unhedged = runs["hedged"], runs["unhedged"]
    report_p50, report_p99 = hedged.p50, hedged.p99
    hmac_attack_s = REGION_YEAR_IDS / hmac_rate
    v2_attack_days = REGION_YEAR_IDS / DEMO_QUOTA_PER_DAY
    result = {
        "hmac_per_s": round(hmac_rate),
        "oprf_per_s": round(oprf_rate),
        "threshold_per_s": round(max(threshold_1, threshold_2)),
        "threshold_per_s_1_thread": round(threshold_1),
        "threshold_per_s_2_threads": round(threshold_2),
        "report_p50_ms": round(report_p50, 1),
        "report_p99_ms": round(report_p99, 1),
        "report_index_mean_ms": round(hedged.index_ms, 1),
        "report_hedged_per_100": round(hedged.hedged_per_100, 1),
        "report_p50_ms_unhedged": round(unhedged.p50, 1),
        "report_p99_ms_unhedged": round(unhedged.p99, 1),
        "index_events": args.events,
        "submit_events_per_s": round(submit_eps, 1),
        "attack_v1_seconds": round(hmac_attack_s, 2),
        "attack_v2_days": round(v2_attack_days, 1),
        "quota_per_day": DEMO_QUOTA_PER_DAY,
        "chain_nice": args.chain_nice,
        "holder_nice": args.holder_nice,
    }
    print(
        f"Subject keys v2 — {dt.date.today()} — 2 cores; holders, gateway, Ganache and client on one machine "
        f"(Ganache at nice {args.chain_nice}, holders at nice {args.holder_nice})"
    )
    print(f"{'measure':<52}{'value':>12}   baseline")
    print(f"{'v1 HMAC subject keys per second (1 core)':<52}{hmac_rate:>12,.0f}")
    row = "single-key VOPRF rounds per second (in process)"
    print(f"{row:<52}{oprf_rate:>12,.0f}   {oprf_rate / hmac_rate:.4f}× HMAC")
    row = "2-of-3 over HTTP, batch 100, 1 thread, per second"
    print(f"{row:<52}{threshold_1:>12,.0f}   {threshold_1 / oprf_rate:.2f}× single key")
    print(f"{'2-of-3 over HTTP, batch 100, 2 threads, per second':<52}{threshold_2:>12,.0f}")
    row = f"report end to end, {args.events:,}-event index, p50/p99 ms"
    print(f"{row:<52}{report_p50:>6.1f}/{report_p99:<5.1f}   unhedged: {unhedged.p50:.1f}/{unhedged.p99:.1f}")
    print(f"{'  of which index read + fold (mean ms)':<52}{hedged.index_ms:>12.1f}")
    print(f"{'  hedged key-share requests per 100 reports':<52}{hedged.hedged_per_100:>12.1f}")
    print(f"{'submit, known customers, confirmed events/s':<52}{submit_eps:>12,.1f}")
    print(
        f"{'attacker: 365,000 IDs (one region and birth year)':<52}{v2_attack_days:>10.1f} d   "
        f"v1: {hmac_attack_s:.1f} s offline ({v2_attack_days * 86_400 / hmac_attack_s:,.0f}× longer)"
    )
    checks = [
        (f"threshold_per_s ≥ {TARGET_THRESHOLD_PER_S}", result["threshold_per_s"] >= TARGET_THRESHOLD_PER_S),
        (f"report_p99_ms ≤ {TARGET_REPORT_P99_MS}", report_p99 <= TARGET_REPORT_P99_MS),
        (f"submit_events_per_s ≥ {TARGET_SUBMIT_EPS}", submit_eps >= TARGET_SUBMIT_EPS),
        (f"one member needs ≥ {TARGET_ATTACK_DAYS} days for 365,000 IDs", v2_attack_days >= TARGET_ATTACK_DAYS),
    ]
    for label, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {label}")
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
