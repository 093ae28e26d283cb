"""Checking one reported event against the chain itself, not the index: the console's *Verify* button.

The index could be stale, or its database edited; the node's receipt of the cited transaction cannot be edited
by the gateway. The check fetches that receipt, decodes its logs with the follower's own decoder (so a hostile
log is judged the same way) and looks for a credit event of the ledger with the reported record hash and subject
key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web3 import Web3

from creditshare.chain.rpc import rpc
from creditshare.read.decode import decode_logs


@dataclass(frozen=True)
class ChainCheck:
    """Whether the chain holds the event as reported; where and by whom when it does."""

    match: bool
    reason: str = ""  # why not, for people
    block: int | None = None
    lender: str | None = None


class ProvenanceChecker:
    """Looks events up in transaction receipts of one consortium's ledger."""

    def __init__(self, w3: Web3, ledger: str, registry: str) -> None:
        self._w3, self._ledger, self._registry = w3, ledger, registry

    def check(self, tx_hash: bytes, record_hash: bytes, subject_key: bytes) -> ChainCheck:
        """Raises `ChainError` when the node cannot be asked."""
        receipt: dict[str, Any] | None = rpc(self._w3, "eth_getTransactionReceipt", ["0x" + tx_hash.hex()])
        if receipt is None:
            return ChainCheck(False, "the chain has no such transaction")
        if int(receipt.get("status", "0x0"), 16) != 1:
            return ChainCheck(False, "the transaction reverted")
        block = int(receipt["blockNumber"], 16)
        header = rpc(self._w3, "eth_getBlockByNumber", [hex(block), False])
        logs = [{**entry, "blockNumber": receipt["blockNumber"]} for entry in receipt.get("logs", [])]
        rows = decode_logs(logs, self._ledger, self._registry, {block: int(header["timestamp"], 16)})
        for item in rows.items:
            if item.table == "events" and item.row["record_hash"] == record_hash:
                if item.row["subject_key"] != subject_key:
                    return ChainCheck(False, "the record is on chain for another subject", block)
                return ChainCheck(True, block=block, lender=str(item.row["lender"]))
        return ChainCheck(False, "the transaction holds no such record", block)
