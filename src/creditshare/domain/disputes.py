"""Disputes (征信业管理条例 art. 25): an objection marks a record as disputed at once and must be checked and
answered within 20 days. What a dispute is, how it is closed, and what state it is in at a given instant.

A dispute is named by the position of its `DisputeOpened` log, `"<block>-<log index>"`: the same on every
member's gateway, since every index holds the same logs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from enum import IntEnum, StrEnum

from creditshare.core.exceptions import CreditShareError

#: Days the recording lender has to check and answer an objection (征信业管理条例 art. 25).
VERIFY_DAYS = 20
OBJECTION_HASH_DOMAIN = b"creditshare/objection/v1\x00"
_ID = re.compile(r"^([0-9]{1,12})-([0-9]{1,6})$")


class InvalidDisputeId(CreditShareError):
    """Raised when a dispute id is not `<block>-<log index>`."""


class Outcome(IntEnum):
    """How a dispute was closed (the ledger's `DisputeOutcome`; 0 is an opening)."""

    UPHELD = 1
    CORRECTED = 2

    @property
    def label(self) -> str:
        return self.name.lower()


class UpheldReason(IntEnum):
    """Why a record was upheld: the reason code a `DisputeResolved` log carries as its detail."""

    VERIFIED_WITH_SOURCE = 1  # checked against the loan file: the record is right
    BORROWER_WITHDREW = 2  # the borrower withdrew the objection
    NO_GROUNDS = 3  # the objection names no error in the record

    @property
    def label(self) -> str:
        return self.name.lower()


class DisputeState(StrEnum):
    """Where a dispute stands at an instant: open, open past its deadline, or resolved."""

    OPEN = "open"
    OVERDUE = "overdue"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class DisputeId:
    """The position of a dispute's opening log."""

    block: int
    log_index: int

    @classmethod
    def parse(cls, text: str) -> DisputeId:
        match = _ID.match(text)
        if match is None:
            raise InvalidDisputeId(f"dispute id {text!r} is not <block>-<log index>, e.g. 1234-0")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.block}-{self.log_index}"


def due_at(opened_at: dt.datetime, days: int = VERIFY_DAYS) -> dt.datetime:
    """When the answer to a dispute opened at `opened_at` is due."""
    return opened_at + dt.timedelta(days=days)


def state_at(opened_at: dt.datetime, resolved: bool, now: dt.datetime, days: int = VERIFY_DAYS) -> DisputeState:
    """A dispute's state at `now`: resolved, or open — overdue once its deadline has passed."""
    if resolved:
        return DisputeState.RESOLVED
    return DisputeState.OVERDUE if now > due_at(opened_at, days) else DisputeState.OPEN


def objection_hash(reference: str, lender: str, record_hash: bytes, statement: str) -> bytes:
    """The commitment to an objection that goes on chain: SHA-256 over a domain tag, the opening member's
    reference, the disputed record (its lender and hash) and the statement. The statement stays with the opening
    member; whoever is shown it can check it against the chain."""
    digest = hashlib.sha256(OBJECTION_HASH_DOMAIN)
    for part in (reference.encode(), lender.lower().encode(), record_hash, statement.encode()):
        digest.update(len(part).to_bytes(4, "big"))
        digest.update(part)
    return digest.digest()
