"""creditshare: a shared credit ledger for a consortium of micro-lending companies."""

__version__ = "0.1.0"
