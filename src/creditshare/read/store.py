"""Writing decoded rows into the index tables (after `read.screen` has checked them against the index), and
rolling the index back after a reorganisation.

Rows are keyed by (block, log index), so a re-read range inserts nothing twice.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from creditshare.core.db import Base, copy_rows
from creditshare.core.db.tables import (
    Alert,
    IndexBlock,
    IndexCorrection,
    IndexDispute,
    IndexEvent,
    IndexInquiry,
    IndexMemberEvent,
    IndexQuarantine,
    IndexState,
)
from creditshare.read.decode import IndexRows, Table
from creditshare.read.screen import screen

#: The tables holding decoded logs (each has block_number and log_index).
INDEX_TABLES = (IndexEvent, IndexInquiry, IndexCorrection, IndexDispute, IndexMemberEvent, IndexQuarantine, Alert)
_MODELS: dict[Table, type[Base]] = {
    "events": IndexEvent,
    "inquiries": IndexInquiry,
    "corrections": IndexCorrection,
    "disputes": IndexDispute,
    "members": IndexMemberEvent,
}


def _insert_rows(session: Session, model: type[Base], rows: list[dict[str, Any]], *, new: bool) -> None:
    """Insert rows, skipping those already stored; rows known to be `new` go in by COPY on PostgreSQL."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if new and dialect == "postgresql":
        copy_rows(session, model.__tablename__, rows)
        return
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # Core insert on the table: the ORM's bulk path costs more per row than the database does.
    session.execute(insert(model.metadata.tables[model.__tablename__]).on_conflict_do_nothing(), rows)


#: Called in the transaction that stored a range, with its accepted rows by table and its blocks' times (how
#: alerts are raised in the same transaction as the logs that cause them); returns what it raised.
OnStored = Callable[[Session, dict[str, list[dict[str, Any]]], dict[int, int]], int]


@dataclass(frozen=True)
class Stored:
    """What storing a range came to: logs quarantined, by reason, and what `on_stored` raised."""

    quarantined: dict[str, int]
    raised: int = 0


def store_batch(
    session: Session,
    rows: IndexRows,
    blocks: dict[int, tuple[bytes, int]],
    last_block: int,
    on_stored: OnStored | None = None,
) -> Stored:
    """Write one decoded range: the rows the index accepts, the quarantined logs, the blocks' (hash, timestamp),
    and the cursor moved to `last_block` (which must be among `blocks`); then `on_stored`. Rows already present
    are skipped, so a re-read range adds nothing."""
    state = session.get(IndexState, 1, with_for_update=True)
    assert state is not None
    # Rows and the cursor commit together, so nothing above the cursor is ever stored: a range wholly above it
    # (the follower's every range) holds only new rows, and the lock on the cursor keeps that true until commit.
    positions = (row["block_number"] for row in itertools.chain((i.row for i in rows.items), rows.quarantine))
    new = state.last_block < min(itertools.chain(blocks, positions))
    checked = screen(session, rows)
    tables: dict[str, list[dict[str, Any]]] = {name: checked.table(name) for name in _MODELS}
    for name, model in _MODELS.items():
        _insert_rows(session, model, tables[name], new=new)
    _insert_rows(session, IndexQuarantine, checked.quarantine, new=new)
    block_rows = [{"number": n, "hash": h, "timestamp": t} for n, (h, t) in blocks.items()]
    _insert_rows(session, IndexBlock, block_rows, new=new)
    state.last_block = last_block
    state.last_hash = blocks[last_block][0]
    counts: dict[str, int] = {}
    for row in checked.quarantine:
        counts[row["reason"]] = counts.get(row["reason"], 0) + 1
    raised = on_stored(session, tables, {n: t for n, (_, t) in blocks.items()}) if on_stored is not None else 0
    return Stored(counts, raised)


def quarantined_by_reason(session: Session) -> dict[str, int]:
    """How many logs the index holds in quarantine, by reason."""
    rows = session.execute(select(IndexQuarantine.reason, func.count()).group_by(IndexQuarantine.reason))
    return {reason: int(count) for reason, count in rows}


def delete_above(session: Session, block: int, block_hash: bytes | None) -> None:
    """Delete every indexed row and block above `block` and move the cursor there."""
    session.execute(delete(IndexBlock).where(IndexBlock.number > block))
    for model in INDEX_TABLES:
        session.execute(delete(model).where(model.block_number > block))
    state = session.get(IndexState, 1)
    assert state is not None
    state.last_block = block
    state.last_hash = block_hash
