"""Subject keys v2 (threshold OPRF): a key-share holder's hash-chained evaluation log and its anchors, and a
gateway's encrypted cache of its own customers' OPRF outputs.

A holder's database uses only the first two tables, a gateway's only the cache.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "keyshare_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("request_id", sa.LargeBinary(length=32), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("member", sa.String(length=42), nullable=False),
        sa.Column("purpose", sa.String(length=8), nullable=False),
        sa.Column("inquiry", sa.LargeBinary(length=32), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("entry_hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("request_id"),
    )
    op.create_index("ix_keyshare_log_member_at", "keyshare_log", ["member", "at"])
    op.create_table(
        "keyshare_anchors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("head", sa.LargeBinary(length=32), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "subject_key_cache",
        sa.Column("lookup", sa.LargeBinary(length=32), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("lookup"),
    )


def downgrade() -> None:
    """Forward-only: going back means restoring the backup taken before `creditshare db upgrade`."""
    raise RuntimeError("creditshare migrations are forward-only: restore the backup taken before upgrading")
