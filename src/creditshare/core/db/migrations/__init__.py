"""The Alembic migrations of the database schema (`env.py`, the revision template and `versions/`).

Run them only through `creditshare.core.db.schema` (`creditshare db upgrade`, or `make_engine` on an empty
database); there is no alembic.ini. Revisions are forward-only and additive: a new table, column or index, never
a dropped one, so a backup is the way back.
"""
