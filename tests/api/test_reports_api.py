"""POST /v1/reports and POST /v1/verify against real `creditshare serve` processes on Ganache, over real HTTP.

This module runs its own consortium and three gateways (dev accounts 7, 8 and 9), not the package's shared
gateway: reports read each gateway's own index, inquiries travel through each gateway's outbox, and the rate
limit needs a gateway configured for it.

* A (account 7) batches slowly (2 s), so a report's inquiry is visibly still pending when the answer arrives.
* B (account 8) records the credit events that reports and verifications look at.
* C (account 9) allows 5 queries per minute per API client.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from creditshare.chain.artifacts import decode_logs
from creditshare.core.api_clients import revoke_client
from creditshare.core.clock import today_cst
from creditshare.core.db import make_engine, session_factory, transaction
from creditshare.devtools.devchain import DevChain
from creditshare.domain.codec import unpack_inquiry_purpose
from creditshare.keyshare.subject_keys import derived_key
from tests.support import Consortium
from tests.support.gateways import GatewayEnv, GatewayProcess, wait_until
from tests.support.holders import subject_key_of
from tests.support.records import numbered_resident_id

#: Dev accounts of this module's lenders (no other test signs with them).
LENDER_A, LENDER_B, LENDER_C = 7, 8, 9
NAMES = {LENDER_A: "Reports Lender A", LENDER_B: "Reports Lender B", LENDER_C: "Reports Lender C"}
A_BATCH_INTERVAL = 2.0
C_RATE_PER_MINUTE = 5
QUERY_PATHS = ("/v1/reports", "/v1/verify")
REPORT_KEYS = {"subject_key", "as_of", "summary", "loans", "grade", "reasons", "evidence", "policy_version"}


_serial = iter(range(1, 1000))


def new_subject() -> str:
    return numbered_resident_id(next(_serial))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def expected_subject_key(id_number: str) -> str:
    return "0x" + subject_key_of("resident_id", id_number).hex()


def expected_consent_hash(home: Path, consent_ref: str) -> bytes:
    """Keyed with the lender's own consent key, derived from its record key (v2: no consortium secret)."""
    consent_key = derived_key(bytes.fromhex((home / "record.key").read_text().strip()), "consent")
    return hmac.new(consent_key, f"consent:{consent_ref}".encode(), hashlib.sha256).digest()


def report_body(id_number: str, purpose: str = "loan_application", /, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id_type": "resident_id",
        "id_number": id_number,
        "purpose": purpose,
        "consent_ref": unique("CONSENT"),
    }
    for name, value in changes.items():
        if value is ...:
            body.pop(name, None)
        else:
            body[name] = value
    return body


def assert_error(response: httpx.Response, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    if field is not None:
        assert error["field"] == field, error


@dataclass
class Node:
    """One running gateway of this module, with its API keys and a tally of the report/verify requests it
    answered with 200 through `post` (each of which must be in its audit log)."""

    env: GatewayEnv
    process: GatewayProcess
    keys: dict[str, str]
    answered: int = 0
    _http: httpx.Client | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return str(self.env.lender.address)

    @property
    def db_path(self) -> Path:
        return self.env.home / "gateway.db"

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(base_url=self.env.url, timeout=30, event_hooks={"response": [self._count]})
        return self._http

    def _count(self, response: httpx.Response) -> None:
        request = response.request
        if request.method == "POST" and request.url.path in QUERY_PATHS and response.status_code == 200:
            self.answered += 1

    def key(self, name: str | None) -> str | None:
        """The key of client `name` of this gateway; any other string is sent as it is (None: no key)."""
        return None if name is None else self.keys.get(name, name)

    def post(self, path: str, key: str | None, body: Any, *, header: str = "bearer") -> httpx.Response:
        headers = {}
        if key is not None:
            headers = {"Authorization": f"Bearer {key}"} if header == "bearer" else {"X-API-Key": key}
        return self.http.post(path, json=body, headers=headers)

    def event(self, event_id: int) -> dict[str, Any]:
        response = self.http.get(f"/v1/events/{event_id}", headers={"Authorization": f"Bearer {self.keys['submit']}"})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait_confirmed(self, event_id: int, timeout: float = 30) -> dict[str, Any]:
        final = wait_until(lambda: (e := self.event(event_id))["status"] in ("confirmed", "failed") and e, timeout)
        assert final["status"] == "confirmed", final
        return final

    def readyz(self) -> dict[str, Any]:
        body: dict[str, Any] = self.http.get("/readyz").json()
        return body

    def wait_indexed(self, block: int, timeout: float = 30) -> int:
        """Wait until this gateway's index reaches `block`; returns the indexed block."""
        return int(
            wait_until(lambda: (b := self.readyz().get("indexed_block")) is not None and b >= block and b, timeout)
        )

    def report(self, body: dict[str, Any], key: str = "query") -> dict[str, Any]:
        response = self.post("/v1/reports", self.keys[key], body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def submit(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Submit records and wait until each is confirmed on chain; returns their final statuses."""
        response = self.post("/v1/events", self.keys["submit"], records)
        assert response.status_code == 200, response.text
        return [self.wait_confirmed(r["event_id"]) for r in response.json()["results"]]

    def query(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        with sqlite3.connect(self.db_path, timeout=10) as db:
            db.row_factory = sqlite3.Row
            return list(db.execute(sql, args))

    def audit_count(self) -> int:
        return int(self.query("SELECT count(*) AS n FROM audit_log")[0]["n"])

    def outbox_count(self) -> int:
        return int(self.query("SELECT count(*) AS n FROM outbox")[0]["n"])

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
        self.process.stop()


@dataclass
class Nodes:
    a: Node
    b: Node
    c: Node

    def all(self) -> list[Node]:
        return [self.a, self.b, self.c]


# ---------------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def rp_consortium(w3: Web3, accounts: list[LocalAccount]) -> Consortium:
    """Fresh contracts: governors accounts[0..2] (threshold 2), accounts 7-9 active lenders."""
    c = Consortium.deploy(w3, accounts, governors=accounts[:3], threshold=2)
    for index, name in NAMES.items():
        c.admit_lender(accounts[index], name)
    return c


@pytest.fixture(scope="module")
def nodes(
    rp_consortium: Consortium,
    devchain: DevChain,
    accounts: list[LocalAccount],
    w3: Web3,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Nodes]:
    # The worker's base temp folder is made on first use: make it here, not from three threads at once (a clean
    # CI run where this module came first on its worker failed with FileExistsError).
    homes = {i: tmp_path_factory.mktemp(f"reports-gw-{i}") for i in (LENDER_A, LENDER_B, LENDER_C)}

    def env(index: int, **extra: str) -> GatewayEnv:
        return GatewayEnv(homes[index], accounts[index], devchain.rpc_url, rp_consortium.deployment, extra=extra)

    with ThreadPoolExecutor(3) as pool:  # each writes a keystore (scrypt): in parallel
        envs = list(
            pool.map(
                lambda args: env(args[0], **args[1]),
                [
                    (LENDER_A, {"CREDITSHARE_BATCH_INTERVAL": str(A_BATCH_INTERVAL)}),
                    (LENDER_B, {}),
                    (LENDER_C, {"CREDITSHARE_QUERY_RATE_PER_MINUTE": str(C_RATE_PER_MINUTE)}),
                ],
            )
        )
    scopes = {"submit": "submit", "query": "query", "verify": "verify", "admin": "admin", "revoked": "query"}
    keys = [{name: e.add_client(f"client-{name}", scope) for name, scope in scopes.items()} for e in envs]
    for e in envs:  # a key that once worked
        engine = make_engine(e.database)
        with transaction(session_factory(engine)) as session:
            revoke_client(session, "client-revoked")
        engine.dispose()
    with ThreadPoolExecutor(3) as pool:
        processes = list(pool.map(lambda e: GatewayProcess(e).start(), envs))
    started = [Node(e, p, k) for e, p, k in zip(envs, processes, keys, strict=True)]
    try:
        tip = int(w3.eth.block_number)
        for node in started:
            node.wait_indexed(tip)
        yield Nodes(*started)
    finally:
        for node in started:
            node.close()


@dataclass(frozen=True)
class Recorded:
    """A record B submitted, confirmed on chain and indexed by A."""

    record: dict[str, Any]
    status: dict[str, Any]


@pytest.fixture(scope="module")
def recorded(nodes: Nodes) -> Recorded:
    record = {
        "record_id": unique("R"),
        "event_type": "loan_opened",
        "id_type": "resident_id",
        "id_number": new_subject(),
        "loan_number": unique("L"),
        "occurred_on": (today_cst() - dt.timedelta(days=30)).isoformat(),
        "principal_fen": 2_500_000,
    }
    (status,) = nodes.b.submit([record])
    nodes.a.wait_indexed(status["block_number"])
    return Recorded(record, status)


# ---------------------------------------------------------------------------------------------------- auth


@pytest.mark.parametrize(
    ("key", "status", "code"),
    [
        pytest.param(None, 401, "unauthorized", id="no_key"),
        pytest.param("csk_not-a-real-key", 401, "unauthorized", id="unknown_key"),
        pytest.param("revoked", 401, "unauthorized", id="revoked_key"),
        pytest.param("submit", 403, "forbidden", id="submit_scope"),
        pytest.param("verify", 403, "forbidden", id="verify_scope"),
        pytest.param("admin", 403, "forbidden", id="admin_scope"),
    ],
)
def test_reports_without_query_scope_rejected(nodes: Nodes, key: str | None, status: int, code: str) -> None:
    a = nodes.a
    audited, queued = a.audit_count(), a.outbox_count()

    response = a.post("/v1/reports", a.key(key), report_body(new_subject()))

    assert_error(response, status, code)
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    assert (a.audit_count(), a.outbox_count()) == (audited, queued)


def test_reports_query_key_in_x_api_key_header_accepted(nodes: Nodes) -> None:
    a = nodes.a
    response = a.post("/v1/reports", a.keys["query"], report_body(new_subject()), header="x-api-key")
    assert response.status_code == 200, response.text


def test_reports_without_key_and_invalid_body_is_401_not_422(nodes: Nodes) -> None:
    assert_error(nodes.a.post("/v1/reports", None, {"purpose": "nonsense"}), 401, "unauthorized")


@pytest.mark.parametrize("path", ["/v1/reports", "/v1/verify"])
def test_oversize_query_bodies_refused_before_auth_with_413(nodes: Nodes, path: str) -> None:
    """The body limit holds for every route, checked before the key is looked up or the body read."""
    body = {"id_type": "other", "id_number": "x" * (3 * 1024 * 1024), "purpose": "loan_application"}
    assert_error(nodes.a.post(path, None, body), 413, "body_too_large")


@pytest.mark.parametrize(
    ("key", "status", "code"),
    [
        pytest.param(None, 401, "unauthorized", id="no_key"),
        pytest.param("revoked", 401, "unauthorized", id="revoked_key"),
        pytest.param("submit", 403, "forbidden", id="submit_scope"),
        pytest.param("query", 403, "forbidden", id="query_scope"),
        pytest.param("admin", 403, "forbidden", id="admin_scope"),
    ],
)
def test_verify_without_verify_scope_rejected(
    nodes: Nodes, recorded: Recorded, key: str | None, status: int, code: str
) -> None:
    a = nodes.a
    audited = a.audit_count()

    response = a.post("/v1/verify", a.key(key), {"lender": nodes.b.address, "record": recorded.record})

    assert_error(response, status, code)
    assert a.audit_count() == audited


# ---------------------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        pytest.param(
            {"id_number": "110105198506150011"}, "invalid_check_character", "id_number", id="bad_check_character"
        ),
        pytest.param({"id_number": "12345"}, "invalid_id", "id_number", id="too_short"),
        pytest.param({"id_type": "passport_book"}, "invalid_id_type", "id_type", id="unknown_id_type"),
        pytest.param({"purpose": "marketing"}, "invalid_request", "purpose", id="unknown_purpose"),
        pytest.param({"purpose": ...}, "invalid_request", "purpose", id="missing_purpose"),
        pytest.param({"consent_ref": ...}, "invalid_request", "consent_ref", id="missing_consent_ref"),
        pytest.param({"consent_ref": ""}, "invalid_request", "consent_ref", id="empty_consent_ref"),
        pytest.param({"name": "Zhang San"}, "invalid_request", "name", id="unknown_field"),
    ],
)
def test_reports_invalid_request_returns_422_and_records_nothing(
    nodes: Nodes, changes: dict[str, Any], code: str, field: str
) -> None:
    a = nodes.a
    audited, queued = a.audit_count(), a.outbox_count()

    response = a.post("/v1/reports", a.keys["query"], report_body(new_subject(), **changes))

    assert_error(response, 422, code, field)
    assert (a.audit_count(), a.outbox_count()) == (audited, queued)


# ---------------------------------------------------------------------------------------------------- reports


def test_report_returns_subject_key_as_of_loans_grade_and_evidence_never_the_id(nodes: Nodes) -> None:
    a, b = nodes.a, nodes.b
    id_number = new_subject()
    loan = unique("L")
    opened_on = today_cst() - dt.timedelta(days=70)
    late_on = today_cst() - dt.timedelta(days=5)
    common = {"id_type": "resident_id", "id_number": id_number, "loan_number": loan}
    opened, late = b.submit(
        [
            {**common, "record_id": unique("R"), "event_type": "loan_opened", "occurred_on": opened_on.isoformat(),
             "principal_fen": 5_000_000},
            {**common, "record_id": unique("R"), "event_type": "overdue", "occurred_on": late_on.isoformat(),
             "outstanding_fen": 4_000_000, "overdue_fen": 200_000, "days_past_due": 35},
        ]
    )  # fmt: skip
    indexed = a.wait_indexed(max(opened["block_number"], late["block_number"]))
    body = report_body(id_number)

    response = a.post("/v1/reports", a.keys["query"], body)

    assert response.status_code == 200, response.text
    report = response.json()
    assert REPORT_KEYS | {"inquiry_event_id"} == report.keys()
    assert id_number not in response.text and id_number[:17] not in response.text
    assert report["subject_key"] == expected_subject_key(id_number)
    assert report["as_of"]["block_number"] >= indexed
    assert dt.date.fromisoformat(report["as_of"]["date"]) in (today_cst(), today_cst() - dt.timedelta(days=1))
    (entry,) = report["loans"]
    assert entry["lender"] == b.address.lower() and entry["lender_name"] == NAMES[LENDER_B]
    assert (entry["status"], entry["days_past_due"], entry["events"]) == ("overdue", 35, 2)
    assert (entry["principal_fen"], entry["outstanding_fen"], entry["overdue_fen"]) == (5_000_000, 4_000_000, 200_000)
    assert entry["opened_on"] == opened_on.isoformat() and entry["last_event_on"] == late_on.isoformat()
    assert len(entry["payment_history"]) == 24 and entry["payment_history"][0] == "1"
    assert report["summary"]["active_loans"] == 1 and report["summary"]["worst_current_dpd"] == 35
    assert report["grade"] == "C"
    assert "DPD_30" in {r["code"] for r in report["reasons"]}
    assert [(e["kind"], e["tx_hash"], e["log_index"], e["block_number"]) for e in report["evidence"]] == [
        ("event", s["tx_hash"], s["log_index"], s["block_number"]) for s in (opened, late)
    ]
    # The id number is not kept anywhere on the querying gateway either.
    stored = b"".join(p.read_bytes() for p in a.env.home.iterdir() if p.name.startswith("gateway."))
    assert id_number.encode() not in stored


def test_report_of_unknown_subject_is_empty_grade_a(nodes: Nodes) -> None:
    report = nodes.a.report(report_body(new_subject(), "guarantee"))
    assert report["loans"] == [] and report["evidence"] == [] and report["grade"] == "A"
    assert report["summary"]["active_loans"] == 0


def test_report_records_inquiry_on_chain_without_waiting_for_it(
    nodes: Nodes, w3: Web3, rp_consortium: Consortium
) -> None:
    a = nodes.a
    id_number = new_subject()
    body = report_body(id_number)
    # Nothing older in A's outbox could carry this inquiry into an earlier batch.
    wait_until(lambda: a.readyz()["backlog"] == 0, timeout=30)

    started = time.monotonic()
    response = a.post("/v1/reports", a.keys["query"], body)
    elapsed = time.monotonic() - started
    right_after = a.event(response.json()["inquiry_event_id"])

    assert response.status_code == 200, response.text
    report = response.json()
    # The answer came back before the submitter could even take the inquiry (it batches every 2 s).
    assert right_after["status"] == "pending", right_after
    assert right_after["kind"] == "inquiry" and right_after["tx_hash"] is None
    assert elapsed < A_BATCH_INTERVAL
    (audit,) = a.query(
        "SELECT * FROM audit_log WHERE consent_hash = ?", expected_consent_hash(a.env.home, body["consent_ref"]).hex()
    )
    assert audit["action"] == "report" and audit["caller"] == "client-query"
    assert audit["purpose"] == "loan_application" and audit["subject_key"] == report["subject_key"][2:]
    assert right_after["record_hash"] == "0x" + audit["entry_hash"]

    final = a.wait_confirmed(report["inquiry_event_id"])

    receipt = w3.eth.get_transaction_receipt(final["tx_hash"])
    (log,) = [e for e in decode_logs(receipt["logs"]) if e.log_index == final["log_index"]]
    assert log.name == "InquiryRecorded" and log.address == rp_consortium.deployment.ledger
    assert log.args["inquiryHash"] == bytes.fromhex(audit["entry_hash"])
    assert "0x" + log.args["subjectKey"].hex() == report["subject_key"]
    assert log.args["consentHash"] == expected_consent_hash(a.env.home, body["consent_ref"])
    assert log.args["lender"] == a.address
    assert unpack_inquiry_purpose(log.args["data"]) == 1


def cited_inquiries(report: dict[str, Any]) -> list[tuple[str, int]]:
    return [(e["tx_hash"], e["log_index"]) for e in report["evidence"] if e["kind"] == "inquiry"]


def test_application_inquiries_counted_in_other_members_reports_post_loan_not(nodes: Nodes) -> None:
    a, b, c = nodes.a, nodes.b, nodes.c
    id_number = new_subject()
    ids = [
        (a, a.report(report_body(id_number, "loan_application"))["inquiry_event_id"]),
        (a, a.report(report_body(id_number, "loan_application"))["inquiry_event_id"]),  # same lender: counts once
        (b, b.report(report_body(id_number, "post_loan"))["inquiry_event_id"]),
    ]
    confirmed = [node.wait_confirmed(event_id) for node, event_id in ids]
    c.wait_indexed(max(s["block_number"] for s in confirmed))

    first = c.report(report_body(id_number, "regulatory"))

    assert first["summary"]["application_inquiry_lenders_30d"] == 1
    assert first["summary"]["application_inquiry_lenders_90d"] == 1
    assert first["summary"]["application_inquiry_lenders_180d"] == 1
    # Each counted lender's newest application inquiry is cited: A's later one, not its first (one lender counts
    # once), nor B's post-loan inquiry.
    applications, post_loan = [(s["block_number"], s["log_index"], s["tx_hash"]) for s in confirmed[:2]], confirmed[2]
    newest_a = max(applications)[2], max(applications)[1]
    assert cited_inquiries(first) == [newest_a]

    application_b = b.wait_confirmed(b.report(report_body(id_number, "loan_application"))["inquiry_event_id"])
    c.wait_indexed(application_b["block_number"])

    second = c.report(report_body(id_number, "regulatory"))

    assert second["summary"]["application_inquiry_lenders_30d"] == 2
    cited = cited_inquiries(second)
    assert sorted(cited) == sorted([newest_a, (application_b["tx_hash"], application_b["log_index"])])
    assert (post_loan["tx_hash"], post_loan["log_index"]) not in cited


# ---------------------------------------------------------------------------------------------------- verify


def test_verify_original_record_matches_with_location(nodes: Nodes, recorded: Recorded) -> None:
    a, b = nodes.a, nodes.b

    response = a.post("/v1/verify", a.keys["verify"], {"lender": b.address, "record": recorded.record})

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["match"] is True
    assert result["lender"] == b.address.lower() and result["lender_name"] == NAMES[LENDER_B]
    assert result["record_hash"] == recorded.status["record_hash"]
    assert (result["block_number"], result["tx_hash"], result["log_index"]) == (
        recorded.status["block_number"],
        recorded.status["tx_hash"],
        recorded.status["log_index"],
    )
    assert result["corrected_by"] is None and result["disputed"] is False
    (audit,) = a.query("SELECT * FROM audit_log ORDER BY id DESC LIMIT 1")
    assert (audit["action"], audit["caller"], audit["result_size"], audit["subject_key"]) == (
        "verify",
        "client-verify",
        1,
        None,
    )


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param({"principal_fen": 2_500_001}, id="principal_fen"),
        pytest.param({"occurred_on": (today_cst() - dt.timedelta(days=31)).isoformat()}, id="occurred_on"),
        pytest.param({"id_number": numbered_resident_id(999)}, id="id_number"),
        pytest.param({"loan_number": "L-OTHER"}, id="loan_number"),
        pytest.param({"record_id": "R-OTHER"}, id="record_id"),
        pytest.param({"event_type": "repayment", "principal_fen": None, "outstanding_fen": 2_500_000}, id="event_type"),
        pytest.param({}, id="lender"),  # the record as it was, claimed for another lender
    ],
)
def test_verify_tampered_field_does_not_match(nodes: Nodes, recorded: Recorded, tamper: dict[str, Any]) -> None:
    a = nodes.a
    lender = nodes.b.address if tamper else nodes.a.address
    record = {k: v for k, v in {**recorded.record, **tamper}.items() if v is not None}

    response = a.post("/v1/verify", a.keys["verify"], {"lender": lender, "record": record})

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["match"] is False
    assert result["record_hash"] != recorded.status["record_hash"]
    assert (result["block_number"], result["tx_hash"], result["log_index"]) == (None, None, None)


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        pytest.param({"record": {"loan_number": ...}}, "invalid_request", "record.loan_number", id="missing_field"),
        pytest.param(
            {"record": {"id_number": "110105198506150011"}},
            "invalid_check_character",
            "record.id_number",
            id="bad_id_number",
        ),
        pytest.param(
            {"record": {"principal_fen": ...}}, "missing_field", "record.principal_fen", id="opened_without_principal"
        ),
        pytest.param(
            {"record": {"principal_fen": "many"}}, "invalid_request", "record.principal_fen", id="text_amount"
        ),
        pytest.param({"lender": "0x1234"}, "invalid_request", "lender", id="bad_lender"),
        pytest.param({"record": "not a record"}, "invalid_request", "record", id="record_not_object"),
    ],
)
def test_verify_malformed_record_returns_422(
    nodes: Nodes, recorded: Recorded, changes: dict[str, Any], code: str, field: str
) -> None:
    a = nodes.a
    body: dict[str, Any] = {"lender": nodes.b.address, "record": dict(recorded.record)}
    for name, value in changes.items():
        if isinstance(value, dict):
            for k, v in value.items():
                if v is ...:
                    body[name].pop(k)
                else:
                    body[name][k] = v
        else:
            body[name] = value
    audited = a.audit_count()

    response = a.post("/v1/verify", a.keys["verify"], body)

    assert_error(response, 422, code, field)
    assert a.audit_count() == audited


# ---------------------------------------------------------------------------------------------------- limits, health


def test_rate_limit_sixth_query_in_burst_returns_429(nodes: Nodes, recorded: Recorded) -> None:
    c = nodes.c
    burst = c.env.add_client("client-burst", "query,verify")
    calm = c.env.add_client("client-calm", "query")
    audited, queued = c.audit_count(), c.outbox_count()

    answers = [c.post("/v1/reports", burst, report_body(new_subject(), "post_loan")) for _ in range(C_RATE_PER_MINUTE)]
    sixth = c.post("/v1/reports", burst, report_body(new_subject(), "post_loan"))
    verify = c.post("/v1/verify", burst, {"lender": nodes.b.address, "record": recorded.record})
    other_client = c.post("/v1/reports", calm, report_body(new_subject(), "post_loan"))

    assert [r.status_code for r in answers] == [200] * C_RATE_PER_MINUTE, [r.text for r in answers]
    assert_error(sixth, 429, "rate_limited")
    assert_error(verify, 429, "rate_limited")  # one budget for reports and verifications
    assert other_client.status_code == 200, other_client.text  # the limit is per API client
    assert c.audit_count() == audited + C_RATE_PER_MINUTE + 1
    assert c.outbox_count() == queued + C_RATE_PER_MINUTE + 1
    assert 'creditshare_rate_limited_total{scope="caller"} 2.0' in c.http.get("/metrics").text


def test_readyz_shows_indexed_block_following_the_chain(nodes: Nodes, w3: Web3, recorded: Recorded) -> None:
    for node in nodes.all():
        body = node.readyz()
        assert body["ready"] is True, body
        assert isinstance(body["indexed_block"], int)
        assert recorded.status["block_number"] <= body["indexed_block"] <= int(w3.eth.block_number)
        assert "index_error" not in body
    tip = int(w3.eth.block_number)
    assert nodes.a.wait_indexed(tip) >= tip


# ---------------------------------------------------------------------------------------------------- audit


def test_audit_log_holds_every_answered_query_and_verifies_intact(nodes: Nodes, recorded: Recorded) -> None:
    """Runs last: every report/verify this module got a 200 for is one entry; each report's entry hash is the
    inquiry hash queued for the chain; `creditshare audit verify` finds the chain intact on every gateway."""
    b = nodes.b
    b.report(report_body(new_subject()))
    verified = b.post("/v1/verify", b.keys["verify"], {"lender": b.address, "record": recorded.record})
    assert verified.status_code == 200 and verified.json()["match"] is True

    for node in nodes.all():
        entries = node.query("SELECT * FROM audit_log ORDER BY id")
        assert len(entries) == node.answered, node.env.lender.address
        reports = {e["entry_hash"] for e in entries if e["action"] == "report"}
        queued = node.query("SELECT record_hash FROM outbox WHERE kind = 'inquiry'")
        inquiries = {bytes(r["record_hash"]).hex() for r in queued}
        assert reports == inquiries
        result = subprocess.run(
            [sys.executable, "-m", "creditshare.cli", "audit", "verify"],
            capture_output=True,
            text=True,
            env=node.env.environ(),
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "audit log intact" in result.stdout
    assert nodes.b.answered >= 2
