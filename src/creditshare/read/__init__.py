"""The read path: follow the chain into the index, answer reports and verifications from it, and keep the
hash-chained audit log of every query."""
