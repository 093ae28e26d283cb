"""Hostile members: a quarantine for logs the index cannot accept, index columns wide enough for what the chain
carries, a fencing token on leases, and the outbox's seal version.

- `idx_quarantine`: every log of our contracts the follower refuses, raw, with its reason.
- `idx_events.occurred_day` becomes a 64-bit integer (the chain carries a uint32; PostgreSQL's integer is signed
  32-bit).
- `locks.token`: advanced when a lease changes hands; the submitter's writes check it in their own transaction.
- `idx_corrections.subject_key`, `idx_disputes.subject_key`: the subject of the record corrected or disputed,
  filled from `idx_events` for the rows there are, so a report reads them by subject (a list of a subject's record
  hashes can exceed the database's parameter limit, and a subquery costs as much as the subject's events).
- `batches.digest`: what the ledger's BatchRecorded log of the batch must carry (older batches have none).
- `outbox.seal_version`: existing rows are version 1 (associated data: lender and record id only); the gateway
  checks and re-seals them as version 2 (every on-chain column bound) before it signs any of them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "idx_quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("tx_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("sender", sa.String(length=42), nullable=True),
        sa.Column("event", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("topics", sa.LargeBinary(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("block_number", "log_index", name="uq_idx_quarantine_log"),
    )
    op.create_index("ix_idx_quarantine_reason", "idx_quarantine", ["reason"])
    with op.batch_alter_table("idx_events") as batch:
        batch.alter_column("occurred_day", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False)
    with op.batch_alter_table("locks") as batch:
        batch.add_column(sa.Column("token", sa.BigInteger(), nullable=False, server_default="0"))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("seal_version", sa.Integer(), nullable=False, server_default="1"))
    for table, record in (("idx_corrections", "original_hash"), ("idx_disputes", "record_hash")):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("subject_key", sa.LargeBinary(length=32), nullable=True))
            batch.create_index(f"ix_{table}_subject", ["subject_key"])
        op.execute(
            f"UPDATE {table} SET subject_key = (SELECT e.subject_key FROM idx_events e "
            f"WHERE e.record_hash = {table}.{record} AND e.lender = {table}.lender LIMIT 1)"
        )
    with op.batch_alter_table("batches") as batch:
        batch.add_column(sa.Column("digest", sa.LargeBinary(length=32), nullable=True))


def downgrade() -> None:
    """Forward-only: going back means restoring the backup taken before `creditshare db upgrade`."""
    raise RuntimeError("creditshare migrations are forward-only: restore the backup taken before upgrading")
