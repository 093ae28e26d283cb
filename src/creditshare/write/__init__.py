"""The write path: accept records into the outbox, batch and sign them, see them confirmed on chain exactly
once, and import historic books from CSV."""
