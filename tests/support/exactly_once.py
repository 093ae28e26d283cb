"""What the fault tests share: records to post, and the exactly-once check every fault scenario ends with.

`assert_exactly_once`: the ledger's CreditEventRecorded logs of the lender carry exactly the accepted records'
hashes (computed here, independently of the gateway), each once; the gateway's database holds every item confirmed
at the very log the chain holds; and in every lane of the lender (its own key, and each delegate signer) the
on-chain sequence equals the number of confirmed batches of that lane, which are its sequence numbers from the
lane's first with no gap or repeat.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_utils import keccak
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from web3 import Web3

from creditshare.chain.signers import MAX_LANES, lane_of, lane_start
from creditshare.core.db import session_factory
from creditshare.core.db.tables import Batch, OutboxItem
from creditshare.domain.records import CreditEventIn, normalise_event
from tests.support import Consortium
from tests.support.gateways import wait_until
from tests.support.holders import keys_for
from tests.support.records import loan_opened_records

RECORDED_TOPIC = "0x" + keccak(text="CreditEventRecorded(bytes32,address,bytes32,bytes32,uint256)").hex()
#: A restarted gateway may wait out its dead predecessor's 10 s lease (polled every 10/3 s) before it submits.
CONFIRM_TIMEOUT = 90.0

Record = dict[str, Any]


# ---------------------------------------------------------------------------------------------- helpers


def make_records(prefix: str, count: int) -> list[Record]:
    """`count` valid loan_opened records with distinct record ids, borrowers and loans."""
    return loan_opened_records(count, seed=prefix, prefix=prefix)


def record_hashes(records: Sequence[Record], lender: str) -> set[bytes]:
    """The record hashes the chain must carry for `records`, computed without the gateway."""
    parsed = [CreditEventIn.model_validate(r) for r in records]
    keys = keys_for(*parsed)
    return {normalise_event(p, lender=lender, keys=keys).record_hash for p in parsed}


def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def post_accepted(url: str, key: str, records: Sequence[Record]) -> list[int]:
    """POST records; assert 200 with every one accepted; return their event ids."""
    response = httpx.post(f"{url}/v1/events", json=list(records), headers=headers(key), timeout=60)
    assert response.status_code == 200, f"{response.status_code}: {response.text[:500]}"
    body = response.json()
    assert body["accepted"] == len(records), body
    assert all(r["status"] == "accepted" for r in body["results"])
    return [int(r["event_id"]) for r in body["results"]]


def status_counts(engine: Engine, lender: str) -> dict[str, int]:
    """Outbox items of `lender` per status, read straight from the gateway's database."""
    with session_factory(engine)() as session:
        rows = session.execute(
            select(OutboxItem.status, func.count()).where(OutboxItem.lender == lender).group_by(OutboxItem.status)
        )
        return {status: int(n) for status, n in rows}


def log_tail(home: Path, chars: int = 3000) -> str:
    path = home / "gateway.log"
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no gateway.log)"


def wait_all_confirmed(engine: Engine, lender: str, total: int, home: Path, timeout: float = CONFIRM_TIMEOUT) -> None:
    """Wait until all `total` items of `lender` are confirmed; fail at once if any item failed."""

    def done() -> bool:
        counts = status_counts(engine, lender)
        assert counts.get("failed", 0) == 0, f"items failed: {counts}\n{log_tail(home)}"
        return counts.get("confirmed", 0) == total

    try:
        wait_until(done, timeout=timeout, interval=0.1)
    except TimeoutError:
        pytest.fail(f"not all {total} items confirmed within {timeout}s: {status_counts(engine, lender)}\n"
                    f"{log_tail(home)}")  # fmt: skip


def wait_mid_stream(engine: Engine, lender: str, total: int, timeout: float = 60.0) -> dict[str, int]:
    """Poll (tightly) until some items are confirmed and a signed batch is in flight; return those counts.

    If no signed batch is ever caught open within `timeout`, settle for "some but not all confirmed"."""
    deadline = time.monotonic() + timeout
    fallback: dict[str, int] | None = None
    while time.monotonic() < deadline:
        counts = status_counts(engine, lender)
        confirmed = counts.get("confirmed", 0)
        assert confirmed < total, f"all {total} items confirmed before the fault could be injected"
        if confirmed > 0 and counts.get("submitted", 0) > 0:
            return counts
        if confirmed > 0 and fallback is None:
            fallback = counts
            deadline = min(deadline, time.monotonic() + 2.0)
        time.sleep(0.002)
    assert fallback is not None, f"nothing confirmed within {timeout}s: {status_counts(engine, lender)}"
    return fallback


def chain_records(w3: Web3, ledger: str, lender: str) -> list[tuple[bytes, str, int]]:
    """(record hash, tx hash, log index) of every CreditEventRecorded log of `lender` on `ledger`."""
    lender_topic = "0x" + "00" * 12 + lender[2:].lower()
    response = w3.provider.make_request(
        "eth_getLogs",  # type: ignore[arg-type]
        [{"address": ledger, "fromBlock": "0x0", "toBlock": "latest", "topics": [RECORDED_TOPIC, None, lender_topic]}],
    )
    assert "error" not in response, response
    return [
        (bytes.fromhex(log["topics"][3][2:]), str(log["transactionHash"]).lower(), int(log["logIndex"], 16))
        for log in response["result"]
    ]


def assert_exactly_once(
    consortium: Consortium, lender: str, expected: set[bytes], engine: Engine, *, node_may_lose_logs: bool = False
) -> dict[str, int]:
    """The exactly-once check described in the module docstring; returns a summary for the report.

    `node_may_lose_logs`: anvil restored from its periodic state snapshot can hold a batch's storage effect (its
    sequence number used) without the batch's receipt and logs (foundry#11367, #4490). The records check is the
    same; a lane may then count sequence numbers with no confirmed batch, each of which must be one the gateway
    found without a log and sent again (`batch_log_missing`)."""
    on_chain = chain_records(consortium.w3, consortium.deployment.ledger, lender)
    hashes = [h for h, _, _ in on_chain]
    repeated = {h.hex(): n for h, n in Counter(hashes).items() if n > 1}
    assert not repeated, f"{len(repeated)} record hashes recorded more than once: {list(repeated.items())[:5]}"
    assert len(hashes) == len(expected), f"{len(hashes)} records on chain, {len(expected)} accepted"
    assert set(hashes) == expected, (
        f"{len(expected - set(hashes))} accepted records missing on chain, {len(set(hashes) - expected)} unknown"
    )
    with session_factory(engine)() as session:
        items = session.execute(
            select(OutboxItem.record_hash, OutboxItem.status, OutboxItem.tx_hash, OutboxItem.log_index).where(
                OutboxItem.lender == lender
            )
        ).all()
        seqs = list(
            session.scalars(
                select(Batch.seq).where(Batch.lender == lender, Batch.status == "confirmed").order_by(Batch.seq)
            )
        )
        batch_states = dict(
            session.execute(
                select(Batch.status, func.count()).where(Batch.lender == lender).group_by(Batch.status)
            ).all()
        )
    assert {s for _, s, _, _ in items} == {"confirmed"}
    in_db = {bytes(h): (str(tx).lower(), li) for h, _, tx, li in items}
    assert in_db == {h: (tx, li) for h, tx, li in on_chain}, "the database and the chain disagree on where items are"
    with session_factory(engine)() as session:
        log_missing = set(
            session.scalars(select(Batch.seq).where(Batch.lender == lender, Batch.error_code == "batch_log_missing"))
        )
    lanes_used: dict[int, int] = {}
    for lane in range(MAX_LANES + 1):
        next_seq = int(consortium.ledger.functions.nextSequenceInLane(lender, lane).call())
        mine = [seq for seq in seqs if lane_of(seq) == lane]
        if node_may_lose_logs:
            holes = set(range(lane_start(lane), next_seq)) - set(mine)
            assert holes <= log_missing, f"lane {lane}: sequence numbers used with no batch: {holes - log_missing}"
            mine = sorted([*mine, *holes])
        if next_seq - lane_start(lane) != len(mine):
            with session_factory(engine)() as session:
                rows = session.execute(
                    select(Batch.seq, Batch.status, Batch.item_count, Batch.tx_hash, Batch.error_code)
                    .where(Batch.lender == lender)
                    .order_by(Batch.id)
                ).all()
            landed = sorted({tx for _, tx, _ in on_chain})
            raise AssertionError(
                f"lane {lane}: next sequence {next_seq} but {len(mine)} confirmed batches in the database: "
                f"{[tuple(r) for r in rows]}; item transactions on chain: {landed}"
            )
        assert mine == list(range(lane_start(lane), next_seq)), f"lane {lane}: confirmed seqs have a gap: {mine}"
        if mine:
            lanes_used[lane] = len(mine)
    next_seq = sum(lanes_used.values())
    return {
        "on_chain": len(hashes),
        "batches": next_seq,
        "lanes": len(lanes_used),
        **{f"batches_{k}": int(v) for k, v in batch_states.items()},
    }


def grep_log(home: Path, *words: str) -> list[str]:
    """Lines of the gateway's log containing any of `words` (case-insensitive)."""
    path = home / "gateway.log"
    text = path.read_text(errors="replace") if path.exists() else ""
    return [line for line in text.splitlines() if any(w in line.lower() for w in words)]


def assert_no_internal_errors(home: Path) -> None:
    """The gateway never logged a traceback or an unexpected submitter error."""
    assert grep_log(home, "traceback", "unexpected error") == [], log_tail(home)


def post_in_threads(jobs: Sequence[Callable[[], object]]) -> None:
    """Run `jobs` in parallel threads; re-raise the first failure."""
    errors: list[BaseException] = []

    def run(job: Callable[[], object]) -> None:
        try:
            job()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if errors:
        raise errors[0]
