"""${message}

Revision ${up_revision}, after ${down_revision | comma,n}. Forward-only and additive: add tables, columns or
indexes (use `op.batch_alter_table` for anything SQLite cannot ALTER in place); never drop data.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}
revision: str = ${repr(up_revision)}
down_revision: str | None = ${repr(down_revision)}
branch_labels: str | None = ${repr(branch_labels)}
depends_on: str | None = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    """Forward-only: going back means restoring the backup taken before `creditshare db upgrade`."""
    raise RuntimeError("creditshare migrations are forward-only: restore the backup taken before upgrading")
