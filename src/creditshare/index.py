"""The index: a follower that copies every member's registry and ledger logs into the database.

Reports read this index, never the chain, so a report costs a few indexed reads however long the chain grows.
The follower reads logs in bounded block ranges (shrinking the range when a node refuses a wide one, as Besu
does past 1,000 blocks), keys every row by (block, log index) so nothing is inserted twice, keeps a number of
confirmations behind the head, and detects a reorganisation by comparing the stored hash of its last block
with the chain's: it then rolls back to the newest stored block that the chain still has and re-reads.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import event_abi_to_log_topic
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from creditshare.chain import rpc
from creditshare.contracts import LEDGER, REGISTRY, load_artifact
from creditshare.db import (
    Base,
    IndexBlock,
    IndexCorrection,
    IndexDispute,
    IndexEvent,
    IndexInquiry,
    IndexMemberEvent,
    IndexState,
    transaction,
)
from creditshare.deploy import Deployment
from creditshare.exceptions import ChainError, ChainUnavailable, CreditShareError

log = logging.getLogger(__name__)

INDEX_TABLES = (IndexEvent, IndexInquiry, IndexCorrection, IndexDispute, IndexMemberEvent)


class IndexError_(CreditShareError):
    """Raised when the index belongs to another chain or deployment than the one configured."""


def _topics(artifact_name: str) -> dict[bytes, str]:
    return {
        bytes(event_abi_to_log_topic(item)): item["name"]  # type: ignore[arg-type]
        for item in load_artifact(artifact_name).abi
        if item["type"] == "event"
    }


LEDGER_TOPICS = _topics(LEDGER)
REGISTRY_TOPICS = _topics(REGISTRY)


@dataclass
class Batch:
    """Rows decoded from one range of logs, ready to insert."""

    events: list[dict[str, Any]]
    inquiries: list[dict[str, Any]]
    corrections: list[dict[str, Any]]
    disputes: list[dict[str, Any]]
    members: list[dict[str, Any]]

    @property
    def size(self) -> int:
        return len(self.events) + len(self.inquiries) + len(self.corrections) + len(self.disputes) + len(self.members)


#: The index stores amounts in signed 64-bit columns (SQLite and PostgreSQL). The ledger takes any uint64 and no
#: gateway accepts more than 10^15 fen, so larger values are clamped here — identically on every gateway, which
#: keeps reports reproducible, and a raw transaction with an absurd amount cannot stop anyone's index.
MAX_INDEXED_AMOUNT = 2**63 - 1


def _address(topic: str) -> str:
    return "0x" + topic[-40:].lower()


def _b(hex_str: str) -> bytes:
    return bytes.fromhex(hex_str[2:])


def decode_logs(logs: list[dict[str, Any]], ledger: str, registry: str, block_times: dict[int, int]) -> Batch:
    """Decode raw `eth_getLogs` entries of our two contracts into index rows (other logs are skipped)."""
    batch = Batch([], [], [], [], [])
    ledger, registry = ledger.lower(), registry.lower()
    for entry in logs:
        topics = entry["topics"]
        if not topics:
            continue
        address = entry["address"].lower()
        block = int(entry["blockNumber"], 16)
        common = {"block_number": block, "log_index": int(entry["logIndex"], 16)}
        topic0 = _b(topics[0])
        if address == ledger:
            name = LEDGER_TOPICS.get(topic0)
            data = _b(entry["data"])
            tx = {"tx_hash": _b(entry["transactionHash"])}
            if name == "CreditEventRecorded":
                word = int.from_bytes(data[32:64], "big")
                batch.events.append(
                    {
                        **common,
                        **tx,
                        "subject_key": _b(topics[1]),
                        "lender": _address(topics[2]),
                        "record_hash": _b(topics[3]),
                        "loan_key": data[:32],
                        "item_type": word >> 248,
                        "occurred_day": (word >> 216) & 0xFFFFFFFF,
                        "amount_fen": min(MAX_INDEXED_AMOUNT, (word >> 152) & 0xFFFFFFFFFFFFFFFF),
                        "overdue_fen": min(MAX_INDEXED_AMOUNT, (word >> 88) & 0xFFFFFFFFFFFFFFFF),
                        "days_past_due": (word >> 72) & 0xFFFF,
                    }
                )
            elif name == "InquiryRecorded":
                word = int.from_bytes(data[32:64], "big")
                batch.inquiries.append(
                    {
                        **common,
                        **tx,
                        "subject_key": _b(topics[1]),
                        "lender": _address(topics[2]),
                        "inquiry_hash": _b(topics[3]),
                        "consent_hash": data[:32],
                        "purpose": (word >> 240) & 0xFF,
                        "block_time": block_times[block],
                    }
                )
            elif name == "CreditEventCorrected":
                batch.corrections.append(
                    {
                        **common,
                        **tx,
                        "lender": _address(topics[1]),
                        "original_hash": _b(topics[2]),
                        "record_hash": _b(topics[3]),
                    }
                )
            elif name in ("DisputeOpened", "DisputeResolved"):
                batch.disputes.append(
                    {
                        **common,
                        **tx,
                        "lender": _address(topics[1]),
                        "record_hash": _b(topics[2]),
                        "actor": _address(topics[3]),
                        "outcome": int.from_bytes(data[:32], "big") if name == "DisputeResolved" else 0,
                        "block_time": block_times[block],
                    }
                )
        elif address == registry:
            name = REGISTRY_TOPICS.get(topic0)
            data = _b(entry["data"])
            if name == "MemberAdmitted":
                role, member_name = abi_decode(["uint8", "string"], data)
                row = {"name": member_name, "role": role, "status": 1}
            elif name == "MemberRoleChanged":
                row = {"name": None, "role": abi_decode(["uint8", "uint8"], data)[1], "status": None}
            elif name == "MemberStatusChanged":
                row = {"name": None, "role": None, "status": abi_decode(["uint8", "uint8"], data)[1]}
            else:
                continue
            batch.members.append({**common, "address": _address(topics[1]), **row})
    return batch


def _insert_ignoring_duplicates(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # Core insert on the table: the ORM's bulk path costs more per row than the database does.
    session.execute(insert(model.metadata.tables[model.__tablename__]).on_conflict_do_nothing(), rows)


def _by_blocks(logs: list[dict[str, Any]], end: int, limit: int) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Split a range's logs (in chain order) into runs of whole blocks of at most `limit` logs (a block with more
    is a run of its own), each with the block its cursor moves to; the last run ends at `end`.

    Each run is written in its own transaction, so the index holds the database's writer for a bounded time:
    on SQLite, outbox commits (an API request waiting to answer) queue behind it."""
    part: list[dict[str, Any]] = []
    for _, group in itertools.groupby(logs, key=lambda entry: entry["blockNumber"]):
        block_logs = list(group)
        if part and len(part) + len(block_logs) > limit:
            yield int(part[-1]["blockNumber"], 16), part
            part = []
        part += block_logs
    yield end, part


def store_batch(session: Session, batch: Batch, blocks: dict[int, tuple[bytes, int]], last_block: int) -> None:
    """Write one decoded range: its rows, its blocks' (hash, timestamp), and the cursor moved to `last_block`
    (which must be among `blocks`). Rows already present are skipped, so a re-read range adds nothing."""
    for model, rows in (
        (IndexEvent, batch.events),
        (IndexInquiry, batch.inquiries),
        (IndexCorrection, batch.corrections),
        (IndexDispute, batch.disputes),
        (IndexMemberEvent, batch.members),
    ):
        _insert_ignoring_duplicates(session, model, rows)
    _insert_ignoring_duplicates(
        session, IndexBlock, [{"number": n, "hash": h, "timestamp": t} for n, (h, t) in blocks.items()]
    )
    state = session.get(IndexState, 1)
    assert state is not None
    state.last_block = last_block
    state.last_hash = blocks[last_block][0]


@dataclass(frozen=True)
class SyncProgress:
    """Where a sync stands: last indexed block, the target block, rows written in the last step."""

    indexed: int
    target: int
    rows: int


class Follower:
    """Follows the chain into the index. One follower writes to an index at a time."""

    def __init__(
        self,
        w3: Web3,
        factory: sessionmaker[Session],
        deployment: Deployment,
        *,
        confirmations: int = 0,
        max_range: int = 2_000,
        rows_per_write: int = 512,
    ) -> None:
        self.w3 = w3
        self._factory = factory
        self.deployment = deployment
        self.confirmations = confirmations
        self.max_range = max_range
        self._range = max_range
        self.rows_per_write = rows_per_write
        self.last_error: str | None = None

    # ------------------------------------------------------------------ state

    def state(self) -> IndexState:
        """The index's cursor, created at the deployment block on first use."""
        with self._factory() as session:
            state = session.get(IndexState, 1)
        if state is None:
            with transaction(self._factory) as session:
                state = session.get(IndexState, 1)  # another follower may have just created it
                if state is None:
                    state = IndexState(
                        id=1,
                        chain_id=self.deployment.chain_id,
                        ledger_address=self.deployment.ledger.lower(),
                        registry_address=self.deployment.registry.lower(),
                        last_block=self.deployment.block - 1,
                        last_hash=None,
                    )
                    session.add(state)
                session.flush()
                session.expunge(state)
        if (state.ledger_address, state.chain_id) != (self.deployment.ledger.lower(), self.deployment.chain_id):
            raise IndexError_(
                f"the index is of ledger {state.ledger_address} on chain {state.chain_id}, not of this deployment"
            )
        return state

    # ------------------------------------------------------------------ sync

    def sync_once(self) -> SyncProgress:
        """Index the next range of blocks (or handle a reorganisation). Returns where the index stands."""
        state = self.state()
        head = int(rpc(self.w3, "eth_blockNumber", []), 16)
        target = head - self.confirmations
        if state.last_hash is not None and state.last_block >= self.deployment.block:
            # A new branch may also be shorter than the indexed one: then the last block is gone altogether.
            chain_hash = self._header(state.last_block)[0] if state.last_block <= head else None
            if chain_hash != state.last_hash:
                common = self._rollback(min(state.last_block, head))
                log.warning("index: reorganisation below block %s; rolled back to %s", state.last_block, common)
                return SyncProgress(common, target, 0)
        if target <= state.last_block:
            return SyncProgress(state.last_block, target, 0)
        start = state.last_block + 1
        while True:
            end = min(start + self._range - 1, target)
            try:
                logs = rpc(
                    self.w3,
                    "eth_getLogs",
                    [
                        {
                            "address": [self.deployment.ledger, self.deployment.registry],
                            "fromBlock": hex(start),
                            "toBlock": hex(end),
                        }
                    ],
                )
                break
            except ChainUnavailable:
                raise
            except ChainError as exc:  # e.g. Besu's range cap, or a response-size limit
                if self._range == 1:
                    raise
                self._range = max(1, self._range // 2)
                log.info("index: node refused %s blocks (%s); trying %s", end - start + 1, exc, self._range)
        rows = 0
        for last, part in _by_blocks(logs, end, self.rows_per_write):
            numbers = sorted({int(entry["blockNumber"], 16) for entry in part} | {last})
            headers = {number: self._header(number) for number in numbers}
            batch = decode_logs(
                part, self.deployment.ledger, self.deployment.registry, {n: h[1] for n, h in headers.items()}
            )
            with transaction(self._factory) as session:
                store_batch(session, batch, headers, last)
            rows += batch.size
        self._range = min(self.max_range, self._range * 2)
        return SyncProgress(end, target, rows)

    def sync(self, progress: Callable[[SyncProgress], None] | None = None) -> SyncProgress:
        """Index until caught up with the head (minus confirmations)."""
        while True:
            step = self.sync_once()
            if progress:
                progress(step)
            if step.indexed >= step.target:
                return step

    def run(self, stop: threading.Event, interval: float = 0.5) -> None:
        """Follow the chain until `stop` is set, backing off while the node is unreachable."""
        backoff = interval
        while not stop.is_set():
            try:
                step = self.sync_once()
                self.last_error = None
                backoff = interval
                if step.indexed >= step.target:
                    stop.wait(interval)
            except ChainError as exc:
                self.last_error = str(exc)
                stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            except Exception as exc:  # never die silently
                log.exception("index follower: unexpected error")
                self.last_error = repr(exc)
                stop.wait(10.0)

    # ------------------------------------------------------------------ internals

    def _header(self, number: int) -> tuple[bytes, int]:
        block = rpc(self.w3, "eth_getBlockByNumber", [hex(number), False])
        if block is None:
            raise ChainError(f"block {number} not found")
        return _b(block["hash"]), int(block["timestamp"], 16)

    def _rollback(self, last: int) -> int:
        """Delete everything above the newest stored block (at or below `last`, which the chain has) that the
        chain still agrees with; returns that block."""
        with self._factory() as session:
            stored = list(
                session.execute(
                    select(IndexBlock.number, IndexBlock.hash)
                    .where(IndexBlock.number <= last)
                    .order_by(IndexBlock.number.desc())
                )
            )
        common = self.deployment.block - 1
        common_hash: bytes | None = None
        for number, stored_hash in stored:
            chain_hash = self._header(number)[0]
            if chain_hash == stored_hash:
                common, common_hash = number, stored_hash
                break
        with transaction(self._factory) as session:
            session.execute(delete(IndexBlock).where(IndexBlock.number > common))
            for model in INDEX_TABLES:
                session.execute(delete(model).where(model.block_number > common))
            state_row = session.get(IndexState, 1)
            assert state_row is not None
            state_row.last_block = common
            state_row.last_hash = common_hash
        return common
