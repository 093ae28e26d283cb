"""Opening and closing disputes on the ledger: one transaction each, sent from the lender's key and waited for.

Disputes are rare and a person waits for the answer, so they go straight to the chain rather than through the
outbox's batches; the `Transactor` the submitter shares keeps their nonces in one sequence with its batches.
"""

from __future__ import annotations

from dataclasses import dataclass

from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from creditshare.chain.artifacts import LEDGER, event_topic
from creditshare.chain.transactor import Transactor
from creditshare.core.exceptions import ChainError

#: Gas for one dispute transaction: a few slots and one log (~60k measured) with margin.
DISPUTE_GAS = 150_000


@dataclass(frozen=True)
class SentDispute:
    """A dispute transaction that was mined: its hash and the position of the log it emitted."""

    tx_hash: str
    block: int
    log_index: int


class DisputeSender:
    """Sends `openDispute` and `resolveDispute` for one lender."""

    def __init__(self, ledger: Contract, transactor: Transactor) -> None:
        self._ledger = ledger
        self._tx = transactor
        self._opened = event_topic(LEDGER, "DisputeOpened")
        self._resolved = event_topic(LEDGER, "DisputeResolved")

    def open(self, lender: str, record_hash: bytes, objection_hash: bytes) -> SentDispute:
        """Open a dispute on `lender`'s record; raises `ContractRevert` (already open, over the quota, not a
        member...) with nothing sent when the chain would refuse it."""
        call = self._ledger.functions.openDispute(Web3.to_checksum_address(lender), record_hash, objection_hash)
        return self._sent(self._tx.transact(call), self._opened)

    def resolve(self, lender: str, record_hash: bytes, outcome: int, detail: bytes) -> SentDispute:
        """Close the dispute on `lender`'s record as `outcome` (1 upheld, 2 corrected) with its detail."""
        call = self._ledger.functions.resolveDispute(Web3.to_checksum_address(lender), record_hash, outcome, detail)
        return self._sent(self._tx.transact(call), self._resolved)

    def _sent(self, receipt: TxReceipt, topic: bytes) -> SentDispute:
        for entry in receipt["logs"]:
            if entry["topics"] and HexBytes(entry["topics"][0]) == HexBytes(topic):
                return SentDispute(
                    "0x" + HexBytes(receipt["transactionHash"]).hex().removeprefix("0x"),
                    int(receipt["blockNumber"]),
                    int(entry["logIndex"]),
                )
        raise ChainError(f"the dispute transaction {receipt['transactionHash']!r} emitted no dispute log")
