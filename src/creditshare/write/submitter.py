"""The submitter: takes pending outbox items into signed batches and sees them confirmed exactly once.

Exactly-once rests on three facts. (1) Each batch carries the lender's next on-chain sequence number, so the
ledger accepts it at most once. (2) The signed transaction and its hash are stored, with the items' batch
assignment, *before* it is sent; after any crash the same bytes are resent, which a node accepts at most once
(same hash). (3) On restart, `recover()` settles every stored batch from the chain: mined → confirm from its
receipt; sequence already used → find the landed copy by its BatchRecorded log; otherwise → resend.
Only one submitter per lender key runs at a time: it holds a lease in the database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from hexbytes import HexBytes
from sqlalchemy.orm import Session, sessionmaker

from creditshare.chain.ledger import LedgerClient, batch_gas
from creditshare.chain.rpc import Receipt
from creditshare.chain.transactor import SignedTx, Transactor
from creditshare.core.clock import utcnow
from creditshare.core.exceptions import ChainError, ChainUnavailable, ContractRevert
from creditshare.core.metrics import Metrics
from creditshare.write.batches import BatchStore, PendingItem
from creditshare.write.lease import Lease

log = logging.getLogger(__name__)

NOT_ACTIVE_MESSAGE = "the gateway's signer {} is not an active lender of the consortium"

#: Contract errors that no retry can fix: the items fail with the error as their reason.
FATAL_ERRORS = {
    "LedgerNotActiveLender": "signer_not_active_lender",
    "LedgerZeroKey": "invalid_item",
    "LedgerUnknownItemType": "invalid_item",
    "LedgerInvalidRecordRef": "invalid_original",
    "LedgerNotRecordOwner": "not_record_owner",
}


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


class Submitter:
    """Batches, signs, sends and confirms one lender's outbox items."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        transactor: Transactor,
        ledger: LedgerClient,
        metrics: Metrics,
        config: SubmitterConfig | None = None,
    ) -> None:
        self._tx = transactor
        self._ledger = ledger
        self._metrics = metrics
        self.config = config or SubmitterConfig()
        self.lender = transactor.address
        self._store = BatchStore(factory, self.lender)
        self.lease = Lease(
            factory,
            f"submitter:{self.lender.lower()}",
            seconds=self.config.lease_seconds,
            renew_seconds=self.config.lease_renew_seconds,
        )
        self._next_seq: int | None = None
        self.last_error: str | None = None
        self.last_confirmed_block: int | None = None
        # The preparing thread (run/step) signs batches in sequence order; a sender thread broadcasts them and a
        # settler thread waits for each receipt, both FIFO, so the chain works while the next batch is prepared.
        self._sender = ThreadPoolExecutor(1, thread_name_prefix="send")
        self._settler = ThreadPoolExecutor(1, thread_name_prefix="settle")
        self._inflight: deque[Future[None]] = deque()
        self._writer_checked_at = 0.0

    # ------------------------------------------------------------------ loop

    def run(self, stop: threading.Event) -> None:
        """Work until `stop` is set, backing off while the chain is unreachable."""
        backoff = 0.1
        while not stop.is_set():
            try:
                if not self.lease.hold():
                    stop.wait(self.config.lease_seconds / 3)
                    continue
                worked = self.step()
                backoff = 0.1
                self.last_error = None
                if not worked:
                    stop.wait(self.config.batch_interval)
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
            self._inflight[0].result()
            return True
        if self._send_correction():
            return True
        items = self._take_items()
        if not items:
            if self._inflight:
                self._inflight[0].result()
                return True
            return False
        self._send_batch(items)
        return True

    def drain(self) -> None:
        """Wait for every batch in flight to settle (errors are left to recovery)."""
        while self._inflight:
            try:
                self._inflight.popleft().result()
            except Exception as exc:
                log.info("submitter: in-flight batch ended with %s", exc)
                self._next_seq = None

    def _reap(self) -> None:
        """Drop settled batches; re-raise the first error so the loop backs off and recovers."""
        while self._inflight and self._inflight[0].done():
            future = self._inflight.popleft()
            error = future.exception()
            if error is not None:
                self.drain()
                self._next_seq = None
                raise error

    # ------------------------------------------------------------------ recovery

    def recover(self) -> None:
        """Settle every signed-but-unconfirmed batch against the chain, then resume from the chain's sequence."""
        chain_seq = self._ledger.next_sequence()
        self._tx.resync_nonce()
        for batch in self._store.open_batches():
            receipt = self._tx.receipt(batch.tx_hash)
            if receipt is None and batch.seq < chain_seq:
                receipt = self._ledger.find_batch(self._tx, batch.seq, batch.search_from_block)
            if receipt is not None:
                self._settle(batch.id, receipt)
            elif batch.seq == chain_seq:
                log.info("submitter: resending batch seq %s (%s)", batch.seq, batch.tx_hash)
                self._send_raw(batch.raw_tx)
                self._settle(batch.id, self._tx.wait_receipt(batch.tx_hash))
                chain_seq = self._ledger.next_sequence()
            else:  # seq ahead of the chain with a gap before it: it can never land; its items go back
                self._requeue(batch.id, "stale_batch", f"batch seq {batch.seq} ahead of chain seq {chain_seq}")
        self._next_seq = self._ledger.next_sequence()

    # ------------------------------------------------------------------ batches

    def _take_items(self) -> list[PendingItem]:
        """Up to batch_size pending items (oldest first), once the batch is full or the oldest has waited
        batch_interval."""
        items = self._store.pending(self.config.batch_size)
        if not items:
            return []
        age = (utcnow() - items[0].accepted_at).total_seconds()
        if len(items) < self.config.batch_size and age < self.config.batch_interval:
            return []
        return items

    def _send_batch(self, items: list[PendingItem]) -> None:
        assert self._next_seq is not None
        data = self._ledger.record_batch_data(self._next_seq, [p.item for p in items])
        self._sign_and_send(data, batch_gas(data, len(items)), [p.id for p in items])

    def _send_correction(self) -> bool:
        """Send the oldest pending correction whose original is confirmed (corrections are batches of one)."""
        plan = self._store.next_correction()
        if plan is None:
            return False
        if plan.original is None:
            self._store.fail_items([plan.item_id], "original_failed", "the corrected record never reached the chain")
            return True
        assert self._next_seq is not None
        data = self._ledger.correct_record_data(self._next_seq, *plan.original, plan.item)
        self._sign_and_send(data, batch_gas(data, 1), [plan.item_id])
        return True

    def _sign_and_send(self, data: bytes, gas: int, item_ids: list[int]) -> None:
        """Check the signer may write, then sign and persist one batch; the sender and settler threads do the rest."""
        seq = self._next_seq
        assert seq is not None
        if time.monotonic() - self._writer_checked_at > self.config.writer_check_seconds:
            active, paused = self._ledger.writer_state()
            if paused:
                raise ChainError("the consortium ledger is paused; records wait in the outbox")
            if not active:
                self._store.fail_items(item_ids, "signer_not_active_lender", NOT_ACTIVE_MESSAGE.format(self.lender))
                self._metrics.batches.labels("rejected").inc()
                self.last_error = NOT_ACTIVE_MESSAGE.format(self.lender)
                return
            self._writer_checked_at = time.monotonic()
        signed = self._tx.sign_data(self._ledger.contract.address, data, gas)
        batch_id = self._persist(seq, signed, item_ids)
        self._next_seq = seq + 1
        sent = self._sender.submit(self._send_raw, signed.raw)
        self._inflight.append(self._settler.submit(self._await_and_settle, sent, batch_id, signed.tx_hash))

    def _await_and_settle(self, sent: Future[None], batch_id: int, tx_hash: str) -> None:
        sent.result()
        self._settle(batch_id, self._tx.wait_receipt(tx_hash))

    def _persist(self, seq: int, signed: SignedTx, item_ids: list[int]) -> int:
        """Store the signed batch and assign its items — before anything is sent."""
        batch_id = self._store.store_signed(seq, signed, item_ids, self.last_confirmed_block or self.config.from_block)
        self._metrics.batches.labels("sent").inc()
        return batch_id

    def _send_raw(self, raw: bytes) -> None:
        try:
            self._tx.send_raw(HexBytes(raw))
        except ChainUnavailable:
            raise
        except ChainError as exc:
            text = str(exc).lower()
            if "already known" in text or "known transaction" in text or "already imported" in text:
                return  # the node has these exact bytes: fine
            if "nonce too low" in text or "nonce is too low" in text:
                return  # a transaction with this nonce was mined: the receipt or recovery tells which
            raise

    def _settle(self, batch_id: int, receipt: Receipt) -> None:
        """Record the outcome of a mined batch transaction."""
        seq = self._store.seq_of(batch_id)
        if receipt.status != 1:
            error = self._tx.revert_reason(receipt.tx_hash, receipt)
            if isinstance(error, ContractRevert) and error.name == "LedgerBatchOutOfOrder":
                landed = self._ledger.find_batch(self._tx, seq, self.config.from_block)
                if landed is not None:  # an earlier copy of this batch landed: that one counts
                    receipt = landed
                else:
                    self._requeue(batch_id, "out_of_order", str(error))
                    self._next_seq = None
                    return
            else:
                self._close_failed(batch_id, error)
                return
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

    def _close_failed(self, batch_id: int, error: ChainError) -> None:
        code = FATAL_ERRORS.get(error.name, "reverted") if isinstance(error, ContractRevert) else "reverted"
        self._store.close_failed(batch_id, code, str(error))
        self._metrics.batches.labels("failed").inc()
        self._tx.resync_nonce()

    def _requeue(self, batch_id: int, code: str, message: str) -> None:
        """Give a batch's items back to the queue (the batch itself can never land)."""
        self._store.requeue(batch_id, code, message)
        self._tx.resync_nonce()
