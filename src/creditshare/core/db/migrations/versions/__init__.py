"""The revisions, one file each, named `<revision>_<slug>.py` (Alembic skips this file)."""
