"""The chain: the one JSON-RPC boundary, contract artifacts, windowed log reads, the ledger client, governance,
the key-share directory and deployment. Every failure is translated into `core.exceptions` here."""
