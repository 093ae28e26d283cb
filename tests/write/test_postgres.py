"""The gateway on PostgreSQL: the same real `creditshare serve` with CREDITSHARE_DATABASE_URL set to a server.

Each test gets a database of its own (CREATE DATABASE with a unique name, dropped afterwards). The tests skip
only when no server answers on 127.0.0.1:5432; any other database problem fails them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import func, select
from web3 import Web3

from creditshare.core.db import make_engine, session_factory
from creditshare.core.db.tables import OutboxItem
from creditshare.devtools.devchain import DevChain
from tests.support import Consortium
from tests.support.exactly_once import (
    Record,
    assert_exactly_once,
    assert_no_internal_errors,
    headers,
    make_records,
    post_accepted,
    post_in_threads,
    record_hashes,
    status_counts,
    wait_all_confirmed,
    wait_mid_stream,
)
from tests.support.gateways import GatewayEnv, GatewayProcess
from tests.write.test_faults import LENDER_A, LENDER_B, isolated_consortium, launch


@pytest.fixture
def consortium(w3: Web3, accounts: list[LocalAccount]) -> Consortium:
    """Fresh contracts run by accounts no other test package touches (see test_faults)."""
    return isolated_consortium(w3, accounts)


def post(url: str, key: str, records: Sequence[Record]) -> dict[str, Any]:
    """POST records; assert 200; return the body."""
    response = httpx.post(f"{url}/v1/events", json=list(records), headers=headers(key), timeout=60)
    assert response.status_code == 200, f"{response.status_code}: {response.text[:500]}"
    body: dict[str, Any] = response.json()
    return body


def event_ids(body: dict[str, Any]) -> dict[str, int]:
    return {r["record_id"]: int(r["event_id"]) for r in body["results"]}


def pg_env(tmp_path: Path, lender: LocalAccount, devchain: DevChain, consortium: Consortium, url: str) -> GatewayEnv:
    env = GatewayEnv(tmp_path / "gateway", lender, devchain.rpc_url, consortium.deployment, database_url=url)
    assert env.environ()["CREDITSHARE_DATABASE_URL"] == url
    return env


@pytest.mark.slow
def test_postgres_outbox_records_confirmed_exactly_once_duplicates_detected(
    tmp_path: Path,
    devchain: DevChain,
    consortium: Consortium,
    accounts: list[LocalAccount],
    gateways: list[GatewayProcess],
    pg_url: str,
) -> None:
    """900 records (300 of them raced by two clients at once) land once each; every repeat is a duplicate
    pointing at the original event, within a request, across concurrent requests and after confirmation."""
    lender = accounts[LENDER_A]
    env = pg_env(tmp_path, lender, devchain, consortium, pg_url)
    key = env.add_client("loans", "submit")
    launch(env, gateways)
    engine = make_engine(pg_url)
    assert engine.dialect.name == "postgresql"

    records = make_records("PG", 900)
    bodies: dict[str, dict[str, Any]] = {}

    def job(name: str, chunk: Sequence[Record]) -> None:
        bodies[name] = post(env.url, key, chunk)

    post_in_threads(
        [
            lambda: job("race-a", records[:300]),
            lambda: job("race-b", records[:300]),
            lambda: job("rest-1", records[300:600]),
            lambda: job("rest-2", records[600:]),
        ]
    )
    race_a, race_b = bodies["race-a"], bodies["race-b"]
    assert race_a["accepted"] + race_b["accepted"] == 300, (race_a["accepted"], race_b["accepted"])
    assert race_a["duplicates"] + race_b["duplicates"] == 300
    assert event_ids(race_a) == event_ids(race_b), "a raced record got two different event ids"
    assert bodies["rest-1"]["accepted"] == bodies["rest-2"]["accepted"] == 300
    original_ids = event_ids(race_a) | event_ids(bodies["rest-1"]) | event_ids(bodies["rest-2"])
    assert len(set(original_ids.values())) == 900

    twin = make_records("PG-TWIN", 1)[0]
    body = post(env.url, key, [twin, twin])
    assert [r["status"] for r in body["results"]] == ["accepted", "duplicate"], body
    assert body["results"][0]["event_id"] == body["results"][1]["event_id"]
    accepted = [*records, twin]

    wait_all_confirmed(engine, lender.address, len(accepted), env.home)
    summary = assert_exactly_once(consortium, lender.address, record_hashes(accepted, lender.address), engine)
    assert summary["on_chain"] == 901

    again = post(env.url, key, records[:50] + records[850:])
    assert again["accepted"] == 0 and again["duplicates"] == 100, again
    assert all(original_ids[r["record_id"]] == r["event_id"] for r in again["results"])
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(OutboxItem)) == len(accepted)
    event = httpx.get(f"{env.url}/v1/events/{original_ids[records[0]['record_id']]}", headers=headers(key)).json()
    assert event["status"] == "confirmed" and event["tx_hash"] and event["log_index"] is not None, event
    assert_exactly_once(consortium, lender.address, record_hashes(accepted, lender.address), engine)
    assert_no_internal_errors(env.home)
    print(f"postgres: {summary}")
    engine.dispose()


@pytest.mark.slow
def test_postgres_gateway_sigkill_mid_batch_recovers_exactly_once(
    tmp_path: Path,
    devchain: DevChain,
    consortium: Consortium,
    accounts: list[LocalAccount],
    gateways: list[GatewayProcess],
    pg_url: str,
) -> None:
    """SIGKILL with a batch in flight; the restarted gateway takes over the expired lease (timestamps in
    PostgreSQL) and settles every batch exactly once."""
    lender = accounts[LENDER_B]
    env = pg_env(tmp_path, lender, devchain, consortium, pg_url)
    key = env.add_client("loans", "submit")
    launch(env, gateways)
    engine = make_engine(pg_url)

    records = make_records("PG-KILL", 1000)
    for i in range(0, 1000, 250):
        post_accepted(env.url, key, records[i : i + 250])
    wait_mid_stream(engine, lender.address, len(records))
    gateways[-1].kill()
    at_kill = status_counts(engine, lender.address)
    assert 0 < at_kill.get("confirmed", 0) < len(records), at_kill

    launch(env, gateways)
    wait_all_confirmed(engine, lender.address, len(records), env.home)
    summary = assert_exactly_once(consortium, lender.address, record_hashes(records, lender.address), engine)
    assert_no_internal_errors(env.home)
    print(f"postgres SIGKILL at {at_kill}; {summary}")
    engine.dispose()
