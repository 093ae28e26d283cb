"""The submitter: takes pending outbox items into signed batches and sees them confirmed exactly once.

Exactly-once rests on three facts. (1) Each batch carries the lender's next on-chain sequence number, so the
ledger accepts it at most once. (2) The signed transaction and its hash are stored, with the items' batch
assignment, *before* it is sent; after any crash the same bytes are resent, which a node accepts at most once
(same hash). (3) On restart, `recover()` settles every stored batch from the chain: mined → confirm from its
receipt; sequence already used → find the landed copy by its BatchRecorded log; otherwise → resend.
Only one submitter per lender key runs at a time: it holds a lease in the database.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from hexbytes import HexBytes
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from creditshare.chain import Receipt, SignedTx, Transactor
from creditshare.db import Base, Batch, Lock, OutboxItem, transaction, utcnow
from creditshare.exceptions import ChainError, ChainUnavailable, ContractRevert
from creditshare.ledger import Item, LedgerClient, batch_gas
from creditshare.metrics import Metrics

log = logging.getLogger(__name__)

#: Core (not ORM) executemany of per-item updates: a batch updates hundreds of rows on the hot path.
_OUTBOX = Base.metadata.tables[OutboxItem.__tablename__]
_BY_ID = update(_OUTBOX).where(_OUTBOX.c.id == bindparam("item_id"))

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
        self._factory = factory
        self._tx = transactor
        self._ledger = ledger
        self._metrics = metrics
        self.config = config or SubmitterConfig()
        self.lender = transactor.address
        self._owner = uuid.uuid4().hex
        self._lock_name = f"submitter:{self.lender.lower()}"
        self._next_seq: int | None = None
        self.last_error: str | None = None
        self.last_confirmed_block: int | None = None
        # The preparing thread (run/step) signs batches in sequence order; a sender thread broadcasts them and a
        # settler thread waits for each receipt, both FIFO, so the chain works while the next batch is prepared.
        self._sender = ThreadPoolExecutor(1, thread_name_prefix="send")
        self._settler = ThreadPoolExecutor(1, thread_name_prefix="settle")
        self._inflight: deque[Future[None]] = deque()
        self._writer_checked_at = 0.0
        self._lease_fresh_until = 0.0

    # ------------------------------------------------------------------ loop

    def run(self, stop: threading.Event) -> None:
        """Work until `stop` is set, backing off while the chain is unreachable."""
        backoff = 0.1
        while not stop.is_set():
            try:
                if not self._hold_lease():
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
        self.release_lease()
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

    # ------------------------------------------------------------------ lease

    def acquire_lease(self) -> bool:
        """Take or renew this lender's submitter lease; False if another live process holds it."""
        now = utcnow()
        expires = now + dt.timedelta(seconds=self.config.lease_seconds)
        try:
            with transaction(self._factory) as session:
                result = session.execute(
                    update(Lock)
                    .where(Lock.name == self._lock_name)
                    .where((Lock.owner == self._owner) | (Lock.expires_at < now))
                    .values(owner=self._owner, expires_at=expires)
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    return True
                if session.get(Lock, self._lock_name) is not None:
                    return False
                session.add(Lock(name=self._lock_name, owner=self._owner, expires_at=expires))
            return True
        except IntegrityError:
            return False

    def _hold_lease(self) -> bool:
        """`acquire_lease`, but a lease renewed less than `lease_renew_seconds` ago counts as held."""
        now = time.monotonic()
        if now < self._lease_fresh_until:
            return True
        if not self.acquire_lease():
            self._lease_fresh_until = 0.0
            return False
        self._lease_fresh_until = now + self.config.lease_renew_seconds
        return True

    def release_lease(self) -> None:
        self._lease_fresh_until = 0.0
        with transaction(self._factory) as session:
            lock = session.get(Lock, self._lock_name)
            if lock is not None and lock.owner == self._owner:
                session.delete(lock)

    # ------------------------------------------------------------------ recovery

    def recover(self) -> None:
        """Settle every signed-but-unconfirmed batch against the chain, then resume from the chain's sequence."""
        chain_seq = self._ledger.next_sequence()
        self._tx.resync_nonce()
        with self._factory() as session:
            open_batches = list(
                session.scalars(
                    select(Batch).where(Batch.lender == self.lender, Batch.status == "signed").order_by(Batch.seq)
                )
            )
        for batch in open_batches:
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

    def _take_items(self) -> list[tuple[int, Item]]:
        """Up to batch_size pending items (oldest first), once the batch is full or the oldest has waited
        batch_interval. Reads only the columns a batch needs."""
        pending = (
            OutboxItem.lender == self.lender,
            OutboxItem.status == "pending",
            OutboxItem.kind != "correction",
        )
        with self._factory() as session:
            rows = session.execute(
                select(
                    OutboxItem.id,
                    OutboxItem.subject_key,
                    OutboxItem.item_key,
                    OutboxItem.record_hash,
                    OutboxItem.data_word,
                    OutboxItem.accepted_at,
                )
                .where(*pending)
                .order_by(OutboxItem.id)
                .limit(self.config.batch_size)
            ).all()
        if not rows:
            return []
        age = (utcnow() - _aware(rows[0].accepted_at)).total_seconds()
        if len(rows) < self.config.batch_size and age < self.config.batch_interval:
            return []
        return [(r.id, Item(r.subject_key, r.item_key, r.record_hash, r.data_word)) for r in rows]

    def _send_batch(self, items: list[tuple[int, Item]]) -> None:
        assert self._next_seq is not None
        data = self._ledger.record_batch_data(self._next_seq, [item for _, item in items])
        self._sign_and_send(data, batch_gas(data, len(items)), [item_id for item_id, _ in items])

    def _send_correction(self) -> bool:
        """Send the oldest pending correction whose original is confirmed (corrections are batches of one)."""
        with self._factory() as session:
            correction = session.scalar(
                select(OutboxItem)
                .where(
                    OutboxItem.lender == self.lender, OutboxItem.status == "pending", OutboxItem.kind == "correction"
                )
                .order_by(OutboxItem.id)
                .limit(1)
            )
            if correction is None:
                return False
            original = session.get(OutboxItem, correction.corrects_id)
            assert original is not None
            if original.status in ("pending", "submitted"):
                return False  # the original must land first
            batch = session.get(Batch, original.batch_id) if original.batch_id is not None else None
            if original.status == "failed" or batch is None or original.batch_index is None:
                ref = None
            else:
                hashes = [  # the batch digest has zero in place of each inquiry
                    bytes(32) if kind == "inquiry" else record_hash
                    for record_hash, kind in session.execute(
                        select(OutboxItem.record_hash, OutboxItem.kind)
                        .where(OutboxItem.batch_id == batch.id)
                        .order_by(OutboxItem.batch_index)
                    )
                ]
                ref = (batch.seq, original.batch_index, hashes)
        if ref is None:
            with transaction(self._factory) as session:
                self._fail(session, [correction.id], "original_failed", "the corrected record never reached the chain")
            return True
        assert self._next_seq is not None
        data = self._ledger.correct_record_data(self._next_seq, *ref, _item(correction))
        self._sign_and_send(data, batch_gas(data, 1), [correction.id])
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
                with transaction(self._factory) as session:
                    self._fail(session, item_ids, "signer_not_active_lender", NOT_ACTIVE_MESSAGE.format(self.lender))
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
        with transaction(self._factory) as session:
            batch = Batch(
                lender=self.lender,
                seq=seq,
                status="signed",
                nonce=signed.nonce,
                tx_hash=signed.tx_hash,
                raw_tx=bytes(signed.raw),
                item_count=len(item_ids),
                search_from_block=self.last_confirmed_block or self.config.from_block,
            )
            session.add(batch)
            session.flush()
            session.execute(
                _BY_ID.values(
                    status="submitted", batch_id=batch.id, tx_hash=signed.tx_hash, batch_index=bindparam("i")
                ),
                [{"item_id": item_id, "i": i} for i, item_id in enumerate(item_ids)],
            )
            batch_id = batch.id
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
        with self._factory() as session:
            batch = session.get(Batch, batch_id)
            assert batch is not None
            seq = batch.seq
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
        with transaction(self._factory) as session:
            batch = session.get(Batch, batch_id)
            assert batch is not None
            rows = session.execute(
                select(OutboxItem.id, OutboxItem.accepted_at)
                .where(OutboxItem.batch_id == batch_id)
                .order_by(OutboxItem.batch_index)
            ).all()
            if len(rows) != len(recorded.item_log_indexes):
                raise ChainError(f"batch {seq}: {len(rows)} items but {len(recorded.item_log_indexes)} item logs")
            # What all items share in one statement; only the log index per item (an executemany binds every
            # value of its statement once per row).
            session.execute(
                update(_OUTBOX)
                .where(_OUTBOX.c.batch_id == batch_id)
                .values(
                    status="confirmed", tx_hash=recorded.tx_hash, block_number=recorded.block_number, confirmed_at=now
                )
            )
            session.execute(
                _BY_ID.values(log_index=bindparam("log_index")),
                [
                    {"item_id": item_id, "log_index": log_index}
                    for (item_id, _), log_index in zip(rows, recorded.item_log_indexes, strict=True)
                ],
            )
            for _, accepted_at in rows:
                self._metrics.accept_to_confirm.observe((now - _aware(accepted_at)).total_seconds())
            batch.status = "confirmed"
            batch.tx_hash = recorded.tx_hash
            batch.block_number = recorded.block_number
            batch.gas_used = recorded.gas_used
            batch.confirmed_at = now
        self.last_confirmed_block = recorded.block_number
        self._metrics.batches.labels("confirmed").inc()
        self._metrics.gas_used.inc(recorded.gas_used)
        self._metrics.items_confirmed.inc(len(rows))
        self._metrics.last_confirmed_block.set(recorded.block_number)

    def _rejected(self, exc: ContractRevert, item_ids: list[int]) -> None:
        """A batch the chain refuses before sending: fail the items (fatal) or leave them pending (transient)."""
        if exc.name == "LedgerBatchOutOfOrder":
            self._next_seq = None
            return
        code = FATAL_ERRORS.get(exc.name)
        if code is None:  # e.g. LedgerPaused: retry later
            raise ChainError(f"ledger refused the batch: {exc}")
        with transaction(self._factory) as session:
            self._fail(session, item_ids, code, f"the ledger rejected the batch: {exc}")
        self._metrics.batches.labels("rejected").inc()
        self.last_error = f"ledger rejected a batch: {exc}"

    def _close_failed(self, batch_id: int, error: ChainError) -> None:
        code = FATAL_ERRORS.get(error.name, "reverted") if isinstance(error, ContractRevert) else "reverted"
        with transaction(self._factory) as session:
            batch = session.get(Batch, batch_id)
            assert batch is not None
            batch.status = "failed"
            batch.error_code = code
            batch.error_message = str(error)
            ids = list(session.scalars(select(OutboxItem.id).where(OutboxItem.batch_id == batch_id)))
            self._fail(session, ids, code, f"batch reverted: {error}")
        self._metrics.batches.labels("failed").inc()
        self._tx.resync_nonce()

    def _requeue(self, batch_id: int, code: str, message: str) -> None:
        """Give a batch's items back to the queue (the batch itself can never land)."""
        with transaction(self._factory) as session:
            batch = session.get(Batch, batch_id)
            assert batch is not None
            batch.status = "failed"
            batch.error_code = code
            batch.error_message = message
            session.execute(
                update(OutboxItem)
                .where(OutboxItem.batch_id == batch_id)
                .values(status="pending", batch_id=None, batch_index=None, tx_hash=None)
            )
        self._tx.resync_nonce()

    @staticmethod
    def _fail(session: Session, item_ids: list[int], code: str, message: str) -> None:
        session.execute(
            update(OutboxItem)
            .where(OutboxItem.id.in_(item_ids))
            .values(status="failed", error_code=code, error_message=message, retryable=False)
        )


def _item(row: OutboxItem) -> Item:
    return Item(row.subject_key, row.item_key, row.record_hash, row.data_word)


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes; they are stored in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
