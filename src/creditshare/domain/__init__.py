"""The credit domain: borrower identity, records and their on-chain encoding, purposes, statuses and the report.

Pure code: no database, chain or HTTP. It may import `core` only.
"""
