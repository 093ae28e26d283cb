"""The borrower self-service API over real HTTP, on a real gateway and chain: a person's own report (who looked
them up, the free-report allowance, an own-report inquiry that never counts as a credit application) and their
objections."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from creditshare.devtools.devchain import DevChain
from creditshare.domain.codec import ItemType
from creditshare.domain.purposes import Purpose
from tests.support import Consortium, credit_item, inquiry_item
from tests.support.gateways import GatewayEnv, GatewayProcess, wait_until
from tests.support.holders import subject_key_of

DESK, OTHER = 16, 17  # dev accounts: the gateway's lender and another lender
# Valid resident IDs (GB 11643 check characters), one person per test: tests may run in any order (pytest-randomly)
# and each own report uses up one of its person's free reports.
PERSON, OBJECTOR, NEIGHBOUR = "110105198505050011", "110105199003070025", "110105197001010011"


@dataclass
class Desk:
    env: GatewayEnv
    keys: dict[str, str]

    def post(self, path: str, body: dict[str, Any], scope: str = "borrower_service") -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[scope]}"}
        return httpx.post(self.env.url + path, json=body, headers=headers, timeout=30)

    def sql(self, statement: str, *args: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.env.home / "gateway.db", timeout=10) as db:
            return list(db.execute(statement, args))

    def indexed(self) -> int:
        return int(httpx.get(self.env.url + "/readyz").json().get("indexed_block") or 0)


@pytest.fixture(scope="module")
def desk(
    w3: Web3, accounts: list[LocalAccount], devchain: DevChain, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Desk]:
    c = Consortium.deploy(w3, accounts, governors=accounts[:3], threshold=2)
    c.admit_lender(accounts[DESK], "Desk Lender")
    c.admit_lender(accounts[OTHER], "Other Lender")
    person, objector, neighbour = (subject_key_of("resident_id", n) for n in (PERSON, OBJECTOR, NEIGHBOUR))
    c.record(
        accounts[DESK],
        [
            credit_item(ItemType.LOAN_OPENED, dt.date(2025, 4, 1), 800_000, subject_key=person),
            credit_item(ItemType.LOAN_OPENED, dt.date(2025, 4, 2), 300_000, subject_key=objector),
        ],
    )
    c.record(
        accounts[OTHER],
        [
            credit_item(ItemType.LOAN_OPENED, dt.date(2025, 5, 1), 500_000, subject_key=person),
            credit_item(ItemType.LOAN_OPENED, dt.date(2025, 5, 1), 500_000, subject_key=objector),
            credit_item(ItemType.LOAN_OPENED, dt.date(2025, 5, 1), 500_000, subject_key=neighbour),
            inquiry_item(int(Purpose.LOAN_APPLICATION), subject_key=person),  # the other lender's credit report
        ],
    )
    head = w3.eth.block_number
    env = GatewayEnv(
        home=tmp_path_factory.mktemp("desk"), lender=accounts[DESK], rpc_url=devchain.rpc_url, deployment=c.deployment
    )
    keys = {scope: env.add_client(f"desk-{scope}", scope) for scope in ("borrower_service", "query")}
    process = GatewayProcess(env).start()
    try:
        running = Desk(env, keys)
        wait_until(lambda: running.indexed() >= head, 30)
        yield running
    finally:
        process.stop()


def me(**changes: str) -> dict[str, str]:
    return {"id_type": "resident_id", "id_number": PERSON, "verification_ref": "KYC-1", **changes}


def own_inquiries(desk: Desk, subject: bytes) -> int:
    """Own-report inquiries about `subject` that the gateway's index holds (that is, on chain)."""
    count = "SELECT count(*) FROM idx_inquiries WHERE subject_key = ? AND purpose = ?"
    return int(desk.sql(count, subject, int(Purpose.OWN_REPORT))[0][0])


def test_own_reports_list_who_looked_count_the_free_ones_and_never_count_as_applications(desk: Desk) -> None:
    first = desk.post("/v1/borrower/report", me())
    assert first.status_code == 200, first.text
    body = first.json()
    assert {loan["lender_name"] for loan in body["loans"]} == {"Desk Lender", "Other Lender"}
    assert [(x["lender_name"], x["purpose"]) for x in body["looked_up_by"]] == [("Other Lender", "loan_application")]
    assert len(body["events"]) == 2 and all(e["record_hash"].startswith("0x") for e in body["events"])
    assert (body["free_reports_left_this_year"], body["fee_may_apply"]) == (1, False)

    subject = bytes.fromhex(body["subject_key"][2:])
    wait_until(lambda: own_inquiries(desk, subject) == 1, 30)  # on chain with purpose 6, and indexed
    second = desk.post("/v1/borrower/report", me(verification_ref="KYC-2")).json()
    assert (second["free_reports_left_this_year"], second["fee_may_apply"]) == (0, False)  # the first counted once
    third = desk.post("/v1/borrower/report", me(verification_ref="KYC-3")).json()  # the second not indexed yet
    assert (third["free_reports_left_this_year"], third["fee_may_apply"]) == (0, True)

    wait_until(lambda: own_inquiries(desk, subject) == 3, 30)
    fourth = desk.post("/v1/borrower/report", me(verification_ref="KYC-4")).json()
    assert (fourth["free_reports_left_this_year"], fourth["fee_may_apply"]) == (0, True)
    looked = [(x["lender_name"], x["purpose"]) for x in fourth["looked_up_by"]]
    assert looked == [("Desk Lender", "own_report")] * 3 + [("Other Lender", "loan_application")]  # newest first

    wait_until(lambda: own_inquiries(desk, subject) == 4, 30)
    credit = desk.post(
        "/v1/reports",
        {"id_type": "resident_id", "id_number": PERSON, "purpose": "loan_application", "consent_ref": "C-9"},
        scope="query",
    ).json()
    assert credit["as_of"]["block_number"] >= fourth["as_of"]["block_number"]
    summary = credit["summary"]
    assert (summary["application_inquiry_lenders_30d"], summary["application_inquiry_lenders_180d"]) == (1, 1)
    assert "INQUIRIES_90D" not in {r["code"] for r in credit["reasons"]}
    assert len([e for e in credit["evidence"] if e["kind"] == "inquiry"]) == 1  # the other lender's application
    audit = "SELECT caller, action, purpose FROM audit_log WHERE subject_key = ? ORDER BY id"
    assert desk.sql(audit, subject.hex()) == [("desk-borrower_service", "report", "own_report")] * 4 + [
        ("desk-query", "report", "loan_application")
    ]


def test_scope_and_bad_input_are_refused(desk: Desk) -> None:
    audited = "SELECT count(*) FROM audit_log"
    before = desk.sql(audited)[0][0]
    refused = desk.post("/v1/borrower/report", me(), scope="query")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    wrong = PERSON[:-1] + ("0" if PERSON[-1] != "0" else "1")
    response = desk.post("/v1/borrower/report", me(id_number=wrong))
    assert response.status_code == 422
    assert (response.json()["error"]["code"], response.json()["error"]["field"]) == (
        "invalid_check_character",
        "id_number",
    )
    unknown_type = desk.post("/v1/borrower/report", me(id_type="passport")).json()["error"]
    assert (unknown_type["code"], unknown_type["field"]) == ("invalid_id_type", "id_type")
    missing = desk.post("/v1/borrower/report", {"id_type": "resident_id", "id_number": PERSON})
    assert missing.status_code == 422  # no verification_ref: the lender must say how it checked who this is
    assert (missing.json()["error"]["code"], missing.json()["error"]["field"]) == (
        "invalid_request",
        "verification_ref",
    )
    assert desk.post("/v1/borrower/report", me(verification_ref="x" * 65)).status_code == 422
    assert desk.post("/v1/borrower/report", me(verification_ref="")).status_code == 422
    assert desk.sql(audited)[0][0] == before  # none of these was answered or audited


def test_objections_are_kept_with_a_20_day_deadline_and_only_for_the_persons_own_events(desk: Desk) -> None:
    mine = me(id_number=OBJECTOR, verification_ref="KYC-OBJ")
    events = desk.post("/v1/borrower/report", mine).json()["events"]
    target = next(e for e in events if e["lender_name"] == "Other Lender")
    filed = desk.post(
        "/v1/borrower/objections", {**mine, "record_hash": target["record_hash"], "statement": "我已全部还清"}
    )
    assert filed.status_code == 201, filed.text
    answer = filed.json()
    filed_at = dt.datetime.fromisoformat(answer["filed_at"])
    assert answer["due_at"] == (filed_at + dt.timedelta(days=20)).date().isoformat()
    assert (answer["deadline_days"], answer["state"], answer["record_hash"]) == (20, "open", target["record_hash"])
    assert answer["reference"].startswith("OBJ-")
    rows = desk.sql(
        "SELECT reference, state, filed_by, statement, subject_key, filed_at, due_at FROM borrower_objections"
    )
    assert [row[:3] for row in rows] == [(answer["reference"], "open", "desk-borrower_service")]
    assert "我已全部还清" not in rows[0][3]  # the statement is sealed at rest
    assert rows[0][4] == subject_key_of("resident_id", OBJECTOR)
    stored_filed, stored_due = (dt.datetime.fromisoformat(str(v)[:26]) for v in rows[0][5:])
    assert stored_due - stored_filed == dt.timedelta(days=20)
    audit = "SELECT caller, action FROM audit_log WHERE subject_key = ? ORDER BY id"
    assert desk.sql(audit, rows[0][4].hex())[-1] == ("desk-borrower_service", "objection")

    neighbour = me(id_number=NEIGHBOUR, verification_ref="KYC-N")
    theirs = desk.post("/v1/borrower/report", neighbour).json()["events"]
    not_mine = desk.post("/v1/borrower/objections", {**mine, "record_hash": theirs[0]["record_hash"], "statement": "x"})
    unknown = desk.post("/v1/borrower/objections", {**mine, "record_hash": "0x" + "ab" * 32, "statement": "x"})
    for response in (not_mine, unknown):
        assert response.status_code == 404 and response.json()["error"]["code"] == "event_not_found"
        assert response.json()["error"]["message"] == unknown.json()["error"]["message"]  # nothing tells them apart
    assert len(desk.sql("SELECT id FROM borrower_objections")) == 1
    too_long = desk.post(
        "/v1/borrower/objections", {**mine, "record_hash": target["record_hash"], "statement": "x" * 2001}
    )
    assert too_long.status_code == 422
    refused = desk.post(
        "/v1/borrower/objections", {**mine, "record_hash": target["record_hash"], "statement": "x"}, scope="query"
    )
    assert refused.status_code == 403 and len(desk.sql("SELECT id FROM borrower_objections")) == 1
