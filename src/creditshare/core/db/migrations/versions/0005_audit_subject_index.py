"""An index on the audit log's subject key: a person's own-report allowance counts their audited requests of the
year, which was a scan of the whole log (0.23 s at 1M entries on SQLite)."""

from __future__ import annotations

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_audit_log_subject_key", "audit_log", ["subject_key"])


def downgrade() -> None:
    """Forward-only: going back means restoring the backup taken before `creditshare db upgrade`."""
    raise RuntimeError("creditshare migrations are forward-only: restore the backup taken before upgrading")
