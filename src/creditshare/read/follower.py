"""The index follower: copies every member's registry and ledger logs into the database.

Reports read this index, never the chain, so a report costs a few indexed reads however long the chain grows.
The follower reads logs in bounded block ranges (`chain.logs.LogWindow`, which shrinks the range when a node
refuses a wide one, as Besu does past 1,000 blocks), keys every row by (block, log index) so nothing is inserted
twice (`read.store`), keeps a number of confirmations behind the head, and detects a reorganisation by comparing
the stored hash of its last block with the chain's: it then rolls back to the newest stored block that the chain
still has and re-reads.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from creditshare.chain.deploy import Deployment
from creditshare.chain.logs import LogWindow, head_block
from creditshare.chain.rpc import rpc
from creditshare.core.db import transaction
from creditshare.core.db.lease import Lease
from creditshare.core.db.tables import IndexBlock, IndexState
from creditshare.core.exceptions import ChainError, CreditShareError
from creditshare.core.metrics import Metrics
from creditshare.core.pipeline import pipelined
from creditshare.read.decode import IndexRows, decode_logs
from creditshare.read.store import OnStored, Stored, delete_above, quarantined_by_reason, store_batch

log = logging.getLogger(__name__)


class IndexMismatch(CreditShareError):
    """Raised when the index belongs to another chain or deployment than the one configured."""


def _check_same_chain(logs: list[dict[str, Any]], headers: dict[int, tuple[bytes, int]]) -> None:
    """Raise `ChainError` when a log's block hash is not the hash of the header read for its block: the node
    answered the logs and the headers from different branches (a reorganisation in between, or a node that
    lies). Nothing is stored; the next attempt reads both again."""
    for entry in logs:
        number = int(entry["blockNumber"], 16)
        if bytes.fromhex(str(entry.get("blockHash", "0x"))[2:]) != headers[number][0]:
            raise ChainError(f"the logs of block {number} are of another branch than its header; reading again")


def write_runs(logs: list[dict[str, Any]], end: int, limit: int) -> Iterator[tuple[int, list[dict[str, Any]]]]:
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


def rows_per_write_for(factory: sessionmaker[Session]) -> int:
    """Logs per write transaction by default. On SQLite each one holds the only writer (API requests queue behind
    it), so they stay small; PostgreSQL writers do not wait on each other, and a bigger COPY costs less per row."""
    bind = factory.kw.get("bind")
    return 8_192 if bind is not None and bind.dialect.name == "postgresql" else 512


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
        max_results: int | None = None,
        rows_per_write: int | None = None,
        metrics: Metrics | None = None,
        lease: Lease | None = None,
        on_stored: OnStored | None = None,
        after_commit: Callable[[int], None] | None = None,
    ) -> None:
        self.w3 = w3
        self._factory = factory
        self.deployment = deployment
        self.confirmations = confirmations
        narrowed = (lambda why: metrics.chain_errors.labels(f"logs_{why}").inc()) if metrics is not None else None
        self._logs = LogWindow(w3, max_range, max_results, on_narrow=narrowed)
        self.rows_per_write = rows_per_write if rows_per_write is not None else rows_per_write_for(factory)
        self._metrics = metrics
        #: With a lease, one follower per database writes the index; another one stands by (two followers would
        #: race on the cursor).
        self.lease = lease
        #: Raises alerts in each range's transaction; `after_commit` hears how many once it committed.
        self._on_stored = on_stored
        self._after_commit = after_commit
        self._counted = False  # quarantine gauges loaded from the database
        self.last_error: str | None = None
        #: Where the follower last stood: the chain's head it saw, the block it had indexed, and when (monotonic
        #: seconds) it last moved forward or found itself caught up — what readiness and /metrics report.
        self.head: int | None = None
        self.indexed: int | None = None
        self.last_progress: float | None = None
        #: When (monotonic seconds) the head was first seen at its current height.
        self.head_moved_at: float | None = None

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
            raise IndexMismatch(
                f"the index is of ledger {state.ledger_address} on chain {state.chain_id}, not of this deployment"
            )
        if self._metrics is not None and not self._counted:
            with self._factory() as session:
                for reason, count in quarantined_by_reason(session).items():
                    self._metrics.quarantined.labels(reason).set(count)
            self._counted = True
        return state

    # ------------------------------------------------------------------ sync

    def sync_once(self) -> SyncProgress:
        """Index the next range of blocks (or handle a reorganisation). Returns where the index stands."""
        state = self.state()
        head = head_block(self.w3)
        target = head - self.confirmations
        self._saw(head, state.last_block, caught_up=state.last_block >= target)
        if state.last_hash is not None and state.last_block >= self.deployment.block:
            # A new branch may also be shorter than the indexed one: then the last block is gone altogether.
            chain_hash = self._header(state.last_block)[0] if state.last_block <= head else None
            if chain_hash != state.last_hash:
                common = self._rollback(min(state.last_block, head))
                log.warning("index: reorganisation below block %s; rolled back to %s", state.last_block, common)
                return SyncProgress(common, target, 0)
        if target <= state.last_block:
            return SyncProgress(state.last_block, target, 0)
        page = self._logs.read(
            {"address": [self.deployment.ledger, self.deployment.registry]}, state.last_block + 1, target
        )
        logs, end = page.logs, page.end
        rows = 0

        def prepare(run: tuple[int, list[dict[str, Any]]]) -> tuple[int, IndexRows, dict[int, tuple[bytes, int]]]:
            last, part = run
            numbers = sorted({int(entry["blockNumber"], 16) for entry in part} | {last})
            headers = {number: self._header(number) for number in numbers}
            _check_same_chain(part, headers)
            times = {n: h[1] for n, h in headers.items()}
            return last, decode_logs(part, self.deployment.ledger, self.deployment.registry, times), headers

        def write(run: tuple[int, IndexRows, dict[int, tuple[bytes, int]]]) -> tuple[int, int, Stored]:
            last, decoded, headers = run
            with transaction(self._factory) as session:
                return last, decoded.size, store_batch(session, decoded, headers, last, self._on_stored)

        # While one run is written, the next one's headers are read and its logs decoded.
        for last, size, stored in pipelined(write_runs(logs, end, self.rows_per_write), prepare, write):
            if stored.raised and self._after_commit is not None:
                self._after_commit(stored.raised)
            rows += size
            self._saw(head, last, caught_up=last >= target, quarantined=stored.quarantined)
        return SyncProgress(end, target, rows)

    def sync(self, progress: Callable[[SyncProgress], None] | None = None) -> SyncProgress:
        """Index until caught up with the head (minus confirmations)."""
        while True:
            step = self.sync_once()
            if progress:
                progress(step)
            if step.indexed >= step.target:
                return step

    def try_sync(self, progress: Callable[[SyncProgress], None] | None = None) -> SyncProgress | None:
        """`sync`, unless another process holds the follower lease (it keeps the index itself): then None."""
        if self.lease is not None and not self.lease.acquire():
            return None
        return self.sync(progress)

    def run(self, stop: threading.Event, interval: float = 0.5) -> None:
        """Follow the chain until `stop` is set, backing off while the node is unreachable; with a lease, only
        while this process holds it."""
        backoff = interval
        while not stop.is_set():
            if self.lease is not None and not self.lease.hold():
                self.last_error = "another process follows the chain into this database; standing by"
                stop.wait(self.lease.seconds / 3)
                continue
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
        if self.lease is not None:
            self.lease.release()

    # ------------------------------------------------------------------ progress

    def _saw(self, head: int, indexed: int, *, caught_up: bool, quarantined: dict[str, int] | None = None) -> None:
        moved = self.indexed is None or indexed > self.indexed
        if head != self.head:
            self.head_moved_at = time.monotonic()
        self.head, self.indexed = head, indexed
        if moved or caught_up:
            self.last_progress = time.monotonic()
        if self._metrics is not None:
            self._metrics.chain_head.set(head)
            self._metrics.indexed_block.set(indexed)
            self._metrics.index_lag.set(max(0, head - self.confirmations - indexed))
            for reason, count in (quarantined or {}).items():
                self._metrics.quarantined.labels(reason).inc(count)

    @property
    def lag(self) -> int | None:
        """Blocks between the target (head − confirmations) and the indexed block, as last seen."""
        if self.head is None or self.indexed is None:
            return None
        return max(0, self.head - self.confirmations - self.indexed)

    def head_age(self) -> float | None:
        """Seconds the chain's head has stood at its current height, as far as the follower saw (None: not seen)."""
        return None if self.head_moved_at is None else time.monotonic() - self.head_moved_at

    def stalled(self, seconds: float) -> bool:
        """Whether the follower has neither moved forward nor been caught up for `seconds` (a node that stopped
        answering, logs it cannot store, or a node that stopped advancing while others did all look like this
        from here; so does a follower that never ran)."""
        return self.last_progress is None or time.monotonic() - self.last_progress > seconds

    # ------------------------------------------------------------------ internals

    def _header(self, number: int) -> tuple[bytes, int]:
        block = rpc(self.w3, "eth_getBlockByNumber", [hex(number), False])
        if block is None:
            raise ChainError(f"block {number} not found")
        return bytes.fromhex(block["hash"][2:]), int(block["timestamp"], 16)

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
            delete_above(session, common, common_hash)
        return common
