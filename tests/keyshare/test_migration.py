"""The cut-over to subject keys v2 on a live gateway: a lender's history recorded under v1 keys (the consortium
secret), then `creditshare keys migrate-subjects` on v2, and every report is the same as before — only the keys
and the chain positions it cites differ. Real gateway processes, real holders, real chain."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount
from web3 import Web3

from creditshare.core.secrets import DEV_CONSORTIUM_SECRET_HEX, ConsortiumSecret
from creditshare.devtools.devchain import DevChain
from creditshare.devtools.localnet import GatewayEnv, GatewayProcess, wait_until
from creditshare.domain.identity import HmacKeys, normalise
from tests.support import Consortium
from tests.support.holders import ensure_keyshares, subject_key_of
from tests.support.records import numbered_resident_id

LENDER = 18  # this module's lender (dev account)
BORROWERS = [numbered_resident_id(n) for n in range(800, 806)]


def history() -> list[dict[str, Any]]:
    """Per borrower: a loan opened, repaid once, then overdue (longer for later borrowers); borrower 0's repayment
    corrected; borrower 5 settled."""
    records: list[dict[str, Any]] = []
    for i, id_number in enumerate(BORROWERS):
        base = {"id_type": "resident_id", "id_number": id_number, "loan_number": f"MIG-L{i}"}
        records += [
            {**base, "record_id": f"MIG-{i}-open", "event_type": "loan_opened", "occurred_on": "2025-01-05",
             "principal_fen": 1_000_000 * (i + 1)},
            {**base, "record_id": f"MIG-{i}-repay", "event_type": "repayment", "occurred_on": "2025-02-05",
             "outstanding_fen": 900_000 * (i + 1)},
        ]  # fmt: skip
        if i == 5:
            records.append(
                {**base, "record_id": f"MIG-{i}-settle", "event_type": "settled", "occurred_on": "2025-03-05"}
            )
        else:
            records.append(
                {**base, "record_id": f"MIG-{i}-late", "event_type": "overdue", "occurred_on": "2025-03-20",
                 "outstanding_fen": 900_000 * (i + 1), "overdue_fen": 100_000, "days_past_due": 10 + 20 * i}
            )  # fmt: skip
    records.append(
        {"record_id": "MIG-0-repay-fix", "event_type": "repayment", "id_type": "resident_id", "id_number": BORROWERS[0],
         "loan_number": "MIG-L0", "occurred_on": "2025-02-05", "outstanding_fen": 850_000, "corrects": "MIG-0-repay"}
    )  # fmt: skip
    return records


def settle(api: httpx.Client, event_ids: list[int]) -> int:
    """Wait until every item is confirmed; returns the highest block they landed in."""

    def confirmed() -> int | None:
        bodies = [api.get(f"/v1/events/{i}").json() for i in event_ids]
        assert all(b["status"] != "failed" for b in bodies), bodies
        return max(b["block_number"] for b in bodies) if all(b["status"] == "confirmed" for b in bodies) else None

    return wait_until(confirmed, timeout=90)


def reports(env: GatewayEnv, api: httpx.Client, block: int) -> dict[str, dict[str, Any]]:
    wait_until(lambda: (httpx.get(env.url + "/readyz").json().get("indexed_block") or 0) >= block, timeout=60)
    out = {}
    for n, id_number in enumerate(BORROWERS):
        body = {"id_type": "resident_id", "id_number": id_number, "purpose": "loan_application", "consent_ref": f"R{n}"}
        answer = api.post("/v1/reports", json=body)
        assert answer.status_code == 200, answer.text
        out[id_number] = answer.json()
    return out


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """A report without what a re-recording must change: keys, chain positions, as-of and the inquiry id."""
    loans = [{k: v for k, v in loan.items() if k != "loan_key"} for loan in report["loans"]]
    return {"summary": report["summary"], "grade": report["grade"], "reasons": report["reasons"], "loans": loans}


def test_migrate_subjects_keeps_every_report_identical(
    tmp_path: Path, w3: Web3, devchain: DevChain, accounts: list[LocalAccount]
) -> None:
    consortium = Consortium.deploy(w3, accounts, governors=accounts[:3], threshold=2)
    consortium.admit_lender(accounts[LENDER], "Migrating Lender")
    ensure_keyshares(consortium.deployment)  # holders up and published: step 1 of the cut-over
    v1 = {"CREDITSHARE_SUBJECT_KEYS": "hmac"}
    env = GatewayEnv(
        tmp_path / "gw", accounts[LENDER], devchain.rpc_url, consortium.deployment, legacy_secret=True, extra=v1
    )
    key = env.add_client("ops", "submit,query")
    api = httpx.Client(base_url=env.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)

    process = GatewayProcess(env).start()
    try:
        answer = api.post("/v1/events", json=history()).json()
        assert answer["accepted"] == len(history()), answer
        block = settle(api, [r["event_id"] for r in answer["results"]])
        before = reports(env, api, block)
    finally:
        process.stop()
    secret = ConsortiumSecret(1, bytes.fromhex(DEV_CONSORTIUM_SECRET_HEX))
    for id_number, report in before.items():  # the history really was on v1 keys
        assert (
            report["subject_key"]
            == "0x" + HmacKeys(secret).subject("resident_id", normalise("resident_id", id_number)).hex()
        )

    env.extra["CREDITSHARE_SUBJECT_KEYS"] = "oprf"  # step 2: switch; the old secret stays for the migration
    migrate = subprocess.run(
        [sys.executable, "-m", "creditshare.cli", "keys", "migrate-subjects", "--timeout", "120"],
        env={**env.environ(), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    assert f"v1 records found: {len(history())}; re-recorded now: {len(history())}" in migrate.stdout, migrate.stdout

    again = subprocess.run(
        [sys.executable, "-m", "creditshare.cli", "keys", "migrate-subjects"],
        env=env.environ(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0 and f"already re-recorded: {len(history())}" in again.stdout, (
        again.stdout + again.stderr
    )

    process = GatewayProcess(env).start()
    try:
        head = w3.eth.block_number
        after = reports(env, api, head)
    finally:
        process.stop()
        api.close()
    for id_number in BORROWERS:
        assert after[id_number]["subject_key"] == "0x" + subject_key_of("resident_id", id_number).hex()
        assert comparable(after[id_number]) == comparable(before[id_number]), id_number
    assert {r["summary"]["active_loans"] for r in after.values()} == {0, 1}  # the comparison saw real content
    assert os.environ.get("CREDITSHARE_SUBJECT_KEYS") is None
