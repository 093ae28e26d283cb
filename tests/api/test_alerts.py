"""Post-loan alerts over real HTTP on a real chain, delivered to a real webhook receiver on loopback: each alert
kind, none for the lender's own events or unwatched subjects, the cursor feed, retries until a receiver
recovers (exactly once by id), dead letters re-delivered by the CLI, and a gateway killed mid-delivery."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from creditshare.devtools.devchain import DevChain, free_port
from creditshare.devtools.samples import numbered_resident_id
from creditshare.domain.codec import ItemType
from tests.support import Consortium, credit_item, inquiry_item
from tests.support.gateways import GatewayEnv, GatewayProcess, wait_until
from tests.support.holders import subject_key_of
from tests.support.records import build_record
from tests.support.webhooks import Receiver

WATCHER, OTHER = 5, 10  # dev accounts: the gateway's lender, and another lender the test writes for
TODAY = dt.date.today()


def person(n: int) -> tuple[str, bytes]:
    """A resident ID of this module and its v2 subject key."""
    number = numbered_resident_id(700 + n)
    return number, subject_key_of("resident_id", number)


@dataclass
class Post:
    """The watcher's gateway and what the tests need around it."""

    c: Consortium
    env: GatewayEnv
    process: GatewayProcess
    keys: dict[str, str]
    other: LocalAccount
    watcher: str

    def api(self, scope: str) -> httpx.Client:
        return httpx.Client(base_url=self.env.url, headers={"Authorization": f"Bearer {self.keys[scope]}"}, timeout=30)

    def sql(self, statement: str, *args: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.env.home / "gateway.db", timeout=10) as db:
            return list(db.execute(statement, args))

    def indexed(self) -> int:
        return int(httpx.get(self.env.url + "/readyz", timeout=10).json().get("indexed_block") or 0)

    def caught_up(self) -> None:
        head = self.c.w3.eth.block_number
        wait_until(lambda: self.indexed() >= head, 30)

    def open_loan(self, id_number: str, loan_number: str) -> str:
        """The watcher opens a loan for the person (through its API); returns the record's hash once indexed."""
        record = build_record(id_number=id_number, loan_number=loan_number, occurred_on=TODAY.isoformat())
        with self.api("submit") as api:
            accepted = api.post("/v1/events", json=record)
            assert accepted.status_code in (200, 202), accepted.text
            event_id = accepted.json()["results"][0]["event_id"]
            body = wait_until(
                lambda: (b := api.get(f"/v1/events/{event_id}").json())["status"] == "confirmed" and b, 30
            )
        self.caught_up()
        return str(body["record_hash"])

    def other_records(self, items: list[tuple[bytes, bytes, bytes, int]]) -> None:
        self.c.record(self.other, items)

    def alerts(self, after: int = 0) -> dict[str, Any]:
        with self.api("alerts") as api:
            response = api.get("/v1/alerts", params={"after": after, "limit": 1000})
        assert response.status_code == 200, response.text
        return dict(response.json())

    def cursor(self) -> int:
        return int(self.alerts()["next_cursor"])

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "creditshare.cli", *args],
            env=self.env.environ(),
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture(scope="module")
def post(
    w3: Web3, accounts: list[LocalAccount], devchain: DevChain, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Post]:
    c = Consortium.deploy(w3, accounts, governors=accounts[:3], threshold=2)
    c.admit_lender(accounts[WATCHER], "Watching Lender")
    c.admit_lender(accounts[OTHER], "Other Lender")
    env = GatewayEnv(
        home=tmp_path_factory.mktemp("alerts"),
        lender=accounts[WATCHER],
        rpc_url=devchain.rpc_url,
        deployment=c.deployment,
        extra={
            "CREDITSHARE_WEBHOOK_FIRST_RETRY": "0.2",
            "CREDITSHARE_WEBHOOK_MAX_RETRY": "0.4",
            "CREDITSHARE_WEBHOOK_RETRY_WINDOW": "3",
            "CREDITSHARE_WEBHOOK_TIMEOUT": "5",
        },
    )
    keys = {scope: env.add_client(f"alerts-{scope}", scope) for scope in ("submit", "alerts")}
    process = GatewayProcess(env).start()
    try:
        yield Post(c, env, process, keys, accounts[OTHER], accounts[WATCHER].address.lower())
    finally:
        process.stop()


def overdue(subject: bytes) -> tuple[bytes, bytes, bytes, int]:
    return credit_item(ItemType.OVERDUE, TODAY, 400_000, 50_000, 12, subject_key=subject)


def test_each_kind_for_watched_subjects_only_never_for_own_events(post: Post) -> None:
    watched_id, watched = person(1)
    _, stranger = person(2)
    explicit_id, explicit = person(3)
    own_record = post.open_loan(watched_id, "LN-1001")
    start = post.cursor()

    post.other_records(
        [
            credit_item(ItemType.LOAN_OPENED, TODAY, 300_000, subject_key=watched),
            overdue(watched),
            credit_item(ItemType.DEFAULT, TODAY, 300_000, 300_000, 95, subject_key=watched),
            credit_item(ItemType.WRITTEN_OFF, TODAY, 300_000, 300_000, 200, subject_key=watched),
            credit_item(ItemType.REPAYMENT, TODAY, 250_000, subject_key=watched),  # not a kind that alerts
            inquiry_item(1, subject_key=watched),
            credit_item(ItemType.LOAN_OPENED, TODAY, 300_000, subject_key=stranger),  # nobody watches
        ]
    )
    objection = bytes([0x0D]) * 32
    opened = post.c.tx(post.other).transact(
        post.c.ledger.functions.openDispute(post.c.accounts[WATCHER].address, bytes.fromhex(own_record[2:]), objection)
    )
    # The watcher's own overdue of the same person raises nothing.
    own = build_record(
        id_number=watched_id, loan_number="LN-1001", event_type="overdue", occurred_on=TODAY.isoformat(),
        outstanding_fen=4_000_000, overdue_fen=100_000, days_past_due=3, principal_fen=...,
    )  # fmt: skip
    with post.api("submit") as api:
        assert api.post("/v1/events", json=own).status_code in (200, 202)
    wait_until(lambda: len(post.alerts(start)["alerts"]) >= 6, 30)
    time.sleep(1.5)  # the own overdue is batched within 0.05 s; let it land and be indexed too
    post.caught_up()

    page = post.alerts(start)
    alerts = page["alerts"]
    kinds = sorted(a["kind"] for a in alerts)
    assert kinds == sorted(["new_loan", "overdue", "default", "write_off", "inquiry", "dispute_opened"])
    assert {a["reference"] for a in alerts} == {"LN-1001"}  # the watcher's own loan number
    assert {a["subject_key"] for a in alerts} == {"0x" + watched.hex()}
    assert {a["other_lender_name"] for a in alerts} == {"Other Lender"}
    assert all(a["occurred_on"] == TODAY.isoformat() or a["kind"] in ("inquiry", "dispute_opened") for a in alerts)
    (dispute,) = [a for a in alerts if a["kind"] == "dispute_opened"]
    block_time = dt.datetime.fromisoformat(dispute["block_time"])
    assert dt.datetime.fromisoformat(dispute["deadline"]) == block_time + dt.timedelta(days=20)
    assert dispute["dispute_id"] == f"{opened['blockNumber']}-{opened['logs'][0]['logIndex']}"
    assert set(alerts[0]) >= {"id", "kind", "reference", "block_number"}
    assert not {"amount_fen", "overdue_fen", "days_past_due", "record_hash"} & set(alerts[0])  # a report's view only
    assert [a["id"] for a in alerts] == sorted(a["id"] for a in alerts)
    assert post.alerts(page["next_cursor"]) == {"alerts": [], "next_cursor": page["next_cursor"]}  # read once

    # An explicitly watched person alerts with the lender's reference; one no longer watched does not.
    with post.api("alerts") as api:
        body = {"id_type": "resident_id", "id_number": explicit_id, "verification_ref": "KYC-W", "reference": "CUST-3"}
        assert api.put("/v1/watchlist", json=body).status_code == 204
        stop = {"id_type": "resident_id", "id_number": watched_id, "verification_ref": "KYC-S", "reference": "LN-1001"}
        assert api.put("/v1/watchlist", json={**stop, "watching": False}).status_code == 204
        bad = api.put("/v1/watchlist", json={**body, "id_number": "110105198505050012"})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_check_character"
        # Found by schemathesis: an unknown id type and a cursor past SQLite's integers were 500s.
        kind = api.put("/v1/watchlist", json={**body, "id_type": "AAA"})
        assert kind.status_code == 422 and kind.json()["error"]["code"] == "invalid_id_type"
        huge = api.get("/v1/alerts", params={"after": 2**64})
        assert huge.status_code == 422 and huge.json()["error"]["code"] == "invalid_request"
    cursor = page["next_cursor"]
    post.other_records([overdue(explicit), overdue(watched)])
    post.caught_up()
    later = post.alerts(cursor)["alerts"]
    assert [(a["kind"], a["reference"], a["subject_key"]) for a in later] == [
        ("overdue", "CUST-3", "0x" + explicit.hex())
    ]


def add_webhook(post: Post, receiver: Receiver) -> int:
    added = post.cli("webhooks", "add", receiver.url)
    assert added.returncode == 0, added.stderr
    receiver.secret = next(w for w in added.stdout.split() if w.startswith("whsec_"))
    return int(added.stdout.split("webhook ", 1)[1].split()[0])


def new_alert_ids(post: Post, after: int, count: int) -> list[int]:
    wait_until(lambda: len(post.alerts(after)["alerts"]) >= count, 30)
    return [a["id"] for a in post.alerts(after)["alerts"]]


def test_a_receiver_failing_three_times_gets_the_alert_once_by_id(post: Post) -> None:
    someone_id, someone = person(10)
    post.open_loan(someone_id, "LN-2001")
    receiver = Receiver(fail_first=3).start()
    endpoint = add_webhook(post, receiver)
    try:
        start = post.cursor()
        post.other_records([overdue(someone)])
        (alert_id,) = new_alert_ids(post, start, 1)
        wait_until(lambda: f"alert_{alert_id}" in receiver.accepted, 15)
        time.sleep(0.5)  # any extra attempt would arrive now
        assert receiver.attempts_of(f"alert_{alert_id}") == 4  # 3 failures, then the one accepted
        assert list(receiver.accepted) == [f"alert_{alert_id}"] and receiver.bad_signatures == 0
        body = receiver.accepted[f"alert_{alert_id}"]
        assert body["type"] == "alert.overdue" and body["data"]["reference"] == "LN-2001"
        row = post.sql("SELECT state, attempts FROM webhook_deliveries WHERE alert_id = ?", alert_id)
        assert row == [("delivered", 4)]
        listed = post.cli("webhooks", "list")
        assert listed.returncode == 0 and receiver.url in listed.stdout
        pinged = post.cli("webhooks", "test", str(endpoint))
        assert pinged.returncode == 0, pinged.stderr
    finally:
        assert post.cli("webhooks", "remove", str(endpoint)).returncode == 0
        receiver.stop()
    gone = post.cli("webhooks", "test", str(endpoint))
    assert gone.returncode == 1 and "unknown_endpoint" in gone.stderr


def test_a_receiver_down_past_the_retry_window_is_dead_lettered_then_redelivered(post: Post) -> None:
    someone_id, someone = person(20)
    post.open_loan(someone_id, "LN-3001")
    port = free_port()
    receiver = Receiver()
    receiver_url = f"http://127.0.0.1:{port}/hooks"
    added = post.cli("webhooks", "add", receiver_url)
    assert added.returncode == 0, added.stderr
    receiver.secret = next(w for w in added.stdout.split() if w.startswith("whsec_"))
    endpoint = added.stdout.split("webhook ", 1)[1].split()[0]
    try:
        start = post.cursor()
        post.other_records([overdue(someone)])
        (alert_id,) = new_alert_ids(post, start, 1)
        state = "SELECT state, attempts FROM webhook_deliveries WHERE alert_id = ?"
        wait_until(lambda: post.sql(state, alert_id)[0][0] == "dead", 20)  # nothing listens: 3 s window passes
        assert post.sql(state, alert_id)[0][1] >= 3
        dead = post.cli("alerts", "dead-letters")
        assert dead.returncode == 0 and "overdue" in dead.stdout and receiver_url in dead.stdout
        receiver.start(port)
        again = post.cli("alerts", "redeliver")
        assert again.returncode == 0 and "1 deliveries queued again" in again.stdout, again.stdout + again.stderr
        wait_until(lambda: f"alert_{alert_id}" in receiver.accepted, 15)
        assert post.sql(state, alert_id)[0][0] == "delivered"
        assert "overdue" not in post.cli("alerts", "dead-letters").stdout
        wrong = post.cli("alerts", "redeliver", "999999")
        assert wrong.returncode == 1 and "dead letters" in wrong.stderr
    finally:
        post.cli("webhooks", "remove", endpoint)
        receiver.stop()


def test_gateway_killed_mid_delivery_neither_loses_nor_duplicates(post: Post) -> None:
    someone_id, someone = person(30)
    post.open_loan(someone_id, "LN-4001")
    receiver = Receiver(delay=0.3).start()
    endpoint = add_webhook(post, receiver)
    try:
        start = post.cursor()
        post.other_records([overdue(someone) for _ in range(24)])
        ids = new_alert_ids(post, start, 24)
        wait_until(lambda: len(receiver.accepted) >= 3, 20)
        post.process.kill()  # SIGKILL while deliveries are in flight
        assert len(receiver.accepted) < 24
        post.process.start()
        wait_until(lambda: len(receiver.accepted) == 24, 60)
        assert set(receiver.accepted) == {f"alert_{i}" for i in ids}  # none lost, none unknown
        assert {r["id"] for r in receiver.requests} == set(receiver.accepted)  # a repeat only ever by the same id
        assert len(post.alerts(start)["alerts"]) == 24  # re-reading the chain after the restart raised none twice
        states = post.sql(
            f"SELECT state, count(*) FROM webhook_deliveries WHERE alert_id IN ({','.join('?' * 24)}) GROUP BY state",
            *ids,
        )
        assert states == [("delivered", 24)]
    finally:
        post.cli("webhooks", "remove", str(endpoint))
        receiver.stop()
