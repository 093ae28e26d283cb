"""API fuzzing: schemathesis, with all its checks, against a real gateway on a real chain (`make api-fuzz`).

Run with the project's venv from the checkout's root; schemathesis itself lives in its own venv (it needs a newer
hypothesis than Brownie pins):

    .venv/bin/python -m tests.fuzz.run_schemathesis [--st .venv-schemathesis/bin/st] [--max-examples N]

What it brings up, like the demo: a Ganache chain, freshly deployed contracts, one lender admitted by governance,
that lender's gateway (`creditshare serve`, SQLite), an API key of each scope, a few records confirmed and
indexed (so status lookups and reports have data). Then `st run` tests the gateway against its own
`/openapi.json` once per key (`RUNS`: each scope's key on its operations, the admin key on all of them), with
`--checks all` and the settings of tests/fuzz/schemathesis.toml. It prints, per key and in total, the operations
and examples (requests) run and the count of 5xx answers, and exits non-zero on any failed check, any 5xx, any
traceback in the gateway's log or any schemathesis error. Everything it started (chain, gateway, schemathesis) is
stopped on the way out, also on failure, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx

from creditshare.devtools.devchain import DevChain, dev_accounts
from tests.support import Consortium
from tests.support.gateways import GatewayEnv, GatewayProcess, wait_until
from tests.support.records import build_record, numbered_resident_id

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ST = ROOT / ".venv-schemathesis" / "bin" / "st"
CONFIG = Path(__file__).with_name("schemathesis.toml")
#: What each key's run covers: the operations of its scope (the admin key, which no /v1 operation requires, goes
#: over every operation: 403 on each /v1 one, and the health, readiness and metrics routes).
#: The admin run's answers are mostly 403s, so it gets a quarter of the examples.
RUNS = {
    "submit": ("^/v1/events", 1.0),
    "query": ("^/v1/reports$", 3.0),
    "verify": ("^/v1/verify$", 3.0),
    "borrower_service": ("^/v1/borrower/", 1.5),
    "disputes": ("^/v1/disputes", 1.0),
    "alerts": ("^/v1/(alerts|watchlist)", 1.0),
    "admin": (".", 0.25),
}
LENDER = 3  # dev account of the one admitted lender (0-2 are the governors)
SEED_RECORDS = 5


@dataclass
class KeyRun:
    """What one `st run` (one API key) did, read from its NDJSON event stream."""

    scope: str
    returncode: int
    operations: set[str] = field(default_factory=set)
    examples: int = 0
    server_errors: int = 0
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@contextmanager
def fuzz_gateway(home: Path) -> Iterator[tuple[GatewayEnv, dict[str, str]]]:
    """A chain, the contracts, one admitted lender and its running gateway with a key per scope."""
    with ExitStack() as stack:
        chain = DevChain(accounts=LENDER + 1, log_file=home / "ganache.log")
        w3 = chain.start()
        stack.callback(chain.stop)
        accounts = dev_accounts(LENDER + 1)
        consortium = Consortium.deploy(w3, accounts, governors=accounts[:3], threshold=2)
        consortium.admit_lender(accounts[LENDER], "Fuzz Lender")
        env = GatewayEnv(  # the tests' env: the consortium's key-share holders run in this process, published
            home=home / "gateway",
            lender=accounts[LENDER],
            rpc_url=chain.rpc_url,
            deployment=consortium.deployment,
            # Far above what the fuzzer sends, so that reports and verifications run their real code instead of
            # answering 429 (the rate limiter has its own tests).
            extra={
                "CREDITSHARE_QUERY_RATE_PER_MINUTE": "1000000",
                "CREDITSHARE_LENDER_QUERY_RATE_PER_MINUTE": "1000000",
            },
        )
        keys = {scope: env.add_client(f"fuzz-{scope}", scope) for scope in RUNS}
        process = GatewayProcess(env)
        stack.callback(process.stop)
        process.start()
        seed_records(env, keys["submit"])
        yield env, keys


def seed_records(env: GatewayEnv, key: str) -> None:
    """Submit a few records and wait until they are confirmed and the gateway is ready (index synced)."""
    records = [build_record(id_number=numbered_resident_id(i)) for i in range(SEED_RECORDS)]
    with httpx.Client(base_url=env.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:
        answer = api.post("/v1/events", json=records)
        answer.raise_for_status()
        ids = [r["event_id"] for r in answer.json()["results"]]

        def settled() -> bool:
            return all(api.get(f"/v1/events/{i}").json()["status"] == "confirmed" for i in ids)

        wait_until(settled, timeout=60)
        wait_until(lambda: api.get("/readyz").status_code == 200, timeout=60)


def st_command(st: Path, env: GatewayEnv, scope: str, key: str, args: argparse.Namespace, report: Path) -> list[str]:
    return [
        str(st),
        "--config-file",
        str(CONFIG),
        "run",
        f"{env.url}/openapi.json",
        "--checks",
        "all",
        "--include-path-regex",
        RUNS[scope][0],
        "--header",
        f"Authorization: Bearer {key}",
        "--max-examples",
        str(max(10, round(args.max_examples * RUNS[scope][1]))),
        "--seed",
        str(args.seed),
        "--workers",
        str(args.workers),
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
    ]


def read_report(scope: str, returncode: int, report: Path) -> KeyRun:
    """Count operations, examples (requests sent) and 5xx answers in schemathesis's NDJSON event stream."""
    run = KeyRun(scope, returncode)
    if not report.exists():
        run.errors.append(f"no report at {report}")
        return run
    for line in report.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        for kind, body in event.items():
            if kind == "ScenarioFinished":
                recorder = body.get("recorder") or {}
                if str(recorder.get("label")).split(" ")[0] in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                    run.operations.add(recorder["label"])
                for interaction in (recorder.get("interactions") or {}).values():
                    run.examples += 1
                    response = interaction.get("response") or {}
                    if int(response.get("status_code") or 0) >= 500:
                        run.server_errors += 1
                for checks in (recorder.get("checks") or {}).values():
                    run.failures += [
                        f"{recorder.get('label')}: {check.get('name')}"
                        for check in checks
                        if check.get("status") not in ("success", "skip", "skipped")
                    ]
            elif kind in ("NonFatalError", "FatalError"):
                run.errors.append(f"{kind}: {json.dumps(body)[:300]}")
    run.failures = sorted(set(run.failures))
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--st", type=Path, default=DEFAULT_ST, help="schemathesis CLI (default: %(default)s)")
    parser.add_argument(
        "--max-examples", type=int, default=100, help="test cases per operation and phase (times the run's factor)"
    )
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, reports)")
    args = parser.parse_args(argv)
    args.st = args.st.absolute()  # each run's working directory is a temporary folder
    if not args.st.exists():
        print(f"schemathesis not found at {args.st}: `make api-fuzz` installs it", file=sys.stderr)
        return 2

    def interrupted(signum: int, _: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)  # run the clean-up below also when make is stopped
    work = Path(tempfile.mkdtemp(prefix="creditshare-fuzz-"))
    runs: list[KeyRun] = []
    started = time.monotonic()
    try:
        with fuzz_gateway(work) as (env, keys):
            print(f"gateway of the fuzz lender on {env.url} (ready in {time.monotonic() - started:.0f} s)", flush=True)
            for scope, key in keys.items():
                report = work / f"schemathesis-{scope}.ndjson"
                command = st_command(args.st, env, scope, key, args, report)
                shown = [
                    f"'Authorization: Bearer <{scope} key>'" if c.startswith("Authorization:") else c for c in command
                ]
                print(f"\n=== API key with scope {scope!r}: {' '.join(shown)}", flush=True)
                process = subprocess.run(command, cwd=work, env={**os.environ, "PYTHONUNBUFFERED": "1"})
                runs.append(read_report(scope, process.returncode, report))
            log = (env.home / "gateway.log").read_text(errors="replace")
    except KeyboardInterrupt as exc:
        print(
            f"\nAPI fuzzing interrupted ({exc or 'Ctrl-C'}); chain, gateway and schemathesis stopped", file=sys.stderr
        )
        return 130
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return summarise(runs, log, time.monotonic() - started)


def summarise(runs: list[KeyRun], log: str, elapsed: float) -> int:
    print("\n=== schemathesis summary (checks: all)")
    failed = False
    for run in runs:
        print(
            f"  {run.scope:7} key: {len(run.operations)} operations, {run.examples} examples, "
            f"{run.server_errors} 5xx, {len(run.failures)} failed checks, exit {run.returncode}"
        )
        for problem in run.failures + run.errors:
            print(f"    - {problem}")
        failed |= run.returncode != 0 or bool(run.failures or run.errors or run.server_errors)
    operations = set().union(*(r.operations for r in runs)) if runs else set()
    total = sum(r.examples for r in runs)
    server_errors = sum(r.server_errors for r in runs)
    tracebacks = log.count("Traceback (most recent call last)")
    print(
        f"  total: {len(operations)} operations, {total} examples, {server_errors} 5xx, "
        f"{tracebacks} tracebacks in the gateway log, {elapsed:.0f} s"
    )
    failed |= server_errors > 0 or tracebacks > 0 or len(runs) != len(RUNS)
    print("API fuzzing FAILED" if failed else "API fuzzing passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
