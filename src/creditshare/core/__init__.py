"""The bottom layer: settings, the database, exceptions, keys and secrets, crypto, metrics and rate limits.

Nothing in `core` knows about credit records, the chain or HTTP; every other package may import it.
"""
