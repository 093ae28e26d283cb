"""The main job (`creditshare demo`) end to end, and the synthetic history it loads.

The end-to-end test runs the real command as a user does (own Ganache, three gateways, a shortened history of
60 borrowers), then copy-pastes the three curl commands it prints: they are executed with `bash -c` exactly as
printed (curl is on PATH), not replayed with a Python client.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from creditshare.devtools.demo import LENDERS, MULTI_BORROWER, BootstrapError, DemoLender, wait_until_indexed
from creditshare.devtools.devchain import free_port
from creditshare.devtools.localnet import wait_until
from creditshare.devtools.synthetic import generate_history
from creditshare.domain.identity import IdType, normalise
from creditshare.domain.records import CreditEventIn, check_rules

CLI = [sys.executable, "-m", "creditshare.cli"]
TOUR_READY = "Ctrl-C stops everything"
BORROWERS = 60
AS_OF = dt.date(2026, 11, 29)


# --------------------------------------------------------------------------------------------- the generator


def test_generate_history_same_arguments_same_records() -> None:
    first = generate_history(500, as_of=AS_OF)
    again = generate_history(500, as_of=AS_OF)
    other_seed = generate_history(500, as_of=AS_OF, seed=1)

    assert first.per_lender == again.per_lender
    assert first.per_lender != other_seed.per_lender


def test_generate_history_every_record_passes_the_gateway_rules() -> None:
    history = generate_history(3000, as_of=AS_OF)

    for book in history.per_lender:
        for raw in book:
            record = CreditEventIn.model_validate(raw)
            check_rules(record, AS_OF)  # raises InvalidRecord naming the field
            assert normalise(record.id_type, record.id_number, today=AS_OF) == record.id_number


def test_generate_history_loans_are_ordered_and_record_ids_unique_per_lender() -> None:
    history = generate_history(3000, as_of=AS_OF)

    for book in history.per_lender:
        assert len({r["record_id"] for r in book}) == len(book)
        loans: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in book:
            loans[r["loan_number"]].append(r)
        for events in loans.values():
            events.sort(key=lambda r: r["record_id"])
            days = [r["occurred_on"] for r in events]
            assert days == sorted(set(days)), events  # one event a day at most, in record-id order
            assert [r["event_type"] for r in events].count("loan_opened") == 1
            assert events[0]["event_type"] == "loan_opened"
            assert len({r["id_number"] for r in events}) == 1


def test_generate_history_has_the_documented_mix() -> None:
    history = generate_history(3000, as_of=AS_OF)
    stats = history.stats
    types = Counter(r["event_type"] for book in history.per_lender for r in book)
    ids = Counter(r["id_type"] for book in history.per_lender for r in book)

    assert stats.borrowers == 3000 and stats.records == history.records == sum(types.values())
    assert 8_000 < stats.records < 20_000
    assert 5 <= stats.all_lenders <= 30  # a handful borrow from all three lenders
    assert stats.multi_lending > 100
    assert stats.overdue_loans > stats.cured_loans > 0
    assert stats.defaulted_loans > stats.written_off_loans > 0
    assert types["written_off"] == stats.written_off_loans and types["default"] == stats.defaulted_loans
    assert ids[IdType.USCC.value] > 0 and 10 < stats.companies < 200
    assert all(len(book) > 1000 for book in history.per_lender)


def test_generate_history_multi_borrower_has_active_loans_at_all_three_lenders() -> None:
    history = generate_history(BORROWERS, as_of=AS_OF)

    last_event: dict[tuple[int, str], dict[str, Any]] = {}
    for lender, book in enumerate(history.per_lender):
        for r in book:
            if r["id_number"] == MULTI_BORROWER:
                last_event[(lender, r["loan_number"])] = r
    active = {lender for (lender, _), r in last_event.items() if r["event_type"] not in ("settled", "written_off")}
    overdue = [r for r in last_event.values() if r["event_type"] == "overdue"]

    assert active == {0, 1, 2}
    assert [(r["days_past_due"], r["occurred_on"] <= AS_OF.isoformat()) for r in overdue] == [(35, True)]


def test_generate_history_10k_records_in_seconds() -> None:
    started = time.perf_counter()
    history = generate_history(2500, as_of=AS_OF)
    elapsed = time.perf_counter() - started

    assert history.records > 10_000
    assert elapsed < 3.0  # ~0.4 s alone; the suite runs two workers and their chains on two cores


def test_generate_history_no_borrowers_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        generate_history(0, as_of=AS_OF)


# --------------------------------------------------------------------------------------------- the main job


def test_wait_until_indexed_timeout_names_the_stuck_gateway(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens: its /readyz never answers
    lender = DemoLender(LENDERS[0], SimpleNamespace(url=url, home=tmp_path), "no-key")  # type: ignore[arg-type]
    w3 = SimpleNamespace(eth=SimpleNamespace(block_number=42))

    with pytest.raises(BootstrapError) as caught:
        wait_until_indexed([lender], w3, timeout=1)  # type: ignore[arg-type]

    message = str(caught.value)
    assert message.startswith("the history was not confirmed and indexed within 1 s: ")
    assert f"{LENDERS[0]} ({url}): index at block None of 42, chain_error: /readyz did not answer" in message


class Demo:
    """`creditshare demo` in a child process, its stdout read line by line in a thread."""

    def __init__(self, home: Path, chain_port: int, first_port: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITSHARE_")}
        env.update(CREDITSHARE_HOME=str(home), CREDITSHARE_CHAIN_PORT=str(chain_port), COLUMNS="250")
        self.proc = subprocess.Popen(
            [*CLI, "demo", "--borrowers", str(BORROWERS), "--first-port", str(first_port), "--yes"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            # Ctrl-C must reach it even when this suite runs in a background job (which ignores SIGINT)
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_tour(self, timeout: float = 180) -> list[str]:
        """Lines up to the tour's last line; fails with the output so far if it does not come in time."""
        deadline = time.monotonic() + timeout
        while not any(TOUR_READY in line for line in self.lines):
            try:
                line = self._queue.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no tour within {timeout}s:\n{self.output}")
            if line is None:
                pytest.fail(f"demo exited with {self.proc.wait()} before the tour:\n{self.output}")
            self.lines.append(line)
        return self.lines

    def interrupt(self, timeout: float = 30) -> int:
        """Ctrl-C; returns the exit code once it exited, having read all its output."""
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=timeout)
        while (line := self._queue.get(timeout=5)) is not None:
            self.lines.append(line)
        return code

    def curl_commands(self) -> list[str]:
        return [line for line in self.lines if line.startswith("curl ")]


def use_printed_console(lines: list[str], home: Path) -> str:
    """Sign in to the second gateway's console with the printed login and query the printed borrower, as the
    tour says; returns the report page. Also checks every printed API key is whole (equal to its file)."""
    keys = [line.split("API key", 1)[1].strip() for line in lines if line.strip().startswith("API key")]
    assert keys == [(home / f"lender-{i}" / "demo-api-key").read_text().strip() for i in (1, 2, 3)], lines
    logins = [re.search(r"console\s+(\S+)\s+user: underwriter.*password: (\S+)", line) for line in lines]
    url, password = [m.groups() for m in logins if m][1]  # the second lender's, as "Start here" says
    start = next(line for line in lines if line.startswith("Start here"))
    assert url in start and MULTI_BORROWER in start
    with httpx.Client(base_url=url.removesuffix("/console/"), timeout=30, follow_redirects=True) as browser:
        form = browser.get("/console/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token, form.text
        signed_in = browser.post(
            "/console/login", data={"username": "underwriter", "password": password, "csrf_token": token.group(1)}
        )
        assert signed_in.status_code == 200 and 'id="query-form"' in signed_in.text, signed_in.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', signed_in.text)
        assert csrf
        page = browser.post(
            "/console/report",
            data={
                "id_type": "resident_id",
                "id_number": MULTI_BORROWER,
                "purpose": "loan_application",
                "consent_ref": "TOUR-CONSOLE-1",
                "csrf_token": csrf.group(1),
            },
        )
        assert page.status_code == 200, page.text
        return page.text


def run_printed(command: str) -> dict[str, Any]:
    """Run a printed command as a user pasting it into bash does; its output is JSON."""
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result
    body: dict[str, Any] = json.loads(result.stdout)
    return body


def free_ports(count: int) -> int:
    """The first of `count` consecutive free ports."""
    for _ in range(50):
        first = free_port()
        if first + count < 65536 and all(port_free(first + i) for i in range(count)):
            return first
    raise RuntimeError("no run of free ports")


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def processes_mentioning(text: str) -> list[int]:
    """Pids of this user's processes whose command line or environment mentions `text` (e.g. the demo's HOME)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if text.encode() in (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:  # gone, or another user's
            continue
    return found


def test_demo_bootstraps_history_prints_working_curls_and_reuses_state(tmp_path: Path) -> None:
    chain_port, first_port = free_port(), free_ports(3)
    ports = [chain_port, first_port, first_port + 1, first_port + 2]
    demo = Demo(tmp_path, chain_port, first_port)
    try:
        demo.wait_for_tour()
        plan = json.loads((tmp_path / "demo-history.json").read_text())
        expected = generate_history(plan["borrowers"], as_of=dt.date.fromisoformat(plan["as_of"]), seed=plan["seed"])
        submit, report, verify, alerts, disputes = demo.curl_commands()
        console_page = use_printed_console(demo.lines, tmp_path)
        assert all(name in console_page for name in LENDERS)  # the report page: loans at all three lenders

        submitted = run_printed(submit)
        credit = run_printed(report)
        verified = wait_until(lambda: (v := run_printed(verify))["match"] and v, timeout=30, interval=0.5)
        alerted = run_printed(alerts)["alerts"]
        disputed = run_printed(disputes)["disputes"]
    finally:
        code = demo.interrupt()

    out = demo.output
    assert code == 0, out
    assert "admitted " in out and out.count("curl -s -X POST") == 3
    assert f"{expected.records:,} new records submitted (0 were already there)" in out
    assert "every gateway has confirmed its records and indexed block" in out
    assert submitted["accepted"] == 1 and submitted["results"][0]["record_id"] == "TOUR-1", submitted
    assert credit["summary"]["lenders_with_active_loans"] == 3, credit["summary"]
    assert {loan["lender_name"] for loan in credit["loans"]} == set(LENDERS)
    history_loans = len(
        {
            (i, r["loan_number"])
            for i, book in enumerate(expected.per_lender)
            for r in book
            if r["id_number"] == MULTI_BORROWER
        }
    )
    # + the post-loan story's loan at the second lender, + TOUR-1's loan once it is indexed
    assert len(credit["loans"]) in (history_loans + 1, history_loans + 2)
    # The story: the first lender is alerted to its borrower's overdue at the second, which has the dispute.
    # (The history, dated up to today, may raise a few alerts of its own: recent events of shared borrowers.)
    overdue = [
        a
        for a in alerted
        if (a["kind"], a["other_lender_name"], a["subject_key"]) == ("overdue", LENDERS[1], credit["subject_key"])
    ]
    assert overdue and all(a["reference"] for a in overdue), alerted
    assert [(d["state"], d["record_lender"]) for d in disputed] == [("open", overdue[0]["other_lender"])], disputed
    assert "DISPUTED_KEPT" in {r["code"] for r in credit["reasons"]}
    assert credit["grade"] == "C" and "MULTI_LENDING_3" in {r["code"] for r in credit["reasons"]}
    assert verified["match"] is True and verified["lender_name"] == LENDERS[0]
    assert out.rstrip().endswith("stopped")
    assert all(port_free(p) for p in ports), ports
    assert processes_mentioning(str(tmp_path)) == []

    again = Demo(tmp_path, chain_port, first_port)
    try:
        again.wait_for_tour()
        credit_again = run_printed(again.curl_commands()[1])
        disputes_again = run_printed(again.curl_commands()[4])["disputes"]
    finally:
        code = again.interrupt()

    out = again.output
    assert code == 0, out
    assert "reusing the deployment" in out and "admitted " not in out
    assert "synthetic history already loaded, 0 new records submitted" in out
    assert credit_again["summary"]["lenders_with_active_loans"] == 3
    assert len(credit_again["loans"]) == history_loans + 2  # + the story's and TOUR-1's loans; nothing twice
    assert len(disputes_again) == 1  # the story is not told twice
    assert '"record_id":"TOUR-2"' in again.curl_commands()[0]  # TOUR-1 is taken: the printed submit stays fresh
    assert all(port_free(p) for p in ports), ports
