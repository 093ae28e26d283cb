"""POST /v1/events and GET /v1/events/{id} against a real gateway process on Ganache; health, metrics, docs."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from creditshare.chain.artifacts import decode_logs
from creditshare.chain.governance import Action
from creditshare.core.clock import today_cst
from creditshare.devtools.devchain import DevChain
from creditshare.domain.records import CreditEventIn, normalise_event
from tests.api.conftest import NON_MEMBER, SUSPENDED, LiveGateway, RecordFactory, start_gateway
from tests.support import Consortium
from tests.support.gateways import wait_until
from tests.support.holders import keys_for
from tests.support.prometheus import metric

MB = 1024 * 1024


def assert_error(response: httpx.Response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """The response is `status` with an error body of `code` (and `field`, when given)."""
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert {"code", "message", "field"} <= error.keys(), error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    if field is not None:
        assert error["field"] == field, error
    return error


def assert_nothing_stored(gateway: LiveGateway, api: httpx.Client, rows_before: int, top_before: int) -> None:
    """No outbox row was added, and the id the next row would get is unknown."""
    assert gateway.outbox_rows() == rows_before
    assert gateway.max_event_id() == top_before
    assert_error(api.get(f"/v1/events/{top_before + 1}"), 404, "not_found")


def expected_hash(record: dict[str, Any], lender: str) -> str:
    """The record hash recomputed independently of the gateway (v2 keys under the test suite's OPRF key)."""
    parsed = CreditEventIn.model_validate(record)
    event = normalise_event(parsed, lender=lender, keys=keys_for(parsed))
    return "0x" + event.record_hash.hex()


# --------------------------------------------------------------------------------------------- happy path


def test_submit_single_record_confirms_on_chain_with_matching_record_hash(
    gateway: LiveGateway, api: httpx.Client, new_record: RecordFactory, w3: Web3, gw_consortium: Consortium
) -> None:
    record = new_record()
    rows = gateway.outbox_rows()

    response = api.post("/v1/events", json=record)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (1, 0, 0)
    (result,) = body["results"]
    assert result["status"] == "accepted" and result["record_id"] == record["record_id"] and result["index"] == 0
    event_id = result["event_id"]
    assert isinstance(event_id, int)
    assert gateway.outbox_rows() == rows + 1  # stored before the answer

    first = api.get(f"/v1/events/{event_id}").json()
    assert first["status"] in ("pending", "submitted", "confirmed")
    assert first["record_id"] == record["record_id"] and first["kind"] == "event" and first["error"] is None
    if first["status"] != "confirmed":
        assert first["tx_hash"] is None

    final = gateway.wait_settled(api, event_id)
    assert final["status"] == "confirmed", final
    lender = gateway.env.lender.address
    assert final["record_hash"] == expected_hash(record, lender)
    assert final["tx_hash"].startswith("0x") and isinstance(final["block_number"], int)
    assert isinstance(final["log_index"], int)

    receipt = w3.eth.get_transaction_receipt(final["tx_hash"])
    assert receipt["status"] == 1 and receipt["blockNumber"] == final["block_number"]
    (log,) = [e for e in decode_logs(receipt["logs"]) if e.log_index == final["log_index"]]
    assert log.name == "CreditEventRecorded"
    assert log.address == gw_consortium.deployment.ledger
    assert "0x" + log.args["recordHash"].hex() == final["record_hash"]
    assert log.args["lender"] == lender


def test_submit_list_of_three_returns_three_results(
    gateway: LiveGateway, api: httpx.Client, new_record: RecordFactory
) -> None:
    records = [new_record(), new_record(event_type="repayment", principal_fen=..., outstanding_fen=10), new_record()]
    rows = gateway.outbox_rows()

    response = api.post("/v1/events", json=records)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (3, 0, 0)
    assert [r["index"] for r in body["results"]] == [0, 1, 2]
    assert [r["record_id"] for r in body["results"]] == [r["record_id"] for r in records]
    assert all(r["status"] == "accepted" for r in body["results"])
    ids = [r["event_id"] for r in body["results"]]
    assert len(set(ids)) == 3
    assert gateway.outbox_rows() == rows + 3
    for event_id in ids:
        assert gateway.wait_settled(api, event_id)["status"] == "confirmed"


def test_submit_same_record_again_is_duplicate_other_content_is_a_conflict(
    gateway: LiveGateway, api: httpx.Client, new_record: RecordFactory
) -> None:
    """The same record again is a `duplicate` of the original; the same record id with other content used to be
    answered `duplicate` too, silently dropping the new content: it is a `record_id_conflict` now."""
    record = new_record()
    original = api.post("/v1/events", json=record).json()["results"][0]["event_id"]
    rows = gateway.outbox_rows()

    again = api.post("/v1/events", json=record)
    changed = api.post("/v1/events", json={**record, "principal_fen": 1})  # same id, other content
    within = api.post("/v1/events", json=[record, record])

    assert again.status_code == 200, again.text
    body = again.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (0, 1, 0)
    assert body["results"][0] == {
        "index": 0, "record_id": record["record_id"], "status": "duplicate", "event_id": original,
        "code": None, "message": None, "field": None,
    }  # fmt: skip
    assert changed.status_code == 422, changed.text
    assert changed.json()["error"]["code"] == "record_id_conflict"
    assert changed.json()["error"]["results"][0]["status"] == "rejected"
    assert within.status_code == 200
    assert [(r["status"], r["event_id"]) for r in within.json()["results"]] == [("duplicate", original)] * 2
    assert gateway.outbox_rows() == rows


def test_submit_same_record_id_twice_in_one_request_stores_one(
    gateway: LiveGateway, api: httpx.Client, new_record: RecordFactory
) -> None:
    record = new_record()
    rows = gateway.outbox_rows()

    response = api.post("/v1/events", json=[record, record])

    assert response.status_code == 200, response.text
    first, second = response.json()["results"]
    assert first["status"] == "accepted" and second["status"] == "duplicate"
    assert second["event_id"] == first["event_id"]
    assert gateway.outbox_rows() == rows + 1


def test_submit_correction_of_known_record_is_accepted_as_correction(
    gateway: LiveGateway, api: httpx.Client, new_record: RecordFactory
) -> None:
    original = new_record()
    original_id = api.post("/v1/events", json=original).json()["results"][0]["event_id"]
    correction = new_record(
        loan_number=original["loan_number"], principal_fen=4_000_000, corrects=original["record_id"]
    )

    response = api.post("/v1/events", json=correction)

    assert response.status_code == 200, response.text
    event_id = response.json()["results"][0]["event_id"]
    assert event_id != original_id
    assert api.get(f"/v1/events/{event_id}").json()["kind"] == "correction"
    assert gateway.wait_settled(api, event_id)["status"] == "confirmed"


def test_submit_original_and_its_corrections_in_one_request(
    gateway: LiveGateway, api: httpx.Client, new_record: RecordFactory
) -> None:
    original = new_record()
    fix = new_record(loan_number=original["loan_number"], principal_fen=4_000_000, corrects=original["record_id"])
    fix_of_fix = new_record(loan_number=original["loan_number"], principal_fen=4_100_000, corrects=fix["record_id"])
    early = new_record(loan_number=original["loan_number"], corrects="LATER-" + original["record_id"])
    later = new_record(record_id="LATER-" + original["record_id"])
    rows = gateway.outbox_rows()

    response = api.post("/v1/events", json=[early, original, fix, fix_of_fix, fix, later])

    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["rejected", "accepted", "accepted", "accepted", "duplicate", "accepted"]
    assert results[0]["code"] == "unknown_original"  # an original must come before its correction
    assert results[4]["event_id"] == results[2]["event_id"]
    assert gateway.outbox_rows() == rows + 4
    with sqlite3.connect(gateway.db_path, timeout=10) as db:
        stored = dict(
            db.execute(
                "SELECT record_id, kind || ':' || coalesce(corrects_id, '') FROM outbox WHERE id IN (?, ?, ?)",
                [results[i]["event_id"] for i in (1, 2, 3)],
            ).fetchall()
        )
    assert stored == {
        original["record_id"]: "event:",
        fix["record_id"]: f"correction:{results[1]['event_id']}",
        fix_of_fix["record_id"]: f"correction:{results[2]['event_id']}",
    }
    assert gateway.wait_settled(api, results[3]["event_id"])["status"] == "confirmed"


# --------------------------------------------------------------------------------------------- bad input


def _future() -> str:
    return (today_cst() + dt.timedelta(days=2)).isoformat()


BAD_RECORDS = [
    pytest.param(
        {"id_number": "110105194912310021"}, "invalid_check_character", "id_number", id="resident_id_bad_check_char"
    ),
    pytest.param({"id_type": "passport_book"}, "invalid_id_type", "id_type", id="unknown_id_type"),
    pytest.param({"principal_fen": -1}, "invalid_amount", "principal_fen", id="negative_amount"),
    pytest.param({"principal_fen": 10**30}, "invalid_amount", "principal_fen", id="overflowing_amount"),
    pytest.param({"principal_fen": 1.5}, "invalid_amount", "principal_fen", id="fractional_amount"),
    pytest.param(
        {"outstanding_fen": 0.5, "event_type": "repayment", "principal_fen": ...},
        "invalid_amount",
        "outstanding_fen",
        id="fractional_outstanding",
    ),
    pytest.param({"principal_fen": "100"}, "invalid_type", "principal_fen", id="amount_as_string"),
    pytest.param({"principal_fen": True}, "invalid_type", "principal_fen", id="amount_as_boolean"),
    pytest.param({"occurred_on": _future()}, "future_date", "occurred_on", id="future_date"),
    pytest.param({"occurred_on": "2025-13-01"}, "invalid_date", "occurred_on", id="date_month_13"),
    pytest.param({"occurred_on": "01/03/2025"}, "invalid_date", "occurred_on", id="date_wrong_order"),
    pytest.param({"occurred_on": "2025-3-1"}, "invalid_date", "occurred_on", id="date_without_zero_padding"),
    pytest.param({"occurred_on": 20250301}, "invalid_date", "occurred_on", id="date_as_number"),
    pytest.param({"occurred_on": "1989-12-31"}, "date_out_of_range", "occurred_on", id="date_before_1990"),
    pytest.param({"event_type": "loan_closed"}, "invalid_event_type", "event_type", id="unknown_event_type"),
    pytest.param({"loan_number": ...}, "missing_field", "loan_number", id="missing_loan_number"),
    pytest.param({"id_number": ...}, "missing_field", "id_number", id="missing_id_number"),
    pytest.param({"colour": "red"}, "unknown_field", "colour", id="extra_field"),
    pytest.param({"principal_fen": ...}, "missing_field", "principal_fen", id="loan_opened_without_principal"),
    pytest.param(
        {"event_type": "overdue", "principal_fen": ..., "outstanding_fen": 1000, "overdue_fen": 500},
        "missing_field",
        "days_past_due",
        id="overdue_without_days_past_due",
    ),
    pytest.param(
        {"event_type": "repayment", "principal_fen": ...},
        "missing_field",
        "outstanding_fen",
        id="repayment_without_outstanding",
    ),
    pytest.param({"id_number": "1" * 100_000}, "too_long", "id_number", id="string_100kb"),
    pytest.param({"record_id": "x" * 65}, "too_long", "record_id", id="record_id_65_chars"),
    pytest.param({"record_id": 12345}, "invalid_type", "record_id", id="record_id_number"),
    pytest.param({"corrects": "NO-SUCH-RECORD"}, "unknown_original", "corrects", id="correction_of_unknown"),
]


@pytest.mark.parametrize(("overrides", "code", "field"), BAD_RECORDS)
def test_submit_bad_record_rejected_with_code_and_nothing_stored(
    gateway: LiveGateway,
    api: httpx.Client,
    new_record: RecordFactory,
    overrides: dict[str, Any],
    code: str,
    field: str,
) -> None:
    record = new_record(**overrides)
    rows, top = gateway.outbox_rows(), gateway.max_event_id()

    response = api.post("/v1/events", json=record)

    error = assert_error(response, 422, code, field)
    assert len(error["results"]) == 1
    assert error["results"][0]["status"] == "rejected" and error["results"][0]["code"] == code
    assert error["results"][0]["event_id"] is None
    assert_nothing_stored(gateway, api, rows, top)


def _body_cases() -> list[Any]:
    def records(n: int) -> bytes:
        one = {
            "record_id": "X",
            "event_type": "loan_opened",
            "id_type": "resident_id",
            "id_number": "11010519491231002X",
            "loan_number": "L",
            "occurred_on": "2025-03-01",
            "principal_fen": 1,
        }
        return json.dumps([{**one, "record_id": f"MANY-{i}"} for i in range(n)]).encode()

    return [
        pytest.param(b"42", 422, "invalid_request", id="number_instead_of_object"),
        pytest.param(b'"a record"', 422, "invalid_request", id="string_instead_of_object"),
        pytest.param(b"null", 422, "invalid_request", id="null_body"),
        pytest.param(b"[]", 422, "invalid_request", id="empty_list"),
        pytest.param(b"{}", 422, "missing_field", id="empty_object"),
        pytest.param(b"[42]", 422, "invalid_type", id="list_of_number"),
        pytest.param(b'{"record_id": "R-\xff\xfe"}', 400, "invalid_json", id="invalid_utf8"),
        pytest.param(b'{"record_id": "R-1",', 400, "invalid_json", id="malformed_json"),
        pytest.param(b"", 400, "invalid_json", id="empty_body"),
        pytest.param(b"{'record_id': 'R-1'}", 400, "invalid_json", id="single_quotes"),
        pytest.param(b"\xef\xbb\xbf{}", 400, "invalid_json", id="utf8_bom"),
        pytest.param(b"[" * 5000 + b"]" * 5000, 400, "invalid_json", id="nested_5000_deep"),
        pytest.param(b'{"a":' * 50_000 + b"1" + b"}" * 50_000, 400, "invalid_json", id="nested_objects_50000_deep"),
        pytest.param(records(1001), 413, "too_many_records", id="list_of_1001"),
    ]


@pytest.mark.parametrize(("body", "status", "code"), _body_cases())
def test_submit_bad_body_rejected_with_code_and_nothing_stored(
    gateway: LiveGateway, api: httpx.Client, body: bytes, status: int, code: str
) -> None:
    rows, top = gateway.outbox_rows(), gateway.max_event_id()

    response = api.post("/v1/events", content=body, headers={"Content-Type": "application/json"})

    assert_error(response, status, code)
    assert_nothing_stored(gateway, api, rows, top)


def test_submit_list_of_1000_records_is_accepted(
    gateway: LiveGateway, api: httpx.Client, new_record: RecordFactory
) -> None:
    records = [new_record() for _ in range(1000)]
    rows = gateway.outbox_rows()

    response = api.post("/v1/events", json=records)

    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1000
    assert gateway.outbox_rows() == rows + 1000


def _ten_megabytes(new_record: RecordFactory) -> bytes:
    return json.dumps(new_record(id_number="1" * (10 * MB))).encode()


def test_submit_10mb_body_with_content_length_is_413(
    gateway: LiveGateway, api: httpx.Client, new_record: RecordFactory
) -> None:
    rows, top = gateway.outbox_rows(), gateway.max_event_id()

    response = api.post("/v1/events", content=_ten_megabytes(new_record), headers={"Content-Type": "application/json"})

    assert_error(response, 413, "body_too_large")
    assert_nothing_stored(gateway, api, rows, top)


def test_submit_10mb_body_chunked_without_length_is_413(
    gateway: LiveGateway, api: httpx.Client, new_record: RecordFactory
) -> None:
    body = _ten_megabytes(new_record)
    rows, top = gateway.outbox_rows(), gateway.max_event_id()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    response = api.post("/v1/events", content=chunks(), headers={"Content-Type": "application/json"})

    assert "content-length" not in response.request.headers
    assert_error(response, 413, "body_too_large")
    assert_nothing_stored(gateway, api, rows, top)


def test_submit_mixed_list_accepts_good_and_rejects_bad_per_record(
    gateway: LiveGateway, api: httpx.Client, new_record: RecordFactory
) -> None:
    good_a, good_b = new_record(), new_record()
    records: list[Any] = [
        good_a,
        new_record(id_number="110105194912310021"),
        good_b,
        new_record(colour="red"),
        {**good_a},
        new_record(occurred_on=_future()),
        7,
    ]
    rows = gateway.outbox_rows()

    response = api.post("/v1/events", json=records)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 1, 4)
    got = [(r["index"], r["status"], r["code"], r["field"]) for r in body["results"]]
    assert got == [
        (0, "accepted", None, None),
        (1, "rejected", "invalid_check_character", "id_number"),
        (2, "accepted", None, None),
        (3, "rejected", "unknown_field", "colour"),
        (4, "duplicate", None, None),
        (5, "rejected", "future_date", "occurred_on"),
        (6, "rejected", "invalid_type", None),
    ]
    results = body["results"]
    assert results[4]["event_id"] == results[0]["event_id"]
    assert all(r["event_id"] is None for r in results if r["status"] == "rejected")
    assert gateway.outbox_rows() == rows + 2


def test_get_event_unknown_id_is_404_and_non_integer_is_422(gateway: LiveGateway, api: httpx.Client) -> None:
    for missing in (gateway.max_event_id() + 1000, 0, -1, 2**63 - 1, 2**63, 10**30):
        assert_error(api.get(f"/v1/events/{missing}"), 404, "not_found")
    error = assert_error(api.get("/v1/events/not-a-number"), 422, "invalid_request")
    assert error["field"].endswith("event_id")


# --------------------------------------------------------------------------------------------- health, metrics, docs


def test_healthz_is_ok(gateway: LiveGateway) -> None:
    with gateway.client() as anonymous:
        response = anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_ready_when_signer_is_active_lender(gateway: LiveGateway) -> None:
    with gateway.client() as anonymous:
        response = anonymous.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ready"] is True
    assert body["signer_active_lender"] is True
    assert body["signer"] == gateway.env.lender.address
    assert body["contracts"] == "ok" and body["ledger_paused"] is False


def test_readyz_503_and_records_refused_when_signer_not_member(
    gw_consortium: Consortium,
    devchain: DevChain,
    accounts: list[LocalAccount],
    tmp_path: Path,
    new_record: RecordFactory,
) -> None:
    with start_gateway(tmp_path, accounts[NON_MEMBER], gw_consortium, devchain, ("submit",)) as outsider:
        with outsider.client() as anonymous:
            ready = anonymous.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert ready.json()["ready"] is False and ready.json()["signer_active_lender"] is False

        with outsider.client(outsider.keys["submit"]) as api:
            # The key-share holders refuse a non-member, so no subject key can be made: nothing is stored.
            response = api.post("/v1/events", json=[new_record(), new_record()])
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "lender_not_active"
            assert "not_active_member" in response.json()["error"]["message"]
            assert outsider.outbox_rows() == 0


def test_readyz_503_and_new_records_wait_while_lender_suspended_then_land(
    governed: Consortium,
    devchain: DevChain,
    accounts: list[LocalAccount],
    tmp_path: Path,
    new_record: RecordFactory,
) -> None:
    """A suspension is reversible: records accepted meanwhile wait in the outbox (they used to fail for good,
    `signer_not_active_lender`, and their record ids could never be sent again) and land after reinstatement.
    Meanwhile the gateway answers no reports (503 `lender_not_active`): its inquiry could not be recorded."""
    lender = accounts[SUSPENDED]
    governed.admit_lender(lender, "Soon Suspended Lender")
    report = {"id_type": "resident_id", "id_number": "11010519491231002X", "purpose": "loan_application",
              "consent_ref": "C-1"}  # fmt: skip
    with (
        start_gateway(tmp_path, lender, governed, devchain, ("submit", "query")) as live,
        live.client(live.keys["submit"]) as api,
        live.client(live.keys["query"]) as underwriter,
        live.client() as anonymous,
    ):
        assert wait_until(lambda: underwriter.post("/v1/reports", json=report).status_code == 200, timeout=30)
        assert anonymous.get("/readyz").status_code == 200
        before = api.post("/v1/events", json=new_record()).json()["results"][0]["event_id"]
        assert live.wait_settled(api, before)["status"] == "confirmed"

        governed.enact(Action.SUSPEND, lender.address)

        ready = anonymous.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert ready.json()["signer_active_lender"] is False
        assert ready.json()["signer_status"] == "lender/suspended"
        after = api.post("/v1/events", json=new_record())
        assert after.status_code == 200, after.text
        waiting = after.json()["results"][0]["event_id"]
        time.sleep(3)  # several submitter rounds
        assert api.get(f"/v1/events/{waiting}").json()["status"] == "pending"
        assert "suspended" in anonymous.get("/readyz").json()["submitter_error"]
        refused = underwriter.post("/v1/reports", json=report)
        assert (refused.status_code, refused.json()["error"]["code"]) == (503, "lender_not_active"), refused.text

        governed.enact(Action.REINSTATE, lender.address)
        assert wait_until(lambda: underwriter.post("/v1/reports", json=report).status_code == 200, timeout=30)
        assert live.wait_settled(api, waiting, timeout=60)["status"] == "confirmed"
        assert api.get(f"/v1/events/{before}").json()["status"] == "confirmed"


def test_metrics_expose_records_outbox_batches_gas_and_latency(
    gateway: LiveGateway, api: httpx.Client, new_record: RecordFactory
) -> None:
    event_id = api.post("/v1/events", json=new_record()).json()["results"][0]["event_id"]
    assert gateway.wait_settled(api, event_id)["status"] == "confirmed"

    with gateway.client() as anonymous:
        response = anonymous.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert metric(text, "creditshare_records_total", required=True) >= 1
    assert 'creditshare_records_total{outcome="accepted"}' in text
    assert metric(text, "creditshare_outbox_depth", required=True) >= 0
    assert metric(text, "creditshare_batches_total", required=True, result="confirmed") >= 1
    assert metric(text, "creditshare_gas_used_total", required=True) > 0
    assert metric(text, "creditshare_accept_to_confirm_seconds_count", required=True) >= 1
    assert "creditshare_accept_to_confirm_seconds_bucket" in text


def test_openapi_documents_events_and_record_schema(gateway: LiveGateway) -> None:
    with gateway.client() as anonymous:
        docs = anonymous.get("/docs")
        spec = anonymous.get("/openapi.json")

    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]
    assert "openapi.json" in docs.text
    assert spec.status_code == 200
    schema = spec.json()
    assert "/v1/events" in schema["paths"] and "post" in schema["paths"]["/v1/events"]
    assert "/v1/events/{event_id}" in schema["paths"]
    record = schema["components"]["schemas"]["CreditEventIn"]
    assert {"record_id", "event_type", "id_type", "id_number", "loan_number", "occurred_on"} <= set(record["required"])
    assert "principal_fen" in record["properties"]
    body = schema["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    assert {"$ref": "#/components/schemas/CreditEventIn"} in body["schema"]["anyOf"]  # one record, or a list


def test_submit_same_record_concurrently_stores_it_once(gateway: LiveGateway, new_record: RecordFactory) -> None:
    record = new_record()
    rows = gateway.outbox_rows()

    def post(_: int) -> dict[str, Any]:
        with gateway.client(gateway.keys["submit"]) as client:
            response = client.post("/v1/events", json=[record, new_record()])
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()["results"][0]
        return result

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(post, range(8)))

    assert sorted(r["status"] for r in results) == ["accepted"] + ["duplicate"] * 7
    assert {r["event_id"] for r in results} == {results[0]["event_id"]}
    assert gateway.outbox_rows() == rows + 1 + 8


def test_gateway_log_has_no_traceback_after_all_requests(gateway: LiveGateway) -> None:
    log = gateway.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    assert "Internal Server Error" not in log
