"""Operator commands as an operator runs them (subprocesses against a real Ganache and SQLite): the local chain,
a full governance round, a 10,000-row CSV import with bad rows, doctor, report and verify."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import random
import re
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from creditshare.chain import governance, signers
from creditshare.chain.governance import MemberStatus, Role
from creditshare.chain.rpc import rpc
from creditshare.devtools import localnet
from creditshare.devtools.devchain import free_port
from tests.support import Consortium, credit_item
from tests.support.gateways import GatewayEnv, GatewayProcess, wait_until
from tests.support.records import sample_resident_id

CLI = [sys.executable, "-m", "creditshare.cli"]
INQUIRY_TOPIC = "0x" + Web3.keccak(text="InquiryRecorded(bytes32,address,bytes32,bytes32,uint256)").hex()
CREDIT_EVENT_TOPIC = "0x" + Web3.keccak(text="CreditEventRecorded(bytes32,address,bytes32,bytes32,uint256)").hex()


def run_cli(
    env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=env, input=stdin, timeout=timeout, check=False
    )


def one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """Assert exit 1 with a single stderr line containing `words`; return the line."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    line = result.stderr.strip()
    assert line and "\n" not in line and "Traceback" not in line, result.stderr
    for word in words:
        assert word in line, line
    return line


def gateway_env(tmp_path: Path, consortium: Consortium, lender: LocalAccount, name: str = "gw") -> dict[str, str]:
    """The environment of a gateway of `lender` (keystore, secrets, deployment file) in tmp_path/name."""
    w3_url = consortium.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    env = GatewayEnv(tmp_path / name, lender, str(w3_url), consortium.deployment).environ()
    env["COLUMNS"] = "200"
    return env


# ---------------------------------------------------------------------------------------------------- chain


@pytest.mark.slow
def test_chain_up_status_down(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITSHARE_")}
    env.update(CREDITSHARE_HOME=str(tmp_path), CREDITSHARE_CHAIN_PORT=str(free_port()), COLUMNS="200")
    one_line_error(run_cli(env, "chain", "status"), "not running")
    up = run_cli(env, "chain", "up", "--detach")
    try:
        assert up.returncode == 0, up.stderr
        one_line_error(run_cli(env, "chain", "up", "--detach"), "already runs", "chain down")
        status = run_cli(env, "chain", "status")
        assert status.returncode == 0, status.stderr
        assert "running" in status.stdout and "1337" in status.stdout
        deploy = run_cli(env, "deploy", "--dev", "--rpc-url", f"http://127.0.0.1:{env['CREDITSHARE_CHAIN_PORT']}")
        assert deploy.returncode == 0, deploy.stderr
    finally:
        down = run_cli(env, "chain", "down")
    assert down.returncode == 0, down.stderr
    assert "stopped" in down.stdout
    one_line_error(run_cli(env, "chain", "status"), "not running")
    # The chain keeps its state: up again, the deployment is still there.
    up = run_cli(env, "chain", "up", "--detach")
    try:
        status = run_cli(env, "chain", "status")
        assert "registry 0x" in status.stdout, status.stdout
    finally:
        run_cli(env, "chain", "down", "--reset", "--yes")
    assert not (tmp_path / "chain").exists() and not (tmp_path / "deployment.json").exists()


def sourced(env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`creditshare ARGS` in a shell that has sourced a gateway's env file, as the README says, and has no other
    CREDITSHARE_* setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITSHARE_")}
    env["COLUMNS"] = "200"
    command = f". {shlex.quote(str(env_file))} && exec {shlex.join([*CLI, *args])}"
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env, timeout=60, check=False)


def test_chain_status_after_sourcing_gateway_env_reports_the_gateways_node(
    tmp_path: Path, consortium: Consortium, accounts: list[LocalAccount]
) -> None:
    """A gateway's HOME holds no chain of its own: after `. HOME/gateway.env`, `chain status` said "not running"
    (it only looked for HOME/chain.json) while the node at the gateway's CREDITSHARE_RPC_URL ran."""
    rpc_url = str(consortium.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    gateway = localnet.GatewayEnv(tmp_path / "lender-1", accounts[4], rpc_url, consortium.deployment)

    status = sourced(gateway.home / "gateway.env", "chain", "status")

    assert status.returncode == 0, status.stderr
    assert "running" in status.stdout and "a node this HOME did not start" in status.stdout, status.stdout
    assert rpc_url in status.stdout and consortium.deployment.registry in status.stdout, status.stdout


def test_chain_status_after_sourcing_gateway_env_names_the_node_that_does_not_answer(
    tmp_path: Path, consortium: Consortium, accounts: list[LocalAccount]
) -> None:
    rpc_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    gateway = localnet.GatewayEnv(tmp_path / "lender-1", accounts[4], rpc_url, consortium.deployment)

    line = one_line_error(sourced(gateway.home / "gateway.env", "chain", "status"), "not running", rpc_url)

    assert f"the chain at {rpc_url} is not running" in line


# ---------------------------------------------------------------------------------------------------- governance


@pytest.mark.slow
def test_full_governance_round(tmp_path: Path, consortium: Consortium, accounts: list[LocalAccount]) -> None:
    """Propose, refuse an early execute and a double vote, approve to execute; suspend and reinstate; list."""
    env = gateway_env(tmp_path, consortium, accounts[3])
    newcomer = accounts[12].address
    count_before = consortium.registry.functions.proposalCount().call()

    declined = run_cli(env, "members", "propose", "admit", "--address", newcomer, "--role", "lender",
                       "--name", "Newcomer Credit", "--dev-account", "0", stdin="n\n")  # fmt: skip
    assert declined.returncode == 1
    assert consortium.registry.functions.proposalCount().call() == count_before  # nothing sent

    proposed = run_cli(env, "members", "propose", "admit", "--address", newcomer, "--role", "lender",
                       "--name", "Newcomer Credit", "--dev-account", "0", "--yes")  # fmt: skip
    assert proposed.returncode == 0, proposed.stderr
    pid = re.search(r"proposal (\d+): approval recorded", proposed.stdout)
    assert pid, proposed.stdout
    proposal_id = pid.group(1)
    assert re.search(
        rf"│ {proposal_id}\s+│ admit\s+│ {newcomer} │ lender 'Newcomer Credit'\s+│ 1/2\s+│ open", proposed.stdout
    )

    one_line_error(run_cli(env, "members", "execute", proposal_id, "--dev-account", "0", "--yes"), "already approved")
    one_line_error(
        run_cli(env, "members", "approve", proposal_id, "--dev-account", "0", "--yes"), "RegistryAlreadyApproved"
    )
    one_line_error(run_cli(env, "members", "propose", "pause", "--dev-account", "7", "--yes"), "RegistryNotGovernor")
    one_line_error(run_cli(env, "members", "propose", "admit", "--address", newcomer, "--dev-account", "1", "--yes"),
                   "admit needs role")  # fmt: skip
    assert governance.member(consortium.registry, newcomer).status == MemberStatus.NONE

    executed = run_cli(env, "members", "execute", proposal_id, "--dev-account", "1", "--yes")
    assert executed.returncode == 0, executed.stderr
    assert "approval executed" in executed.stdout and "executed" in executed.stdout
    m = governance.member(consortium.registry, newcomer)
    assert (m.role, m.status, m.name) == (Role.LENDER, MemberStatus.ACTIVE, "Newcomer Credit")

    for command, status in (("suspend", MemberStatus.SUSPENDED), ("reinstate", MemberStatus.ACTIVE)):
        first = run_cli(env, "members", command, newcomer, "--dev-account", "2", "--yes")
        assert first.returncode == 0, first.stderr
        assert governance.member(consortium.registry, newcomer).status != status  # one vote of two
        next_id = re.search(r"proposal (\d+):", first.stdout).group(1)  # type: ignore[union-attr]
        second = run_cli(env, "members", "approve", next_id, "--dev-account", "0", "--yes")
        assert second.returncode == 0, second.stderr
        assert governance.member(consortium.registry, newcomer).status == status

    listed = run_cli(env, "members", "list")
    assert listed.returncode == 0, listed.stderr
    assert re.search(rf"{newcomer} │ Newcomer Credit\s+│ lender\s+│ active", listed.stdout), listed.stdout
    assert re.search(rf"{accounts[0].address} │ Governor 1\s+│ governor\s+│ active", listed.stdout)
    assert "threshold 2 of 3 active governors" in listed.stdout
    assert re.search(r"│ reinstate\s+│ " + newcomer + r" │\s+│ 2/2\s+│ executed", listed.stdout)


# ---------------------------------------------------------------------------------------------------- import


def make_csv(path: Path, rows: int, bad_every: int, seed: int = 11) -> dict[int, str]:
    """A CSV of loan histories; every `bad_every`-th row is broken in one of several ways. Returns
    {row number: expected error code} of the bad rows (row 1 is the header)."""
    rng = random.Random(seed)
    columns = ["record_id", "event_type", "id_type", "id_number", "loan_number", "occurred_on",
               "principal_fen", "outstanding_fen", "overdue_fen", "days_past_due"]  # fmt: skip
    breakers = [
        (
            "invalid_check_character",
            lambda r: r.update(id_number=r["id_number"][:17] + ("0" if r["id_number"][17] != "0" else "1")),
        ),
        ("invalid_amount", lambda r: r.update(principal_fen="-500")),
        ("invalid_amount", lambda r: r.update(principal_fen="12.5")),
        ("future_date", lambda r: r.update(occurred_on=(dt.date.today() + dt.timedelta(days=30)).isoformat())),
        ("invalid_date", lambda r: r.update(occurred_on="2024-02-30")),
        ("invalid_event_type", lambda r: r.update(event_type="loan_forgiven")),
        ("invalid_row", None),
    ]
    bad: dict[int, str] = {}
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(columns)
        for i in range(rows):
            row_number = i + 2
            opened = dt.date(2021, 1, 1) + dt.timedelta(days=rng.randrange(1500))
            record = {
                "record_id": f"HIST-{i:06d}", "event_type": "loan_opened", "id_type": "resident_id",
                "id_number": sample_resident_id(rng), "loan_number": f"L-{i:06d}", "occurred_on": opened.isoformat(),
                "principal_fen": str(rng.randrange(100_000, 5_000_000)), "outstanding_fen": "", "overdue_fen": "",
                "days_past_due": "",
            }  # fmt: skip
            if i % bad_every == bad_every - 1:
                code, breaker = breakers[(i // bad_every) % len(breakers)]
                bad[row_number] = code
                if breaker is None:
                    out.writerow([record[c] for c in columns][:5])  # a short row
                    continue
                breaker(record)
            out.writerow([record[c] for c in columns])
    return bad


def chain_event_count(consortium: Consortium, lender: str) -> int:
    logs = rpc(consortium.w3, "eth_getLogs", [{
        "address": consortium.deployment.ledger, "fromBlock": hex(consortium.deployment.block), "toBlock": "latest",
        "topics": [CREDIT_EVENT_TOPIC, None, "0x" + "00" * 12 + lender[2:].lower()],
    }])  # fmt: skip
    return len(logs)


@pytest.mark.slow
def test_import_10k_rows_with_bad_rows(tmp_path: Path, consortium: Consortium, accounts: list[LocalAccount]) -> None:
    lender = accounts[3]
    env = gateway_env(tmp_path, consortium, lender)
    source = tmp_path / "history.csv"
    bad = make_csv(source, 10_000, bad_every=33)  # 303 bad rows, ~3 %
    good = 10_000 - len(bad)

    result = run_cli(env, "import", str(source), timeout=600)
    line = one_line_error(result, f"{len(bad)} of 10000 rows not recorded", "history.errors.csv")
    assert "fix them" in line
    with (tmp_path / "history.errors.csv").open(newline="") as fh:
        errors = list(csv.DictReader(fh))
    assert {int(e["row"]): e["code"] for e in errors} == bad
    assert all(e["message"] for e in errors)
    with source.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    bad_ids = {rows[n - 2].get("id_number") or "" for n in bad} - {""}
    text = (tmp_path / "history.errors.csv").read_text()
    assert bad_ids and [i for i in bad_ids if i in text] == []  # the error file never repeats an ID
    assert re.search(rf"confirmed on chain\s+│ {good}", result.stdout), result.stdout

    assert chain_event_count(consortium, lender.address) == good
    with sqlite3.connect(tmp_path / "gw" / "gateway.db") as db:
        statuses = dict(db.execute("SELECT status, count(*) FROM outbox WHERE kind = 'event' GROUP BY status"))
    assert statuses == {"confirmed": good}

    again = run_cli(env, "import", str(source), timeout=600)
    one_line_error(again, f"{len(bad)} of 10000 rows not recorded")
    assert re.search(rf"duplicates \(already stored\)\s+│ {good}", again.stdout), again.stdout
    assert re.search(r"accepted \(new\)\s+│ 0 ", again.stdout), again.stdout
    assert chain_event_count(consortium, lender.address) == good  # nothing twice


def test_import_refuses_a_file_with_wrong_columns(
    tmp_path: Path, consortium: Consortium, accounts: list[LocalAccount]
) -> None:
    env = gateway_env(tmp_path, consortium, accounts[3])
    source = tmp_path / "wrong.csv"
    source.write_text("record_id,event_type,borrower\nA,loan_opened,x\n")
    one_line_error(run_cli(env, "import", str(source)), "unknown column 'borrower'")
    one_line_error(run_cli(env, "import", str(tmp_path / "missing.csv")), "not found")
    with sqlite3.connect(tmp_path / "gw" / "gateway.db") as db:
        assert db.execute("SELECT count(*) FROM outbox").fetchone() == (0,)


# ---------------------------------------------------------------------------------------------------- doctor


@pytest.mark.slow
def test_doctor_healthy_wrong_address_and_non_member(
    tmp_path: Path, consortium: Consortium, accounts: list[LocalAccount]
) -> None:
    healthy = run_cli(gateway_env(tmp_path, consortium, accounts[3], "ok"), "doctor")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "FAIL" not in healthy.stdout and "Lender A is an active lender" in healthy.stdout
    assert "share set v1: 2-of-3, 3 answering" in healthy.stdout

    outsider = run_cli(gateway_env(tmp_path, consortium, accounts[13], "outsider"), "doctor")
    line = one_line_error(outsider, "signer membership", accounts[13].address, "not a member", "active lender")
    assert "contracts" not in line

    env = gateway_env(tmp_path, consortium, accounts[3], "moved")
    deployment_file = Path(env["CREDITSHARE_HOME"]) / "deployment.json"
    data = json.loads(deployment_file.read_text())
    data["registry"] = accounts[15].address  # an account, not a contract
    deployment_file.write_text(json.dumps(data))
    wrong = run_cli(env, "doctor")
    line = one_line_error(wrong, "contracts", accounts[15].address, "CREDITSHARE_DEPLOYMENT_FILE")
    assert "skip" in wrong.stdout  # membership needs the contracts: skipped, not a second failure

    env["CREDITSHARE_RPC_URL"] = f"http://127.0.0.1:{free_port()}"
    down = run_cli(env, "doctor")
    assert down.returncode == 1
    assert "chain: no chain node answers" in down.stderr


# ---------------------------------------------------------------------------------------------------- report, verify


@pytest.mark.slow
def test_report_and_verify_from_the_terminal(
    tmp_path: Path, consortium: Consortium, accounts: list[LocalAccount]
) -> None:
    borrower = "11010519491231002X"
    record = {"record_id": "R-1", "event_type": "loan_opened", "id_type": "resident_id", "id_number": borrower,
              "loan_number": "LN-1", "occurred_on": "2026-01-05", "principal_fen": 5_000_000}  # fmt: skip
    source = tmp_path / "one.csv"
    with source.open("w", newline="") as fh:
        out = csv.DictWriter(fh, fieldnames=list(record))
        out.writeheader()
        out.writerow(record)
    lender_a = gateway_env(tmp_path, consortium, accounts[3], "a")
    assert run_cli(lender_a, "import", str(source)).returncode == 0

    lender_b = gateway_env(tmp_path, consortium, accounts[4], "b")  # another lender's gateway asks
    shown = run_cli(lender_b, "report", "--id-number", borrower.lower(), "--consent-ref", "CONSENT-9")
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"active loans\s+│ 1 at 1 lender", shown.stdout), shown.stdout
    assert re.search(r"Lender A\s+│ 2026-01-05 │ 50,000.00\s+│ 50,000.00\s+│ active", shown.stdout), shown.stdout
    assert borrower not in shown.stdout  # the id is never echoed
    inquiries = rpc(consortium.w3, "eth_getLogs", [{"address": consortium.deployment.ledger,
        "fromBlock": hex(consortium.deployment.block), "toBlock": "latest", "topics": [INQUIRY_TOPIC]}])  # fmt: skip
    assert len(inquiries) == 1  # the CLI report was recorded on chain as an inquiry
    one_line_error(run_cli(lender_b, "report", "--id-number", "110105194912310021", "--consent-ref", "C"), "check")
    one_line_error(run_cli(lender_b, "report", "--id-number", borrower, "--consent-ref", "C", "--purpose", "curiosity"),
                   "--purpose")  # fmt: skip

    request = tmp_path / "verify.json"
    request.write_text(json.dumps({"lender": accounts[3].address, "record": record}))
    verified = run_cli(lender_b, "verify", str(request))
    assert verified.returncode == 0, verified.stderr
    assert re.search(r"match\s+│ True", verified.stdout)
    request.write_text(json.dumps({"lender": accounts[3].address, "record": {**record, "principal_fen": 500_000}}))
    one_line_error(run_cli(lender_b, "verify", str(request)), "was not recorded", "tampered")
    request.write_text("{not json")
    one_line_error(run_cli(lender_b, "verify", str(request)), "is not a verify request")

    audit = run_cli(lender_b, "audit", "verify")
    assert audit.returncode == 0 and "intact" in audit.stdout


@pytest.mark.slow
def test_cli_beside_a_running_gateway_starts_no_second_follower(
    tmp_path: Path, consortium: Consortium, accounts: list[LocalAccount]
) -> None:
    """While `creditshare serve` follows the chain into its database, `sync` refuses to race it and `report`
    answers from the index the gateway keeps (two followers used to write the same cursor)."""
    env_obj = GatewayEnv(tmp_path / "gw", accounts[4], str(consortium.w3.provider.endpoint_uri), consortium.deployment)  # type: ignore[attr-defined]
    env = {**env_obj.environ(), "COLUMNS": "200"}
    gateway = GatewayProcess(env_obj).start()
    try:
        wait_until(lambda: httpx.get(env_obj.url + "/readyz", timeout=10).json().get("indexed_block"), timeout=60)
        one_line_error(run_cli(env, "sync"), "follows the chain into this database")
        shown = run_cli(env, "report", "--id-number", "11010519491231002X", "--consent-ref", "C-1")
        assert shown.returncode == 0, shown.stderr
        assert "the running gateway keeps this database's index" in shown.stderr
    finally:
        gateway.stop()
    synced = run_cli(env, "sync")  # the gateway stopped and gave its lease up: the CLI may follow now
    assert synced.returncode == 0 and "indexed to block" in synced.stdout, synced.stderr


@pytest.mark.slow
def test_sync_follow_checkpoints_the_wal(tmp_path: Path, consortium: Consortium, accounts: list[LocalAccount]) -> None:
    """`sync --follow` writes the index through SQLite's WAL with auto-checkpoints off: it must checkpoint itself,
    or the main database file never gets the rows (and the WAL grows without end)."""
    env = gateway_env(tmp_path, consortium, accounts[3])
    database = tmp_path / "gw" / "gateway.db"
    follower = subprocess.Popen([*CLI, "sync", "--follow"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: database.exists(), timeout=60)
        consortium.record(accounts[3], [credit_item() for _ in range(5)])

        def in_main_file() -> int:  # read the main file alone, ignoring the WAL
            with sqlite3.connect(f"file:{database}?immutable=1", uri=True) as db:
                try:
                    return int(db.execute("SELECT count(*) FROM idx_events").fetchone()[0])
                except sqlite3.DatabaseError:
                    return 0

        assert wait_until(lambda: in_main_file() >= 5, timeout=60)
    finally:
        follower.terminate()
        follower.wait(timeout=30)


# ---------------------------------------------------------------------------------------------------- signers


@pytest.mark.slow
def test_signers_add_list_remove_and_a_gateway_uses_only_its_own(tmp_path: Path, consortium: Consortium) -> None:
    lender, other = consortium.accounts[3], consortium.accounts[4]
    env = gateway_env(tmp_path, consortium, lender)
    out = tmp_path / "signer-1.json"
    added = run_cli(env, "signers", "add", "--out", str(out))
    assert added.returncode == 0, added.stderr
    match = re.search(r"lane 1: (0x[0-9a-fA-F]{40})", added.stdout)
    assert match is not None, added.stdout
    address = match.group(1)
    assert json.loads(out.read_text())["address"].lower() == address[2:].lower()
    assert out.stat().st_mode & 0o777 == 0o600
    assert signers.signer_record(consortium.registry, address) == signers.SignerRecord(address, lender.address, 1, True)
    assert consortium.w3.eth.get_balance(address) == Web3.to_wei(1, "ether")  # gas money: Ganache prices gas
    assert address in run_cli(env, "signers", "list").stdout

    one_line_error(run_cli(env, "signers", "add", "--out", str(out)), str(out), "exists")
    taken = tmp_path / "taken.json"
    one_line_error(run_cli(env, "signers", "add", "--lane", "1", "--out", str(taken)), "RegistryLaneTaken")
    assert not taken.exists()  # a key the registry refused is not kept
    one_line_error(run_cli(env, "signers", "add", "--lane", "17", "--out", str(taken)), "--lane", "1-16")

    # Another lender's gateway given this keystore refuses to start, saying whose key it is.
    other_env = {**gateway_env(tmp_path, consortium, other, "other"), "CREDITSHARE_SIGNER_KEYSTORES": str(out)}
    one_line_error(run_cli(other_env, "serve", timeout=60), address, f"enlisted for {lender.address}")

    one_line_error(run_cli(env, "signers", "remove", "nobody"), "not an address")
    assert run_cli(env, "signers", "remove", address).returncode == 0
    assert signers.signer_record(consortium.registry, address).active is False
    assert address not in run_cli(env, "signers", "list").stdout
