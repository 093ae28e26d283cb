"""A report end to end on every engine (Ganache and anvil): lender B's gateway records a loan and an overdue, lender
A's gateway indexes them and answers a report that cites both at the very logs the node holds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from creditshare.core.clock import today_cst
from creditshare.devtools.devchain import DevChain
from tests.support.engines import on_every_engine
from tests.support.gateways import GatewayEnv, GatewayProcess, wait_until
from tests.support.holders import subject_key_of
from tests.support.records import build_record, numbered_resident_id, unique_id
from tests.support.report import LENDER_A, LENDER_B, LENDER_NAMES, report_consortium

pytestmark = [on_every_engine, pytest.mark.slow]


def test_report_end_to_end_cites_what_the_node_holds(
    devchain: DevChain, w3: Web3, accounts: list[LocalAccount], tmp_path: Path, gateways: list[GatewayProcess]
) -> None:
    consortium = report_consortium(w3, accounts)
    envs = {
        i: GatewayEnv(tmp_path / f"gw-{i}", accounts[i], devchain.rpc_url, consortium.deployment)
        for i in (LENDER_A, LENDER_B)
    }
    submit_key = envs[LENDER_B].add_client("loans", "submit")
    query_key = envs[LENDER_A].add_client("underwriting", "query")
    for env in envs.values():
        gateways.append(GatewayProcess(env).start())
    a, b = (httpx.Client(base_url=envs[i].url, timeout=30) for i in (LENDER_A, LENDER_B))
    id_number = numbered_resident_id(424)
    opened_on, late_on = today_cst() - dt.timedelta(days=70), today_cst() - dt.timedelta(days=5)
    loan = {"id_type": "resident_id", "id_number": id_number, "loan_number": unique_id("L")}
    records = [
        build_record(**loan, occurred_on=opened_on.isoformat(), principal_fen=5_000_000),
        build_record(**loan, record_id=unique_id(), event_type="overdue", occurred_on=late_on.isoformat(),
                     principal_fen=..., outstanding_fen=4_000_000, overdue_fen=200_000, days_past_due=35),
    ]  # fmt: skip

    accepted = b.post("/v1/events", json=records, headers={"Authorization": f"Bearer {submit_key}"})
    assert accepted.status_code == 200, accepted.text

    def status(event_id: int) -> dict[str, object] | None:
        got = b.get(f"/v1/events/{event_id}", headers={"Authorization": f"Bearer {submit_key}"}).json()
        return got if got["status"] == "confirmed" else None

    confirmed = [wait_until(lambda e=r["event_id"]: status(e), 60) for r in accepted.json()["results"]]
    last_block = max(int(s["block_number"]) for s in confirmed)  # type: ignore[call-overload]
    wait_until(lambda: (a.get("/readyz").json().get("indexed_block") or -1) >= last_block, 60)
    response = a.post(
        "/v1/reports",
        json={"id_type": "resident_id", "id_number": id_number, "purpose": "loan_application", "consent_ref": "C-1"},
        headers={"Authorization": f"Bearer {query_key}"},
    )

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["subject_key"] == "0x" + subject_key_of("resident_id", id_number).hex()
    (entry,) = report["loans"]
    assert entry["lender"] == accounts[LENDER_B].address.lower() and entry["lender_name"] == LENDER_NAMES[1]
    assert (entry["status"], entry["days_past_due"], entry["events"]) == ("overdue", 35, 2)
    assert report["grade"] == "C"
    cited = [(e["tx_hash"], e["log_index"], e["block_number"]) for e in report["evidence"]]
    assert cited == [(s["tx_hash"], s["log_index"], s["block_number"]) for s in confirmed]
    for tx_hash, log_index, block in cited:  # each cited log is on this node, where the report says
        receipt = w3.eth.get_transaction_receipt(tx_hash)
        assert receipt["blockNumber"] == block and any(log["logIndex"] == log_index for log in receipt["logs"])
