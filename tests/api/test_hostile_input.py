"""Hostile or careless callers (issue 11, items 1 and 2), against the package's real gateway over HTTP.

Every bad input gets a 4xx with the documented error body and changes nothing; a record's bad value rejects only
that record; ID numbers of other scripts are never a second person; error messages never repeat an ID; every
status an operation answers is in its OpenAPI document; a 405 says what is allowed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import LiveGateway, RecordFactory
from tests.api.test_submit_api import assert_error, assert_nothing_stored
from tests.support.records import VALID_RESIDENT_ID, unique_id

MB = 1024 * 1024
VALID_USCC = "91350100M000100Y43"
HUGE = "9" * 5000  # over Python's 4,300-digit limit for int(): json.loads raises ValueError on it

# ------------------------------------------------------------------------------------------ identity aliasing


def _in_script(value: str, zero: int, keep: int = 1) -> str:
    """`value` with every digit after the first `keep` characters written in the script whose zero is `zero`."""
    return value[:keep] + "".join(chr(zero + int(c)) if c.isdigit() else c for c in value[keep:])


ARABIC_INDIC, DEVANAGARI, THAI = 0x0660, 0x0966, 0x0E50
#: ID numbers that are valid ones written (partly) in digits NFKC does not fold: one person, another spelling.
NON_ASCII_IDS = [
    pytest.param("resident_id", _in_script(VALID_RESIDENT_ID, ARABIC_INDIC), id="resident_arabic_indic"),
    pytest.param("resident_id", _in_script(VALID_RESIDENT_ID, DEVANAGARI, keep=0), id="resident_devanagari"),
    pytest.param("resident_id", VALID_RESIDENT_ID[:17].replace("2", chr(THAI + 2)) + "X", id="resident_thai_two"),
    pytest.param("uscc", VALID_USCC[:7] + chr(ARABIC_INDIC) + VALID_USCC[8:], id="uscc_arabic_indic_zero"),
    pytest.param("uscc", _in_script(VALID_USCC, DEVANAGARI, keep=2), id="uscc_devanagari"),
    pytest.param("other", _in_script("E1234 5678", ARABIC_INDIC), id="other_arabic_indic"),
]
#: Invalid resident IDs whose old messages quoted the birth date or the check characters.
LEAKY_IDS = [
    pytest.param("110105207001010010", id="born_in_the_future"),
    pytest.param("11010519491331002X", id="month_13"),
    pytest.param("110105194912310021", id="check_character"),
]


def assert_no_id_in(message: str, id_number: str) -> None:
    """The message repeats no number of 3+ digits (so no birth date, no ID) and no check character verdict."""
    assert not re.search(r"[0-9]{3}", message), message
    assert id_number[6:14] not in message and "should be" not in message, message


@pytest.fixture
def query_api(gateway: LiveGateway) -> Iterator[httpx.Client]:
    with gateway.client(gateway.keys["query"]) as client:
        yield client


@pytest.fixture
def verify_api(gateway: LiveGateway) -> Iterator[httpx.Client]:
    with gateway.client(gateway.keys["verify"]) as client:
        yield client


def report_request(id_type: str = "resident_id", id_number: str = VALID_RESIDENT_ID) -> dict[str, Any]:
    return {"id_type": id_type, "id_number": id_number, "purpose": "loan_application", "consent_ref": unique_id("C")}


def verify_request(gateway: LiveGateway, record: dict[str, Any]) -> dict[str, Any]:
    return {"lender": gateway.env.lender.address, "record": record}


@pytest.mark.parametrize(("id_type", "id_number"), NON_ASCII_IDS)
def test_events_refuse_an_id_in_another_script_with_invalid_id(
    gateway: LiveGateway, api: httpx.Client, new_record: RecordFactory, id_type: str, id_number: str
) -> None:
    rows, top = gateway.outbox_rows(), gateway.max_event_id()

    response = api.post("/v1/events", json=new_record(id_type=id_type, id_number=id_number))

    error = assert_error(response, 422, "invalid_id", "id_number")
    assert error["results"][0]["code"] == "invalid_id"
    assert_nothing_stored(gateway, api, rows, top)


@pytest.mark.parametrize(("id_type", "id_number"), NON_ASCII_IDS)
def test_reports_refuse_an_id_in_another_script_with_invalid_id(
    gateway: LiveGateway, api: httpx.Client, query_api: httpx.Client, id_type: str, id_number: str
) -> None:
    rows, top = gateway.outbox_rows(), gateway.max_event_id()

    response = query_api.post("/v1/reports", json=report_request(id_type, id_number))

    assert_error(response, 422, "invalid_id", "id_number")
    assert_nothing_stored(gateway, api, rows, top)  # no inquiry queued


@pytest.mark.parametrize(("id_type", "id_number"), NON_ASCII_IDS)
def test_verify_refuses_an_id_in_another_script_with_invalid_id(
    gateway: LiveGateway, verify_api: httpx.Client, new_record: RecordFactory, id_type: str, id_number: str
) -> None:
    record = new_record(id_type=id_type, id_number=id_number)

    response = verify_api.post("/v1/verify", json=verify_request(gateway, record))

    assert_error(response, 422, "invalid_id", "record.id_number")


@pytest.mark.parametrize("id_number", LEAKY_IDS)
def test_no_route_repeats_the_id_or_its_birth_date_in_an_error(
    gateway: LiveGateway,
    api: httpx.Client,
    query_api: httpx.Client,
    verify_api: httpx.Client,
    new_record: RecordFactory,
    id_number: str,
) -> None:
    record = new_record(id_number=id_number)
    answers = {
        "events": api.post("/v1/events", json=record),
        "reports": query_api.post("/v1/reports", json=report_request(id_number=id_number)),
        "verify": verify_api.post("/v1/verify", json=verify_request(gateway, record)),
    }
    for route, response in answers.items():
        # Verify checks a disclosed record's ID without today's date (a record may be old), so the one born in the
        # future fails there on its check character instead.
        bad_check = id_number == "110105194912310021" or (route == "verify" and id_number == "110105207001010010")
        error = assert_error(response, 422, "invalid_check_character" if bad_check else "invalid_id")
        assert_no_id_in(error["message"], id_number)
        assert route != "events" or error["results"][0]["message"] == error["message"]


# ------------------------------------------------------------------------------------------ numbers too large


def _with_raw(record: dict[str, Any], field: str, raw_number: str) -> str:
    """The record as JSON text with `field` set to the literal `raw_number` (json.dumps cannot write a huge int)."""
    marker = "__RAW_NUMBER__"
    return json.dumps({**record, field: marker}).replace(f'"{marker}"', raw_number)


def test_a_huge_number_in_one_of_1000_records_rejects_only_that_record(
    gateway: LiveGateway, api: httpx.Client, new_record: RecordFactory
) -> None:
    records = [json.dumps(new_record()) for _ in range(1000)]
    records[417] = _with_raw(new_record(), "principal_fen", HUGE)
    rows = gateway.outbox_rows()

    response = api.post("/v1/events", content=f"[{','.join(records)}]", headers={"Content-Type": "application/json"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (999, 0, 1)
    bad = body["results"][417]
    assert (bad["status"], bad["code"], bad["field"]) == ("rejected", "invalid_amount", "principal_fen")
    assert HUGE[:20] not in bad["message"]
    assert gateway.outbox_rows() == rows + 999


@pytest.mark.parametrize(
    ("field", "raw", "code"),
    [
        pytest.param("principal_fen", HUGE, "invalid_amount", id="amount_5000_digits"),
        pytest.param("principal_fen", "-" + HUGE, "invalid_amount", id="negative_amount_5000_digits"),
        pytest.param("principal_fen", "1e400", "invalid_amount", id="amount_1e400"),
        pytest.param("principal_fen", "1" + "0" * 70, "invalid_amount", id="amount_71_digits"),
        pytest.param("principal_fen", "5000000.5", "invalid_amount", id="amount_with_fraction"),
        pytest.param("overdue_fen", HUGE, "invalid_amount", id="overdue_5000_digits"),
        pytest.param("days_past_due", HUGE, "out_of_range", id="days_past_due_5000_digits"),
        pytest.param("record_id", HUGE, "invalid_type", id="record_id_5000_digits"),
        pytest.param("occurred_on", HUGE, "invalid_date", id="date_5000_digits"),
    ],
)
def test_a_number_no_field_can_hold_is_a_per_record_4xx(
    gateway: LiveGateway, api: httpx.Client, new_record: RecordFactory, field: str, raw: str, code: str
) -> None:
    rows, top = gateway.outbox_rows(), gateway.max_event_id()
    body = _with_raw(new_record(), field, raw)

    response = api.post("/v1/events", content=body, headers={"Content-Type": "application/json"})

    error = assert_error(response, 422, code, field)
    assert error["results"][0]["code"] == code
    assert_nothing_stored(gateway, api, rows, top)


@pytest.mark.parametrize("raw", ["5000000.0", "5e6", "5.0E+6"])
def test_an_integer_written_with_a_fraction_or_exponent_is_that_integer(
    api: httpx.Client, new_record: RecordFactory, raw: str
) -> None:
    """JSON numbers are read by value, as the published JSON Schema reads them (5000000.0 is an integer)."""
    response = api.post(
        "/v1/events",
        content=_with_raw(new_record(), "principal_fen", raw),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1


def test_reports_and_verify_answer_a_huge_number_with_422(
    gateway: LiveGateway, query_api: httpx.Client, verify_api: httpx.Client, new_record: RecordFactory
) -> None:
    report = _with_raw(report_request(), "id_number", HUGE)
    verify = json.dumps(verify_request(gateway, {**new_record(), "overdue_fen": "__N__"})).replace('"__N__"', HUGE)
    headers = {"Content-Type": "application/json"}

    assert_error(query_api.post("/v1/reports", content=report, headers=headers), 422, "invalid_request", "id_number")
    error = assert_error(
        verify_api.post("/v1/verify", content=verify, headers=headers), 422, "invalid_request", "record.overdue_fen"
    )
    assert HUGE[:20] not in error["message"]


# ------------------------------------------------------------------------------------------ body errors


SCOPE_OF = {"/v1/reports": "query", "/v1/verify": "verify"}
BAD_BODIES = [
    pytest.param(b'{"id_type": "resident_id", "id_number": "\xff\xfe"}', id="invalid_utf8"),
    pytest.param(b"[" * 5000 + b"]" * 5000, id="nested_5000_deep"),
    pytest.param(b'{"a":' * 50_000 + b"1" + b"}" * 50_000, id="nested_objects_50000_deep"),
    pytest.param(b'{"id_type": "resident_id",', id="malformed"),
    pytest.param(b"", id="empty"),
    pytest.param(b"{'id_type': 'other'}", id="single_quotes"),
    pytest.param(b"\xef\xbb\xbf{}", id="utf8_bom"),
    pytest.param(b'{"id_type": NaN}', id="nan"),
    pytest.param(b'{"id_type": -Infinity}', id="infinity"),
]


@pytest.mark.parametrize("path", ["/v1/reports", "/v1/verify"])
@pytest.mark.parametrize("body", BAD_BODIES)
def test_query_routes_answer_a_body_that_is_not_json_with_invalid_json(
    gateway: LiveGateway, api: httpx.Client, path: str, body: bytes
) -> None:
    rows, top = gateway.outbox_rows(), gateway.max_event_id()
    with gateway.client(gateway.keys[SCOPE_OF[path]]) as client:
        response = client.post(path, content=body, headers={"Content-Type": "application/json"})

    assert_error(response, 400, "invalid_json")
    assert_nothing_stored(gateway, api, rows, top)


def test_events_answer_nan_which_is_not_json_with_invalid_json(gateway: LiveGateway, api: httpx.Client) -> None:
    response = api.post("/v1/events", content=b'{"principal_fen": NaN}', headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_json")


@pytest.mark.parametrize("path", ["/v1/reports", "/v1/verify"])
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{not json", id="malformed"),
        pytest.param(b'{"id_type": "\xff"}', id="invalid_utf8"),
        pytest.param(b"[" * 5000, id="nested_5000_deep"),
    ],
)
def test_query_routes_check_the_key_before_the_body(gateway: LiveGateway, path: str, body: bytes) -> None:
    with gateway.client() as anonymous:
        response = anonymous.post(path, content=body, headers={"Content-Type": "application/json"})
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("path", ["/v1/reports", "/v1/verify"])
def test_query_routes_count_a_chunked_body_and_refuse_it_over_the_limit(gateway: LiveGateway, path: str) -> None:
    body = json.dumps(report_request(id_number="1" * (3 * MB))).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    with gateway.client(gateway.keys[SCOPE_OF[path]]) as client:
        response = client.post(path, content=chunks(), headers={"Content-Type": "application/json"})

    assert "content-length" not in response.request.headers
    assert_error(response, 413, "body_too_large")


# ------------------------------------------------------------------------------------------ 405 and OpenAPI


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/v1/events", "POST"),
        ("DELETE", "/v1/events", "POST"),
        ("PUT", "/v1/events/1", "GET"),
        ("GET", "/v1/reports", "POST"),
        ("PATCH", "/v1/verify", "POST"),
        ("POST", "/healthz", "GET"),
        ("TRACE", "/readyz", "GET"),
        ("DELETE", "/metrics", "GET"),
        # Two routes on one path: Allow names both (the router alone named the first one's only; schemathesis).
        ("OPTIONS", "/v1/disputes", "GET"),
        ("PATCH", "/v1/disputes", "POST"),
    ],
)
def test_405_carries_allow(gateway: LiveGateway, method: str, path: str, allowed: str) -> None:
    with gateway.client(gateway.keys["admin"]) as client:
        response = client.request(method, path)
    assert_error(response, 405, "method_not_allowed")
    assert allowed in {m.strip() for m in response.headers["allow"].split(",")}


#: Every status each operation can answer (docs/api.md), as its OpenAPI document must declare them.
DECLARED = {
    ("post", "/v1/events"): {"200", "400", "401", "403", "413", "422", "429", "503"},  # 429/503: key-share holders
    ("get", "/v1/events/{event_id}"): {"200", "401", "403", "404", "413", "422"},
    ("post", "/v1/reports"): {"200", "400", "401", "403", "413", "422", "429", "503"},
    ("post", "/v1/verify"): {"200", "400", "401", "403", "413", "422", "429", "503"},
    ("post", "/v1/borrower/report"): {"200", "400", "401", "403", "413", "422", "429", "503"},
    ("post", "/v1/borrower/objections"): {"201", "400", "401", "403", "404", "409", "413", "422", "429", "503"},
    ("post", "/v1/disputes"): {"201", "400", "401", "403", "404", "409", "413", "422", "429", "503"},
    ("get", "/v1/disputes"): {"200", "401", "403", "413", "422"},
    ("get", "/v1/disputes/{dispute_id}"): {"200", "401", "403", "404", "413", "422"},
    ("post", "/v1/disputes/{dispute_id}/resolve"): {"200", "400", "401", "403", "404", "409", "413", "422", "503"},
    ("get", "/v1/alerts"): {"200", "401", "403", "413", "422"},
    ("put", "/v1/watchlist"): {"204", "400", "401", "403", "413", "422", "429", "503"},
    ("get", "/healthz"): {"200", "413"},
    ("get", "/readyz"): {"200", "413", "503"},
    ("get", "/metrics"): {"200", "413"},
}


@pytest.fixture(scope="module")
def served_openapi(gateway: LiveGateway) -> dict[str, Any]:
    with gateway.client() as anonymous:
        document: dict[str, Any] = anonymous.get("/openapi.json").json()
    return document


def test_openapi_declares_every_status_of_every_operation(served_openapi: dict[str, Any]) -> None:
    declared = {
        (method, path): set(operation["responses"])
        for path, operations in served_openapi["paths"].items()
        for method, operation in operations.items()
    }
    assert declared == DECLARED
    for (method, path), statuses in DECLARED.items():
        responses = served_openapi["paths"][path][method]["responses"]
        errors = statuses - ({"200", "503"} if path == "/readyz" else {"200", "201", "204"})
        for status in errors:
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)
    assert "WWW-Authenticate" in served_openapi["paths"]["/v1/reports"]["post"]["responses"]["401"]["headers"]
    assert "lender_not_active" in served_openapi["paths"]["/v1/reports"]["post"]["responses"]["503"]["description"]


def test_openapi_documents_metrics_as_text_and_events_as_a_record_or_a_list(
    gateway: LiveGateway, served_openapi: dict[str, Any]
) -> None:
    metrics = served_openapi["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]
    with gateway.client() as anonymous:
        assert anonymous.get("/metrics").headers["content-type"].startswith("text/plain")
    body = served_openapi["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    record = {"$ref": "#/components/schemas/CreditEventIn"}
    assert body["anyOf"] == [record, {"type": "array", "items": record, "minItems": 1, "maxItems": 1000}]


def test_every_status_observed_is_declared_for_its_operation(
    gateway: LiveGateway, served_openapi: dict[str, Any], new_record: RecordFactory
) -> None:
    big = b"x" * (3 * MB)
    keys = gateway.keys
    requests: list[tuple[str, str, str, dict[str, Any]]] = [
        ("get", "/v1/events/{event_id}", "/v1/events/999999999", {"key": "submit"}),
        ("get", "/v1/events/{event_id}", "/v1/events/abc", {"key": "submit"}),
        ("get", "/v1/events/{event_id}", "/v1/events/1", {"key": "query"}),
        ("get", "/v1/events/{event_id}", "/v1/events/1", {}),
        ("get", "/v1/events/{event_id}", "/v1/events/1", {"key": "submit", "content": big}),
        ("post", "/v1/events", "/v1/events", {"key": "submit", "content": b"{"}),
        ("post", "/v1/events", "/v1/events", {"key": "submit", "json": [new_record()] * 1001}),
        ("post", "/v1/reports", "/v1/reports", {"key": "query", "content": b"\xff"}),
        ("post", "/v1/reports", "/v1/reports", {"key": "query", "json": {"id_type": "uscc"}}),
        ("post", "/v1/verify", "/v1/verify", {"key": "verify", "json": {"lender": "0x1"}}),
        ("post", "/v1/verify", "/v1/verify", {"key": "query", "json": {}}),
        ("get", "/healthz", "/healthz", {"content": big}),
        ("get", "/readyz", "/readyz", {"content": big}),
        ("get", "/metrics", "/metrics", {"content": big}),
    ]
    for method, template, url, how in requests:
        headers = {"Authorization": f"Bearer {keys[how['key']]}"} if "key" in how else {}
        with httpx.Client(base_url=gateway.url, headers=headers, timeout=30) as client:
            response = client.request(method.upper(), url, content=how.get("content"), json=how.get("json"))
        responses = served_openapi["paths"][template][method]["responses"]
        assert str(response.status_code) in responses, (method, url, response.status_code, sorted(responses))
