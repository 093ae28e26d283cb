"""Alembic's environment: runs the revisions on the connection `creditshare.core.db.schema` hands over.

That module opens the transaction, takes the schema lock and passes the connection in
`config.attributes["connection"]`, so the whole upgrade commits (or rolls back) as one. `render_as_batch` makes
`op.batch_alter_table` rebuild tables on SQLite, which cannot ALTER most things in place.
"""

from __future__ import annotations

from alembic import context

from creditshare.core.db import tables as tables  # registers every table on Base.metadata
from creditshare.core.db.base import Base
from creditshare.core.exceptions import ConfigError

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise ConfigError("migrations run only through `creditshare db upgrade` (creditshare.core.db.schema)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
