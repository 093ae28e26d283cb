"""The submitter's side of the database: pending items in, signed batches stored, outcomes settled.

Every write here is one transaction, so the outbox and the batches never disagree: a batch's items are
assigned in the same transaction that stores its signed bytes, and confirmed (with their log indexes) in the
same transaction that closes it. And every write is fenced: it first checks, in its own transaction, that this
process still holds the submitter lease (`Lease.fence`), so a submitter that stalled past its lease cannot mark
anything once another has taken over.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from creditshare.chain.ledger import Item, RecordedBatch
from creditshare.chain.signers import lane_start
from creditshare.chain.transactor import SignedTx
from creditshare.core.db import Base, transaction
from creditshare.core.db.tables import Batch, OutboxItem
from creditshare.domain.status import OPEN_STATUSES, BatchStatus, ItemKind, ItemStatus
from creditshare.write.lanes import Share
from creditshare.write.seal import SEAL_VERSION, OnChainColumns, columns_of

#: What a pending item is read with: the batch's columns, and the seal and the columns it binds.
_PENDING_COLUMNS = (
    OutboxItem.id,
    OutboxItem.record_id,
    OutboxItem.kind,
    OutboxItem.subject_key,
    OutboxItem.item_key,
    OutboxItem.record_hash,
    OutboxItem.data_word,
    OutboxItem.accepted_at,
    OutboxItem.payload,
)

#: Core (not ORM) executemany of per-item updates: a batch updates hundreds of rows on the hot path.
_OUTBOX = Base.metadata.tables[OutboxItem.__tablename__]
_BY_ID = update(_OUTBOX).where(_OUTBOX.c.id == bindparam("item_id"))


@dataclass(frozen=True)
class PendingItem:
    """An item waiting for a batch: what the batch needs, and what its seal is checked with before signing."""

    id: int
    item: Item
    accepted_at: dt.datetime
    columns: OnChainColumns
    payload: bytes

    @property
    def digest_hash(self) -> bytes:
        """What the item adds to its batch's digest: its record hash, or zero for an inquiry."""
        return bytes(32) if self.columns.kind == ItemKind.INQUIRY else self.item.record_hash


@dataclass(frozen=True)
class CorrectionPlan:
    """The oldest pending correction and the reference to its original's batch (None: the original failed)."""

    pending: PendingItem
    original: tuple[int, int, list[bytes]] | None  # (batch seq, index in batch, the batch's digest hashes)


def aware(value: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes; they are stored in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _pending(row: Any, corrects: str | None = None) -> PendingItem:
    return PendingItem(
        row.id,
        Item(row.subject_key, row.item_key, row.record_hash, row.data_word),
        aware(row.accepted_at),
        columns_of(row, corrects),
        row.payload,
    )


Fence = Callable[[Session], None]


class ItemsTaken(Exception):
    """Raised by `store_signed` when some of the items were no longer pending (another lane took them): nothing is
    stored, and the signed transaction must not be sent."""


class BatchStore:
    """Reads and writes of one lender's outbox items and the batches of one of its lanes, for that lane's submitter;
    `fence` is called first in every write transaction and raises when this process may no longer write. `share`
    says which pending items the lane takes (None: all; a retired lane takes none)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        lender: str,
        fence: Fence,
        lane: int = 0,
        share: Callable[[], Share | None] | None = None,
    ) -> None:
        self._factory = factory
        self.lender = lender
        self._fence = fence
        self.lane = lane
        self._share = share

    def _in_lane(self) -> ColumnElement[bool]:
        """This lane's batches: their sequence numbers lie in [lane << 56, (lane + 1) << 56)."""
        return (
            (Batch.lender == self.lender)
            & (Batch.seq >= lane_start(self.lane))
            & (Batch.seq < lane_start(self.lane + 1))
        )

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with transaction(self._factory) as session:
            self._fence(session)
            yield session

    def open_batches(self) -> list[Batch]:
        """This lane's signed batches not yet settled, in sequence order."""
        with self._factory() as session:
            return list(
                session.scalars(
                    select(Batch).where(self._in_lane(), Batch.status == BatchStatus.SIGNED).order_by(Batch.seq)
                )
            )

    def pending(self, limit: int) -> list[PendingItem]:
        """Up to `limit` pending items other than corrections, oldest first (only the columns a batch and its seal
        check need), of this lane's share. Rows sealed before every column was bound wait until
        `Outbox.reseal_legacy` checked them."""
        share = self._share() if self._share is not None else None
        if self._share is not None and share is None:
            return []  # a retired lane takes nothing new
        query = select(*_PENDING_COLUMNS).where(
            OutboxItem.lender == self.lender,
            OutboxItem.status == ItemStatus.PENDING,
            OutboxItem.kind != ItemKind.CORRECTION,
            OutboxItem.seal_version == SEAL_VERSION,
        )
        if share is not None and share.count > 1:
            query = query.where(OutboxItem.id % share.count == share.position)
        with self._factory() as session:
            rows = session.execute(query.order_by(OutboxItem.id).limit(limit)).all()
        return [_pending(r) for r in rows]

    def next_correction(self) -> CorrectionPlan | None:
        """The oldest pending correction whose original has settled (corrections are batches of one), or None."""
        with self._factory() as session:
            correction = session.scalar(
                select(OutboxItem)
                .where(
                    OutboxItem.lender == self.lender,
                    OutboxItem.status == ItemStatus.PENDING,
                    OutboxItem.kind == ItemKind.CORRECTION,
                )
                .order_by(OutboxItem.id)
                .limit(1)
            )
            if correction is None or correction.seal_version != SEAL_VERSION:
                return None
            original = session.get(OutboxItem, correction.corrects_id)
            assert original is not None
            if original.status in OPEN_STATUSES:
                return None  # the original must land first
            pending = _pending(correction, original.record_id)
            batch = session.get(Batch, original.batch_id) if original.batch_id is not None else None
            if original.status == ItemStatus.FAILED or batch is None or original.batch_index is None:
                return CorrectionPlan(pending, None)
            hashes = [  # the batch digest has zero in place of each inquiry
                bytes(32) if kind == ItemKind.INQUIRY else record_hash
                for record_hash, kind in session.execute(
                    select(OutboxItem.record_hash, OutboxItem.kind)
                    .where(OutboxItem.batch_id == batch.id)
                    .order_by(OutboxItem.batch_index)
                )
            ]
            return CorrectionPlan(pending, (batch.seq, original.batch_index, hashes))

    def store_signed(
        self, seq: int, signed: SignedTx, item_ids: Sequence[int], search_from_block: int, digest: bytes
    ) -> int:
        """Store a signed batch and assign its items to it — before anything is sent. Returns the batch id. Raises
        `ItemsTaken` (storing nothing) when an item is no longer pending: only one batch ever claims an item."""
        with self._write() as session:
            batch = Batch(
                lender=self.lender,
                seq=seq,
                status=BatchStatus.SIGNED,
                nonce=signed.nonce,
                tx_hash=signed.tx_hash,
                raw_tx=bytes(signed.raw),
                item_count=len(item_ids),
                search_from_block=search_from_block,
                digest=digest,
            )
            session.add(batch)
            session.flush()
            claimed = session.execute(
                update(OutboxItem)
                .where(OutboxItem.id.in_(item_ids), OutboxItem.status == ItemStatus.PENDING)
                .values(status=ItemStatus.SUBMITTED, batch_id=batch.id, tx_hash=signed.tx_hash)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != len(item_ids):  # type: ignore[attr-defined]
                raise ItemsTaken(f"{len(item_ids) - claimed.rowcount} of the items were taken by another lane")  # type: ignore[attr-defined]
            if item_ids:
                session.execute(
                    _BY_ID.values(batch_index=bindparam("i")),
                    [{"item_id": item_id, "i": i} for i, item_id in enumerate(item_ids)],
                )
            return batch.id

    def seq_of(self, batch_id: int) -> tuple[int, bytes | None]:
        """The batch's sequence number and digest."""
        with self._factory() as session:
            batch = session.get(Batch, batch_id)
            assert batch is not None
            return batch.seq, batch.digest

    def confirm(self, batch_id: int, recorded: RecordedBatch, now: dt.datetime) -> list[dt.datetime]:
        """Mark the batch and its items confirmed, each item with its own log index; returns the items' accept
        times. Raises `ValueError` when the receipt's item logs do not match the batch's items."""
        with self._write() as session:
            batch = session.get(Batch, batch_id)
            assert batch is not None
            rows = session.execute(
                select(OutboxItem.id, OutboxItem.accepted_at)
                .where(OutboxItem.batch_id == batch_id)
                .order_by(OutboxItem.batch_index)
            ).all()
            if len(rows) != len(recorded.item_log_indexes):
                raise ValueError(f"batch {batch.seq}: {len(rows)} items but {len(recorded.item_log_indexes)} item logs")
            # What all items share in one statement; only the log index per item (an executemany binds every
            # value of its statement once per row).
            session.execute(
                update(_OUTBOX)
                .where(_OUTBOX.c.batch_id == batch_id)
                .values(
                    status=ItemStatus.CONFIRMED,
                    tx_hash=recorded.tx_hash,
                    block_number=recorded.block_number,
                    confirmed_at=now,
                )
            )
            session.execute(
                _BY_ID.values(log_index=bindparam("log_index")),
                [
                    {"item_id": item_id, "log_index": log_index}
                    for (item_id, _), log_index in zip(rows, recorded.item_log_indexes, strict=True)
                ],
            )
            batch.status = BatchStatus.CONFIRMED
            batch.tx_hash = recorded.tx_hash
            batch.block_number = recorded.block_number
            batch.gas_used = recorded.gas_used
            batch.confirmed_at = now
            return [aware(accepted_at) for _, accepted_at in rows]

    def reopen_lost(self, chain_seq: int) -> list[int]:
        """Batches confirmed here whose sequence the chain no longer has (it is at `chain_seq`: the node lost blocks
        it had shown, or is a node that is behind) go back to signed, their items to submitted; returns their
        seqs. Recovery then sends the very same signed bytes again."""
        with self._write() as session:
            lost = list(
                session.scalars(
                    select(Batch).where(self._in_lane(), Batch.status == BatchStatus.CONFIRMED, Batch.seq >= chain_seq)
                )
            )
            for batch in lost:
                batch.status = BatchStatus.SIGNED
                batch.block_number = batch.confirmed_at = None
                session.execute(
                    update(OutboxItem)
                    .where(OutboxItem.batch_id == batch.id)
                    .values(status=ItemStatus.SUBMITTED, block_number=None, log_index=None, confirmed_at=None)
                )
            return sorted(batch.seq for batch in lost)

    def close_failed(self, batch_id: int, code: str, message: str) -> None:
        """The batch reverted for good: it and its items are failed with `code`."""
        with self._write() as session:
            _close_batch(session, batch_id, code, message)
            ids = list(session.scalars(select(OutboxItem.id).where(OutboxItem.batch_id == batch_id)))
            _fail(session, ids, code, f"batch reverted: {message}")

    def requeue(self, batch_id: int, code: str, message: str) -> None:
        """The batch can never land: it is failed and its items go back to pending."""
        with self._write() as session:
            _close_batch(session, batch_id, code, message)
            session.execute(
                update(OutboxItem)
                .where(OutboxItem.batch_id == batch_id)
                .values(status=ItemStatus.PENDING, batch_id=None, batch_index=None, tx_hash=None)
            )

    def fail_items(self, item_ids: Sequence[int], code: str, message: str) -> None:
        """Items that can never be recorded (e.g. the signer was removed, or a row was tampered with)."""
        with self._write() as session:
            _fail(session, item_ids, code, message)


def _close_batch(session: Session, batch_id: int, code: str, message: str) -> None:
    batch = session.get(Batch, batch_id)
    assert batch is not None
    batch.status = BatchStatus.FAILED
    batch.error_code = code
    batch.error_message = message


def _fail(session: Session, item_ids: Sequence[int], code: str, message: str) -> None:
    session.execute(
        update(OutboxItem)
        .where(OutboxItem.id.in_(item_ids))
        .values(status=ItemStatus.FAILED, error_code=code, error_message=message, retryable=False)
    )
