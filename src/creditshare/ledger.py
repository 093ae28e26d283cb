"""Typed access to the CreditLedger contract: build batch calls, read sequences, parse receipts."""

from __future__ import annotations

from dataclasses import dataclass

from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from creditshare.chain import translate_errors
from creditshare.contracts import DecodedEvent, decode_logs

ITEM_EVENTS = ("CreditEventRecorded", "InquiryRecorded")


@dataclass(frozen=True)
class Item:
    """One ledger item: subject key, loan key (or consent hash), record hash, data word."""

    subject_key: bytes
    key: bytes
    record_hash: bytes
    data_word: bytes


@dataclass(frozen=True)
class RecordedBatch:
    """A batch as the chain recorded it."""

    seq: int
    tx_hash: str
    block_number: int
    gas_used: int
    item_logs: list[DecodedEvent]


class LedgerClient:
    """Reads and call-builders for one lender on the ledger."""

    def __init__(self, contract: Contract, lender: str) -> None:
        self.contract = contract
        self.lender = Web3.to_checksum_address(lender)

    def next_sequence(self) -> int:
        with translate_errors():
            return int(self.contract.functions.nextSequence(self.lender).call())

    def record_batch(self, seq: int, items: list[Item]) -> ContractFunction:
        words: list[bytes] = []
        for it in items:
            words.extend((it.subject_key, it.key, it.record_hash, it.data_word))
        return self.contract.functions.recordBatch(seq, words)

    def correct_record(
        self, seq: int, original_seq: int, original_index: int, original_hashes: list[bytes], item: Item
    ) -> ContractFunction:
        ref = (self.lender, original_seq, original_index, original_hashes)
        return self.contract.functions.correctRecord(
            seq, ref, [item.subject_key, item.key, item.record_hash, item.data_word]
        )

    def parse_receipt(self, receipt: TxReceipt, seq: int) -> RecordedBatch:
        """The item logs (in item order) of a mined batch transaction."""
        events = [e for e in decode_logs(receipt["logs"]) if e.address == self.contract.address]
        return RecordedBatch(
            seq=seq,
            tx_hash="0x" + bytes(receipt["transactionHash"]).hex(),
            block_number=int(receipt["blockNumber"]),
            gas_used=int(receipt["gasUsed"]),
            item_logs=[e for e in events if e.name in ITEM_EVENTS],
        )

    def find_batch(self, seq: int, from_block: int = 0) -> TxReceipt | None:
        """The receipt of this lender's batch `seq` if the chain has it (found by its BatchRecorded log)."""
        topic0 = self.contract.events.BatchRecorded().topic
        with translate_errors():
            logs = self.contract.w3.eth.get_logs(
                {
                    "address": self.contract.address,
                    "fromBlock": from_block,
                    "toBlock": "latest",
                    "topics": [
                        HexBytes(topic0),
                        HexBytes(bytes(12) + bytes.fromhex(self.lender[2:])),
                        HexBytes(seq.to_bytes(32, "big")),
                    ],
                }
            )
            if not logs:
                return None
            return self.contract.w3.eth.get_transaction_receipt(logs[0]["transactionHash"])
