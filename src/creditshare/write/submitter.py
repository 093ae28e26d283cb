"""The submitter: takes pending outbox items into signed batches and sees them confirmed exactly once.

A lender may sign with several keys, one per lane (its own key is lane 0; delegate signers enlisted in the
registry take lanes 1-16): each lane has its own submitter, nonces, in-flight window and ledger sequence, and
takes its own share of the outbox (`write.lanes`). Everything below holds per lane.

Exactly-once rests on three facts. (1) Each batch carries its lane's next on-chain sequence number, so the ledger
accepts it at most once, and an item is claimed by one batch only (`BatchStore.store_signed`). (2) The signed
transaction and its hash are stored, with the items' batch assignment, *before* it is sent; after any crash the same
bytes are resent, which a node accepts at most once (same hash). (3) On restart, `recover()` settles every stored
batch from the chain: mined → confirm from its receipt; sequence already used → find the landed copy by its
BatchRecorded log; otherwise → resend. A batch confirmed here whose sequence the chain no longer has (a node
restarted behind, or a lagging fallback) is reopened and its same bytes are sent again. Only one submitter per
lender lane runs at a time: it holds a lease in the database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from creditshare.chain.ledger import BatchConflict, LedgerClient, batch_digest, batch_gas
from creditshare.chain.rpc import Receipt
from creditshare.chain.transactor import SignedTx, Transactor
from creditshare.core.clock import utcnow
from creditshare.core.db.lease import Lease, LeaseLost
from creditshare.core.exceptions import ChainError, ChainUnavailable, ContractRevert
from creditshare.core.metrics import Metrics
from creditshare.write.batches import BatchStore, ItemsTaken, PendingItem
from creditshare.write.broadcast import Broadcaster
from creditshare.write.lanes import LanePlan, lease_name
from creditshare.write.reverts import FATAL_ERRORS, NOT_ACTIVE_MESSAGE, WAIT_ERRORS
from creditshare.write.seal import RowSeal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SubmitterConfig:
    batch_size: int = 256
    batch_interval: float = 0.2
    lease_seconds: float = 10.0
    #: How often a held lease is renewed. Each renewal is a write transaction, which on SQLite makes the API's
    #: commits wait: renewing on every step (dozens a second under load) showed in accept latency.
    lease_renew_seconds: float = 1.0
    max_backoff: float = 5.0
    #: First block to search for landed batches (the ledger's deployment block).
    from_block: int = 0
    #: Signed batches sent but not yet settled. More than one keeps the node busy while the next batch is
    #: prepared (and, on Besu, fills blocks instead of waiting a block time per batch); it must stay below the
    #: node's per-sender future-transaction limit (Besu: tx-pool-max-future-by-sender, default 200).
    max_in_flight: int = 4
    #: Seconds a membership/pause check stays valid before the next batch re-checks it.
    writer_check_seconds: float = 1.0
    #: Seconds a signed transaction is re-offered while the node says "not now" (`Broadcaster`).
    busy_wait_seconds: float = 30.0


class WriterBlocked(ChainError):
    """Raised when the ledger is paused or the signer suspended: nothing is signed, records wait in the outbox."""


class Submitter:
    """Batches, signs, sends and confirms one lender's outbox items in one lane: `transactor` signs with the lane's
    key, `ledger` is the lender's client for that lane, and `plan` (shared by the lender's lanes) says which items
    this lane takes."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        transactor: Transactor,
        ledger: LedgerClient,
        metrics: Metrics,
        seal: RowSeal,
        config: SubmitterConfig | None = None,
        plan: LanePlan | None = None,
    ) -> None:
        self._tx = transactor
        self._ledger = ledger
        self._metrics = metrics
        self._seal = seal
        self.config = config or SubmitterConfig()
        self.lender = ledger.lender
        self.lane = ledger.lane
        self._plan = plan
        seconds, renew = self.config.lease_seconds, self.config.lease_renew_seconds
        self.lease = Lease(factory, lease_name(self.lender, self.lane), seconds=seconds, renew_seconds=renew)
        share = (lambda: plan.share(self.lane)) if plan else None
        self._store = BatchStore(factory, self.lender, self.lease.fence, self.lane, share)
        self._next_seq: int | None = None
        self.last_error: str | None = None
        self.broadcaster = Broadcaster(transactor, metrics, self.config.busy_wait_seconds)
        self.last_confirmed_block: int | None = None
        # The preparing thread (run/step) signs batches in sequence order; a sender thread broadcasts them and a
        # settler thread waits for each receipt, both FIFO, so the chain works while the next batch is prepared.
        self._sender = ThreadPoolExecutor(1, thread_name_prefix="send")
        self._settler = ThreadPoolExecutor(1, thread_name_prefix="settle")
        #: Batches sent and not yet settled, each with when (monotonic seconds) it was signed.
        self._inflight: deque[tuple[Future[bool], float]] = deque()
        self._writer_checked_at = 0.0
        self._holding = False  # whether this process worked as the submitter since it last held the lease

    # ------------------------------------------------------------------ loop

    def run(self, stop: threading.Event) -> None:
        """Work until `stop` is set, backing off while the chain is unreachable."""
        backoff = 0.1
        while not stop.is_set():
            try:
                if not self.lease.hold():
                    self._stand_by("the submitter lease is held by another process")
                    stop.wait(self.config.lease_seconds / 3)
                    continue
                self._holding = True
                worked = self.step()
                backoff = 0.1
                self.last_error = None
                if not worked:
                    stop.wait(self.config.batch_interval)
            except LeaseLost as exc:  # another submitter took over while this one stalled: stop writing
                self._stand_by(str(exc))
                stop.wait(self.config.lease_seconds / 3)
            except ChainUnavailable as exc:
                self._metrics.chain_errors.labels("unavailable").inc()
                self._lost_chain(f"chain unavailable: {exc}")
                stop.wait(backoff)
                backoff = min(backoff * 2, self.config.max_backoff)
            except ChainError as exc:
                self._metrics.chain_errors.labels("error").inc()
                self._lost_chain(f"chain error: {exc}")
                stop.wait(backoff)
                backoff = min(backoff * 2, self.config.max_backoff)
            except Exception as exc:  # the submitter must never die silently: log, back off, recover
                log.exception("submitter: unexpected error")
                self._metrics.chain_errors.labels("internal").inc()
                self._lost_chain(f"internal error: {exc!r}")
                stop.wait(self.config.max_backoff)
        self.drain()
        self.lease.release()
        self._sender.shutdown()
        self._settler.shutdown()

    def _stand_by(self, why: str) -> None:
        """Stop working as the submitter (once per loss of the lease): the batches in flight settle — their writes
        are fenced — and everything is recovered afresh if this process gets the lease again."""
        if not self._holding:
            return
        log.warning("submitter: %s; standing by", why)
        self._holding = False
        self.last_error = why
        self.drain()
        self._next_seq = None

    def _lost_chain(self, message: str) -> None:
        log.warning("submitter: %s", message)
        self.last_error = message
        self._next_seq = None  # re-run recovery once the chain is back
        self._tx.resync_nonce()

    def step(self) -> bool:
        """One unit of work: recover if needed, then prepare and send at most one batch (or wait for the
        oldest in flight when the window is full). Returns whether it did anything."""
        self._reap()
        if self._next_seq is None:
            self.drain()
            self.recover()
        if len(self._inflight) >= self.config.max_in_flight:
            self._inflight[0][0].result()
            return True
        if self.lane == 0 and self._send_correction():  # corrections travel in the lender's own lane
            return True
        items = self._take_items()
        if not items:
            if self._inflight:  # nothing to send: watch the oldest batch, but look again for new records soon
                futures.wait([self._inflight[0][0]], timeout=self.config.batch_interval)
                return True
            return False
        self._send_batch(items)
        return True

    def drain(self) -> None:
        """Wait for every batch in flight to settle (errors are left to recovery)."""
        while self._inflight:
            future, _ = self._inflight.popleft()
            error = future.exception()  # waits for it to settle
            if error is not None or future.result():  # an error, or a stale sequence
                log.info("submitter: in-flight batch ended with %s", error or "a stale sequence")
                self._next_seq = None

    def _reap(self) -> None:
        """Drop settled batches; re-raise the first error so the loop backs off and recovers."""
        while self._inflight and self._inflight[0][0].done():
            future, _ = self._inflight.popleft()
            if (error := future.exception()) is not None or future.result():
                self.drain()
                self._next_seq = None
            if error is not None:
                raise error

    # ------------------------------------------------------------------ recovery

    def recover(self) -> None:
        """Settle every signed-but-unconfirmed batch against the chain, then resume from the chain's sequence."""
        chain_seq = self._ledger.next_sequence()
        self._tx.resync_nonce()
        lost = self._store.reopen_lost(chain_seq)
        if lost:
            log.error("submitter: the chain no longer holds confirmed batches %s; sending the same bytes again", lost)
            self._metrics.chain_errors.labels("lost_batches").inc(len(lost))
        for batch in self._store.open_batches():
            receipt = self._tx.receipt(batch.tx_hash)
            if receipt is None and batch.seq < chain_seq:
                try:
                    receipt = self._ledger.find_batch(self._tx, batch.seq, batch.digest, batch.search_from_block)
                except BatchConflict as exc:  # another batch took this sequence: ours never landed
                    self._requeue(batch.id, "sequence_taken", str(exc))
                    continue
                if receipt is None:  # the node used the sequence but holds no log of it (restored from a snapshot?)
                    log.error("submitter: sequence %s is used but the node has no log of it; resending", batch.seq)
                    self._metrics.chain_errors.labels("lost_batches").inc()
                    self._requeue(batch.id, "batch_log_missing", f"sequence {batch.seq} used, no log of it on chain")
                    continue
            if receipt is not None:
                self._settle(batch.id, receipt)
            elif batch.seq == chain_seq:
                log.info("submitter: resending batch seq %s (%s)", batch.seq, batch.tx_hash)
                self.broadcaster.send(batch.raw_tx)
                self._settle(batch.id, self._tx.wait_receipt(batch.tx_hash))
                chain_seq = self._ledger.next_sequence()
            else:  # seq ahead of the chain with a gap before it: it can never land; its items go back
                self._requeue(batch.id, "stale_batch", f"batch seq {batch.seq} ahead of chain seq {chain_seq}")
        self._next_seq = self._ledger.next_sequence()

    # ------------------------------------------------------------------ batches

    def _take_items(self) -> list[PendingItem]:
        """Up to batch_size pending items (oldest first) whose seals hold, once the batch is full or the oldest has
        waited batch_interval."""
        items = self._store.pending(self.config.batch_size)
        if not items:
            return []
        age = (utcnow() - items[0].accepted_at).total_seconds()
        if len(items) < self.config.batch_size and age < self.config.batch_interval:
            return []
        return self._intact(items)

    def _intact(self, items: list[PendingItem]) -> list[PendingItem]:
        """The items whose columns still open their seal; the others (edited in the database) fail, counted and
        logged, and are never signed."""
        broken = [p for p in items if not self._seal.intact(p.payload, p.columns)]
        if broken:
            ids = [p.id for p in broken]
            log.error("submitter: outbox rows %s fail their seal (edited in the database?); not signed", ids)
            self._store.fail_items(ids, "tampered_row", "the stored row does not match its seal; it was not signed")
            self._metrics.tampered_rows.inc(len(ids))
        return [p for p in items if p not in broken]

    def _send_batch(self, items: list[PendingItem]) -> None:
        if not items:
            return
        assert self._next_seq is not None
        data = self._ledger.record_batch_data(self._next_seq, [p.item for p in items])
        digest = batch_digest([p.digest_hash for p in items])
        self._sign_and_send(data, batch_gas(data, len(items)), [p.id for p in items], digest)

    def _send_correction(self) -> bool:
        """Send the oldest pending correction whose original is confirmed (corrections are batches of one)."""
        plan = self._store.next_correction()
        if plan is None:
            return False
        if not self._intact([plan.pending]):
            return True
        if plan.original is None:
            self._store.fail_items([plan.pending.id], "original_failed", "the corrected record never reached the chain")
            return True
        assert self._next_seq is not None
        data = self._ledger.correct_record_data(self._next_seq, *plan.original, plan.pending.item)
        digest = batch_digest([plan.pending.item.record_hash])
        self._sign_and_send(data, batch_gas(data, 1), [plan.pending.id], digest)
        return True

    def _check_writer(self, item_ids: list[int]) -> bool:
        """Whether the signer may write now (checked at most once per writer_check_seconds). Paused or suspended:
        raises, and the records wait in the outbox; removed or no lender at all: the items fail for good."""
        if time.monotonic() - self._writer_checked_at <= self.config.writer_check_seconds:
            return True
        state = self._ledger.writer_state()
        if state.may_write:
            self._writer_checked_at = time.monotonic()
            return True
        if not state.lane_ok:  # this delegate signer was removed: the lender's other lanes take its share
            if self._plan is not None:
                self._plan.retire(self.lane)
            signer = self._tx.address
            log.warning("submitter: delegate signer %s no longer serves lane %s; lane retired", signer, self.lane)
            return False
        message = NOT_ACTIVE_MESSAGE.format(self.lender)
        if state.paused and not state.for_good:
            raise WriterBlocked("the consortium ledger is paused; records wait in the outbox")
        if not state.for_good:
            raise WriterBlocked(f"{message} ({state.status.name.lower()}); records wait in the outbox")
        self._store.fail_items(item_ids, "signer_not_active_lender", message)
        self._metrics.batches.labels("rejected").inc()
        self.last_error = message
        return False

    def _sign_and_send(self, data: bytes, gas: int, item_ids: list[int], digest: bytes) -> None:
        """Check the signer may write, then sign and persist one batch; the sender and settler threads do the rest."""
        seq = self._next_seq
        assert seq is not None
        if not self._check_writer(item_ids):
            return
        signed = self._tx.sign_data(self._ledger.contract.address, data, gas)
        try:
            batch_id = self._persist(seq, signed, item_ids, digest)
        except ItemsTaken as exc:  # nothing stored, nothing sent: recover (after the batches in flight settle)
            log.warning("submitter lane %s: %s; not sent", self.lane, exc)
            self._next_seq = None
            return
        self._next_seq = seq + 1
        sent = self._sender.submit(self.broadcaster.send, signed.raw)
        settled = self._settler.submit(self._await_and_settle, sent, batch_id, signed.tx_hash)
        self._inflight.append((settled, time.monotonic()))

    def oldest_unsettled_seconds(self) -> float:
        """Seconds the oldest batch in flight has waited to settle (0: none in flight). Read from other threads
        (readiness): a batch settling meanwhile only makes the answer a moment old."""
        try:
            future, signed_at = self._inflight[0]
        except IndexError:
            return 0.0
        return 0.0 if future.done() else time.monotonic() - signed_at

    def _await_and_settle(self, sent: Future[None], batch_id: int, tx_hash: str) -> bool:
        sent.result()
        return self._settle(batch_id, self._tx.wait_receipt(tx_hash))

    def _persist(self, seq: int, signed: SignedTx, item_ids: list[int], digest: bytes) -> int:
        """Store the signed batch and assign its items — before anything is sent."""
        search_from = self.last_confirmed_block or self.config.from_block
        batch_id = self._store.store_signed(seq, signed, item_ids, search_from, digest)
        self._metrics.batches.labels("sent").inc()
        return batch_id

    def _settle(self, batch_id: int, receipt: Receipt) -> bool:
        """Record a mined batch's outcome; returns whether the lane's sequence is stale. It runs in the settler
        thread, so it leaves `_next_seq` to the preparing thread (setting it here raced with `_send_batch`)."""
        seq, digest = self._store.seq_of(batch_id)
        if receipt.status != 1:
            error = self._tx.revert_reason(receipt.tx_hash, receipt)
            if isinstance(error, ContractRevert) and error.name == "LedgerBatchOutOfOrder":
                try:
                    landed = self._ledger.find_batch(self._tx, seq, digest, self.config.from_block)
                except BatchConflict as exc:
                    landed, error = None, exc
                if landed is not None:  # an earlier copy of this batch landed: that one counts
                    receipt = landed
                else:
                    self._requeue(batch_id, "out_of_order", str(error))
                    return True
            elif isinstance(error, ContractRevert) and error.name in WAIT_ERRORS:
                # Paused, or the signer suspended, after the batch was signed: its items wait for the next batch.
                self._requeue(batch_id, WAIT_ERRORS[error.name], str(error))
                raise WriterBlocked(f"the ledger refused a batch ({error.name}); its records wait in the outbox")
            else:
                self._close_failed(batch_id, error)
                return False
        recorded = self._ledger.parse_receipt(receipt, seq)
        now = utcnow()
        try:
            accepted = self._store.confirm(batch_id, recorded, now)
        except ValueError as exc:
            raise ChainError(str(exc)) from None
        for accepted_at in accepted:
            self._metrics.accept_to_confirm.observe((now - accepted_at).total_seconds())
        self.last_confirmed_block = recorded.block_number
        self._metrics.batches.labels("confirmed").inc()
        self._metrics.gas_used.inc(recorded.gas_used)
        self._metrics.items_confirmed.inc(len(accepted))
        self._metrics.last_confirmed_block.set(recorded.block_number)
        return False

    def _close_failed(self, batch_id: int, error: ChainError) -> None:
        code = FATAL_ERRORS.get(error.name, "reverted") if isinstance(error, ContractRevert) else "reverted"
        self._store.close_failed(batch_id, code, str(error))
        self._metrics.batches.labels("failed").inc()
        self._tx.resync_nonce()

    def _requeue(self, batch_id: int, code: str, message: str) -> None:
        """Give a batch's items back to the queue (the batch itself can never land)."""
        self._store.requeue(batch_id, code, message)
        self._tx.resync_nonce()
