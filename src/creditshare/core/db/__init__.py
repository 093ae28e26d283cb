"""The database: one engine and session factory per process, tables split by the area that owns them."""

from creditshare.core.db import tables as tables  # registers every table on Base.metadata
from creditshare.core.db.base import Base
from creditshare.core.db.engine import (
    Sessions,
    checkpoint,
    checkpoint_loop,
    copy_rows,
    driver_rows,
    in_chunks,
    make_engine,
    session_factory,
    transaction,
)

__all__ = [
    "Base",
    "Sessions",
    "checkpoint",
    "checkpoint_loop",
    "copy_rows",
    "driver_rows",
    "in_chunks",
    "make_engine",
    "session_factory",
    "tables",
    "transaction",
]
