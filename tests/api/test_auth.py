"""API keys on a real gateway: missing, unknown, revoked and under-scoped keys; both headers; no key in logs."""

from __future__ import annotations

import secrets
import subprocess
import sys
import uuid
from typing import Any

import httpx
import pytest

from creditshare.core.api_clients import revoke_client
from creditshare.core.db import make_engine, session_factory, transaction
from tests.api.conftest import LiveGateway, RecordFactory

ENDPOINTS = [
    pytest.param("POST", "/v1/events", id="post_events"),
    pytest.param("GET", "/v1/events/{event}", id="get_event"),
]


def call(client: httpx.Client, method: str, path: str, record: dict[str, Any]) -> httpx.Response:
    if method == "POST":
        return client.post(path, json=record)
    return client.get(path)


def assert_exact_error(response: httpx.Response, status: int, code: str) -> None:
    """`status` with a body of exactly {"error": {"code", "message", "field"}}."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "field"}, body
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body["error"]["field"] is None
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"


def assert_nothing_stored(gateway: LiveGateway, rows_before: int, top_before: int) -> None:
    assert gateway.outbox_rows() == rows_before
    assert gateway.max_event_id() == top_before
    with gateway.client(gateway.keys["submit"]) as api:
        assert api.get(f"/v1/events/{top_before + 1}").status_code == 404


def fresh_submit_key(gateway: LiveGateway) -> tuple[str, str]:
    """A new client with the submit scope, created while the gateway runs: (name, key)."""
    name = f"auth-{uuid.uuid4().hex[:12]}"
    return name, gateway.env.add_client(name, "submit")


@pytest.fixture(scope="module")
def stored_event(gateway: LiveGateway) -> int:
    """An event of the shared gateway, so GET /v1/events/{id} has something to refuse."""
    record = {
        "record_id": f"AUTH-{uuid.uuid4().hex[:12]}",
        "event_type": "loan_opened",
        "id_type": "resident_id",
        "id_number": "11010519491231002X",
        "loan_number": "L-AUTH-1",
        "occurred_on": "2025-03-01",
        "principal_fen": 100,
    }
    with gateway.client(gateway.keys["submit"]) as api:
        response = api.post("/v1/events", json=record)
    assert response.status_code == 200, response.text
    event_id: int = response.json()["results"][0]["event_id"]
    return event_id


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no_key"),
        pytest.param({"Authorization": "Bearer"}, id="bearer_without_key"),
        pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, id="basic_auth"),
        pytest.param({"Authorization": "Bearer csk_" + secrets.token_urlsafe(32)}, id="unknown_bearer_key"),
        pytest.param({"X-API-Key": "csk_" + secrets.token_urlsafe(32)}, id="unknown_x_api_key"),
        pytest.param({"X-API-Key": "not-a-key"}, id="garbage_x_api_key"),
    ],
)
def test_request_without_valid_key_is_401_and_nothing_stored(
    gateway: LiveGateway,
    new_record: RecordFactory,
    stored_event: int,
    method: str,
    path: str,
    headers: dict[str, str],
) -> None:
    rows, top = gateway.outbox_rows(), gateway.max_event_id()

    with httpx.Client(base_url=gateway.url, headers=headers) as client:
        response = call(client, method, path.format(event=stored_event), new_record())

    assert_exact_error(response, 401, "unauthorized")
    assert_nothing_stored(gateway, rows, top)


def test_post_without_key_and_bad_body_is_401_not_400(gateway: LiveGateway) -> None:
    with gateway.client() as anonymous:
        response = anonymous.post("/v1/events", content=b"{not json", headers={"Content-Type": "application/json"})
    assert_exact_error(response, 401, "unauthorized")


@pytest.mark.parametrize("scope", ["query", "verify", "admin"])
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_request_with_key_lacking_submit_scope_is_403_and_nothing_stored(
    gateway: LiveGateway, new_record: RecordFactory, stored_event: int, scope: str, method: str, path: str
) -> None:
    rows, top = gateway.outbox_rows(), gateway.max_event_id()

    with gateway.client(gateway.keys[scope]) as client:
        response = call(client, method, path.format(event=stored_event), new_record())

    assert_exact_error(response, 403, "forbidden")
    assert "submit" in response.json()["error"]["message"]
    assert_nothing_stored(gateway, rows, top)


@pytest.mark.parametrize("header", ["bearer", "x-api-key"])
def test_submit_key_works_in_either_header(
    gateway: LiveGateway, new_record: RecordFactory, stored_event: int, header: str
) -> None:
    with gateway.client(gateway.keys["submit"], header=header) as client:
        posted = client.post("/v1/events", json=new_record())
        fetched = client.get(f"/v1/events/{stored_event}")

    assert posted.status_code == 200, posted.text
    assert posted.json()["accepted"] == 1
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["event_id"] == stored_event


def test_bearer_scheme_is_case_insensitive(gateway: LiveGateway, stored_event: int) -> None:
    headers = {"Authorization": f"bearer {gateway.keys['submit']}"}
    with httpx.Client(base_url=gateway.url, headers=headers) as client:
        assert client.get(f"/v1/events/{stored_event}").status_code == 200


def test_key_revoked_in_database_is_401_and_nothing_stored(
    gateway: LiveGateway, new_record: RecordFactory, stored_event: int
) -> None:
    name, key = fresh_submit_key(gateway)
    with gateway.client(key) as client:
        assert client.get(f"/v1/events/{stored_event}").status_code == 200
        engine = make_engine(gateway.env.database)
        try:
            with transaction(session_factory(engine)) as session:
                revoke_client(session, name)
        finally:
            engine.dispose()
        rows, top = gateway.outbox_rows(), gateway.max_event_id()

        posted = client.post("/v1/events", json=new_record())
        fetched = client.get(f"/v1/events/{stored_event}")

    assert_exact_error(posted, 401, "unauthorized")
    assert_exact_error(fetched, 401, "unauthorized")
    assert_nothing_stored(gateway, rows, top)


def test_key_revoked_with_cli_is_401_at_once(gateway: LiveGateway, new_record: RecordFactory) -> None:
    name, key = fresh_submit_key(gateway)
    with gateway.client(key, header="x-api-key") as client:
        assert client.post("/v1/events", json=new_record()).status_code == 200

        result = subprocess.run(
            [sys.executable, "-m", "creditshare.cli", "clients", "revoke", name, "--yes"],
            env=gateway.env.environ(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        rows, top = gateway.outbox_rows(), gateway.max_event_id()

        response = client.post("/v1/events", json=new_record())

    assert_exact_error(response, 401, "unauthorized")
    assert_nothing_stored(gateway, rows, top)


def test_api_keys_never_reach_gateway_log_or_database(gateway: LiveGateway, new_record: RecordFactory) -> None:
    name, revoked = fresh_submit_key(gateway)
    unknown = "csk_" + secrets.token_urlsafe(32)
    with gateway.client(revoked) as client:
        assert client.post("/v1/events", json=new_record()).status_code == 200
    engine = make_engine(gateway.env.database)
    try:
        with transaction(session_factory(engine)) as session:
            revoke_client(session, name)
    finally:
        engine.dispose()
    keys = [*gateway.keys.values(), revoked, unknown]
    for key in keys:  # good, bad and revoked requests, in both headers, on every route kind
        for header in ("bearer", "x-api-key"):
            with gateway.client(key, header=header) as client:
                client.post("/v1/events", json=new_record())
                client.post("/v1/events", content=b"{broken")
                client.get("/v1/events/999999")
                client.get("/readyz")

    log = gateway.log_path.read_bytes()
    stored = b"".join(p.read_bytes() for p in gateway.env.home.iterdir() if p.name.startswith("gateway.db"))
    for key in keys:
        assert key.encode() not in log
        assert key.encode() not in stored
        assert key.split("_", 1)[1].encode() not in log
    assert gateway.env.lender.address.encode() in log  # it is the gateway's own log
