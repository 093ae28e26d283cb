"""Disputes and post-loan alerts: the detail of each dispute log (objection hash, correction or reason code), the
on-chain side of a filed objection, and the alerts, watch list and webhook tables."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("idx_disputes", sa.Column("detail", sa.LargeBinary(length=32), nullable=True))
    op.create_index("ix_idx_disputes_lender", "idx_disputes", ["lender"])
    op.create_index("ix_idx_disputes_actor", "idx_disputes", ["actor"])
    op.add_column("borrower_objections", sa.Column("record_lender", sa.String(length=42), nullable=True))
    op.add_column("borrower_objections", sa.Column("objection_hash", sa.LargeBinary(length=32), nullable=True))
    op.add_column("borrower_objections", sa.Column("tx_hash", sa.String(length=66), nullable=True))
    op.add_column("borrower_objections", sa.Column("dispute_id", sa.String(length=24), nullable=True))
    op.create_index("ix_borrower_objections_dispute_id", "borrower_objections", ["dispute_id"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("subject_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("other_lender", sa.String(length=42), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=False),
        sa.Column("dispute_id", sa.String(length=24), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("block_number", "log_index", name="uq_alerts_log"),
    )
    op.create_table(
        "watchlist",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("watching", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subject_key"),
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=512), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["endpoint_id"], ["webhook_endpoints.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["state", "next_attempt_at"])
    op.create_index(
        "uq_webhook_deliveries_alert_endpoint", "webhook_deliveries", ["alert_id", "endpoint_id"], unique=True
    )


def downgrade() -> None:
    """Forward-only: going back means restoring the backup taken before `creditshare db upgrade`."""
    raise RuntimeError("creditshare migrations are forward-only: restore the backup taken before upgrading")
