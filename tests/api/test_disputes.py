"""Disputes over real HTTP on a real chain: any lender opens one for a borrower on another lender's record, the
report marks the event at once, only the recording lender resolves it (upheld with a reason, or corrected by an
indexed correction), 20 days without an answer make it overdue, and /metrics counts them."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from web3 import Web3

from creditshare.chain.artifacts import LEDGER, load_artifact
from creditshare.chain.disputes import DisputeSender
from creditshare.chain.rpc import contract_at
from creditshare.chain.transactor import Transactor
from creditshare.core.crypto import RecordCipher
from creditshare.core.db import make_engine, session_factory
from creditshare.core.db.tables import BorrowerObjection
from creditshare.devtools.devchain import DevChain
from creditshare.devtools.samples import numbered_resident_id
from creditshare.disputes.desk import DisputeDesk
from creditshare.domain.disputes import DisputeState
from creditshare.read.audit import AuditLog
from tests.support import Consortium
from tests.support.gateways import GatewayEnv, GatewayProcess, wait_until
from tests.support.records import build_record

RECORDER, OPENER = 6, 9  # dev accounts: the lender whose records are disputed, the lender a borrower objects at
TODAY = dt.date.today()


@dataclass
class Desk:
    env: GatewayEnv
    keys: dict[str, str]

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, scope: str = "disputes"
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[scope]}"}
        return httpx.request(method, self.env.url + path, json=body, headers=headers, timeout=60)

    def sql(self, statement: str, *args: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.env.home / "gateway.db", timeout=10) as db:
            return list(db.execute(statement, args))

    def indexed(self) -> int:
        return int(httpx.get(self.env.url + "/readyz", timeout=10).json().get("indexed_block") or 0)


@dataclass
class Pair:
    c: Consortium
    recorder: Desk
    opener: Desk

    def caught_up(self) -> None:
        head = self.c.w3.eth.block_number
        wait_until(lambda: min(self.recorder.indexed(), self.opener.indexed()) >= head, 30)

    def loan(self, n: int) -> tuple[str, dict[str, Any]]:
        """A person with a loan at the recorder; returns their ID and the record's status (with its hash)."""
        id_number = numbered_resident_id(800 + n)
        record = build_record(id_number=id_number, loan_number=f"LN-D{n}", occurred_on=TODAY.isoformat())
        accepted = self.recorder.call("POST", "/v1/events", [record], scope="submit")
        assert accepted.status_code in (200, 202), accepted.text
        event_id = accepted.json()["results"][0]["event_id"]
        status = wait_until(
            lambda: (
                (b := self.recorder.call("GET", f"/v1/events/{event_id}", scope="submit").json())["status"]
                == "confirmed"
                and b
            ),
            30,
        )
        self.caught_up()
        return id_number, {**status, "record": record}


@pytest.fixture(scope="module")
def pair(
    w3: Web3, accounts: list[LocalAccount], devchain: DevChain, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    c = Consortium.deploy(w3, accounts, governors=accounts[:3], threshold=2)
    c.admit_lender(accounts[RECORDER], "Recording Lender")
    c.admit_lender(accounts[OPENER], "Opening Lender")
    desks, processes = [], []
    for who, name in ((RECORDER, "recorder"), (OPENER, "opener")):
        env = GatewayEnv(
            home=tmp_path_factory.mktemp(name), lender=accounts[who], rpc_url=devchain.rpc_url, deployment=c.deployment
        )
        keys = {s: env.add_client(f"{name}-{s}", s) for s in ("submit", "disputes", "query", "borrower_service")}
        processes.append(GatewayProcess(env).start())
        desks.append(Desk(env, keys))
    try:
        yield Pair(c, desks[0], desks[1])
    finally:
        for process in processes:
            process.stop()


def person(id_number: str, **more: Any) -> dict[str, Any]:
    return {"id_type": "resident_id", "id_number": id_number, "verification_ref": "KYC-D", **more}


def test_any_lender_opens_the_report_marks_it_only_the_recorder_resolves(pair: Pair) -> None:
    id_number, recorded = pair.loan(1)
    opened = pair.opener.call(
        "POST", "/v1/disputes", person(id_number, record_hash=recorded["record_hash"], statement="这笔贷款不是我借的")
    )
    assert opened.status_code == 201, opened.text
    dispute = opened.json()
    assert (dispute["state"], dispute["record_hash"], dispute["reference"][:4]) == (
        "open",
        recorded["record_hash"],
        "OBJ-",
    )
    assert dt.datetime.fromisoformat(dispute["due_at"]) - dt.datetime.fromisoformat(
        dispute["opened_at"]
    ) == dt.timedelta(days=20)
    assert pair.c.ledger.functions.isDisputed(
        pair.c.accounts[RECORDER].address, bytes.fromhex(recorded["record_hash"][2:])
    ).call()
    # The form stays with the opener, the statement sealed.
    (form,) = pair.opener.sql("SELECT state, statement, dispute_id FROM borrower_objections")
    assert form[0] == "open" and form[2] == dispute["id"] and "借" not in form[1]
    pair.caught_up()

    # Every gateway knows it by the same id: the opener as "opened", the recorder as "against_me".
    mine = pair.opener.call("GET", "/v1/disputes?role=opened").json()["disputes"]
    theirs = pair.recorder.call("GET", "/v1/disputes?role=against_me&state=open").json()["disputes"]
    assert [d["id"] for d in mine] == [d["id"] for d in theirs] == [dispute["id"]]
    assert mine[0]["reference"] == dispute["reference"] and theirs[0]["reference"] is None
    assert theirs[0]["opened_by"] == pair.c.accounts[OPENER].address.lower()

    # The report marks the event at once, and its grade says the disputed loan was kept.
    report = pair.opener.call(
        "POST",
        "/v1/reports",
        {"id_type": "resident_id", "id_number": id_number, "purpose": "loan_application", "consent_ref": "C-1"},
        scope="query",
    ).json()
    assert [loan["disputed"] for loan in report["loans"]] == [True]
    assert report["summary"]["open_disputes"] == 1
    assert report["reasons"][-1]["code"] == "DISPUTED_KEPT"

    # A second opening of the same record, a non-owner resolving, bad ids: refused, nothing changes.
    again = pair.opener.call(
        "POST", "/v1/disputes", person(id_number, record_hash=recorded["record_hash"], statement="again")
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "dispute_already_open"
    upheld = {"outcome": "upheld", "reason": "verified_with_source"}
    stranger = pair.opener.call("POST", f"/v1/disputes/{dispute['id']}/resolve", upheld)
    assert stranger.status_code == 403 and stranger.json()["error"]["code"] == "not_record_owner"
    for bad_id, status, code in (("nope", 422, "invalid_request"), ("1-999", 404, "dispute_not_found")):
        response = pair.recorder.call("POST", f"/v1/disputes/{bad_id}/resolve", upheld)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    no_reason = pair.recorder.call("POST", f"/v1/disputes/{dispute['id']}/resolve", {"outcome": "upheld"})
    assert no_reason.status_code == 422 and no_reason.json()["error"]["code"] == "reason_required"
    assert len(pair.opener.sql("SELECT id FROM borrower_objections")) == 1

    resolved = pair.recorder.call("POST", f"/v1/disputes/{dispute['id']}/resolve", upheld)
    assert resolved.status_code == 200, resolved.text
    assert (resolved.json()["state"], resolved.json()["outcome"]) == ("resolved", "upheld")
    pair.caught_up()
    seen = pair.opener.call("GET", f"/v1/disputes/{dispute['id']}").json()
    assert (seen["state"], seen["outcome"], seen["detail"]) == ("resolved", "upheld", "verified_with_source")
    assert seen["resolved_by"] == pair.c.accounts[RECORDER].address.lower()
    twice = pair.recorder.call("POST", f"/v1/disputes/{dispute['id']}/resolve", upheld)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "dispute_not_open"
    after = pair.opener.call(
        "POST",
        "/v1/reports",
        {"id_type": "resident_id", "id_number": id_number, "purpose": "loan_application", "consent_ref": "C-2"},
        scope="query",
    ).json()
    assert [loan["disputed"] for loan in after["loans"]] == [False] and "DISPUTED_KEPT" not in {
        r["code"] for r in after["reasons"]
    }


def test_corrected_by_an_indexed_correction_of_the_record(pair: Pair) -> None:
    id_number, recorded = pair.loan(2)
    opened = pair.opener.call(
        "POST", "/v1/borrower/objections",
        person(id_number, record_hash=recorded["record_hash"], statement="本金应为三万元"),
        scope="borrower_service",
    )  # fmt: skip
    assert opened.status_code == 201, opened.text
    dispute_id = opened.json()["dispute_id"]
    pair.caught_up()  # the recorder answers from its index
    unknown = pair.recorder.call(
        "POST", f"/v1/disputes/{dispute_id}/resolve", {"outcome": "corrected", "correction_record_id": "no-such"}
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_correction"

    fix = {**recorded["record"], "record_id": recorded["record"]["record_id"] + "-fix", "principal_fen": 3_000_000}
    fix["corrects"] = recorded["record"]["record_id"]
    accepted = pair.recorder.call("POST", "/v1/events", [fix], scope="submit")
    assert accepted.status_code in (200, 202), accepted.text
    fix_id = accepted.json()["results"][0]["event_id"]
    wait_until(
        lambda: pair.recorder.call("GET", f"/v1/events/{fix_id}", scope="submit").json()["status"] == "confirmed", 30
    )
    pair.caught_up()
    done = pair.recorder.call(
        "POST", f"/v1/disputes/{dispute_id}/resolve", {"outcome": "corrected", "correction_record_id": fix["record_id"]}
    )
    assert done.status_code == 200, done.text
    correction_hash = pair.recorder.call("GET", f"/v1/events/{fix_id}", scope="submit").json()["record_hash"]
    pair.caught_up()
    seen = pair.recorder.call("GET", f"/v1/disputes/{dispute_id}").json()
    assert (seen["state"], seen["outcome"], seen["detail"]) == ("resolved", "corrected", correction_hash)
    resolved = pair.recorder.call("GET", "/v1/disputes?role=against_me&state=resolved").json()["disputes"]
    assert dispute_id in {d["id"] for d in resolved}


def test_unanswered_for_20_days_is_overdue_and_counted_in_metrics(pair: Pair) -> None:
    id_number, recorded = pair.loan(3)
    opened = pair.opener.call(
        "POST", "/v1/disputes", person(id_number, record_hash=recorded["record_hash"], statement="逾期记录有误")
    )
    assert opened.status_code == 201, opened.text
    dispute_id = opened.json()["id"]
    pair.caught_up()

    # The recorder's index, read with a clock 20 days and a minute later: the dispute is overdue.
    engine = make_engine(f"sqlite:///{pair.recorder.env.home / 'gateway.db'}")
    try:
        factory = session_factory(engine)
        ledger = contract_at(pair.c.w3, load_artifact(LEDGER), pair.c.deployment.ledger)
        opened_at = dt.datetime.fromisoformat(opened.json()["opened_at"])

        def desk_at(now: dt.datetime) -> DisputeDesk:
            sender = DisputeSender(ledger, Transactor(pair.c.w3, pair.c.accounts[RECORDER]))
            return DisputeDesk(
                factory, sender, pair.c.accounts[RECORDER].address, None,  # type: ignore[arg-type]
                RecordCipher(bytes(32)), AuditLog(factory), clock=lambda: now,
            )  # fmt: skip

        at_day_19 = desk_at(opened_at + dt.timedelta(days=19))
        at_day_21 = desk_at(opened_at + dt.timedelta(days=20, minutes=1))
        assert at_day_19.get(dispute_id).state == DisputeState.OPEN
        assert at_day_21.get(dispute_id).state == DisputeState.OVERDUE
        assert dispute_id in {d.id for d in at_day_21.find("all", DisputeState.OVERDUE)}
        assert dispute_id not in {d.id for d in at_day_19.find("all", DisputeState.OVERDUE)}
        assert at_day_21.counts()[DisputeState.OVERDUE.value] >= 1
        with factory() as session:
            assert session.scalars(select(BorrowerObjection)).all() == []  # the form is at the opener only
    finally:
        engine.dispose()

    metrics = httpx.get(pair.recorder.env.url + "/metrics", timeout=10).text
    opener = pair.c.accounts[OPENER].address.lower()
    assert f'creditshare_disputes_opened_by_member{{member="{opener}"}}' in metrics
    opened_count = next(
        line
        for line in metrics.splitlines()
        if line.startswith(f'creditshare_disputes_opened_by_member{{member="{opener}"}}')
    )
    assert float(opened_count.split()[-1]) >= 1
    assert 'creditshare_disputes{state="open"}' in metrics and 'creditshare_disputes{state="overdue"} 0.0' in metrics
