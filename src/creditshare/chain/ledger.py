"""Typed access to the CreditLedger contract: build batch calls, read sequences, parse receipts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import function_abi_to_4byte_selector
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract

from creditshare.chain.artifacts import LEDGER, event_topic
from creditshare.chain.governance import MemberStatus, Role
from creditshare.chain.logs import LogWindow, address_topic, head_block
from creditshare.chain.rpc import Receipt, rpc, translate_errors
from creditshare.chain.signers import signer_record
from creditshare.chain.transactor import Transactor
from creditshare.core.exceptions import ChainError

#: Gas limit of a batch: intrinsic calldata cost + fixed execution + a per-item bound. Measured execution is
#: ~45k fixed + ~3.0k per item (benchmarks/gas.py); the margins keep every batch size below its limit.
BATCH_FIXED_GAS = 21_000 + 90_000
BATCH_ITEM_GAS = 3_600


@dataclass(frozen=True)
class Item:
    """One ledger item: subject key, loan key (or consent hash), record hash, data word."""

    subject_key: bytes
    key: bytes
    record_hash: bytes
    data_word: bytes


class BatchConflict(ChainError):
    """Raised when a lender's batch sequence number was used by a different batch than the one being settled: that
    batch can never land, and its items were not recorded."""


@dataclass(frozen=True)
class WriterState:
    """The lender's membership, the ledger's pause flag and (for a delegate signer) whether the signer still serves
    the lender's lane, as the registry says now."""

    role: Role
    status: MemberStatus
    paused: bool
    lane_ok: bool = True

    @property
    def may_write(self) -> bool:
        return self.role == Role.LENDER and self.status == MemberStatus.ACTIVE and not self.paused and self.lane_ok

    @property
    def for_good(self) -> bool:
        """Whether the signer can never write again (removed, or not a lender at all): suspension and a pause are
        reversible, so records then wait."""
        return self.status in (MemberStatus.NONE, MemberStatus.REMOVED) or self.role != Role.LENDER


@dataclass(frozen=True)
class RecordedBatch:
    """A batch as the chain recorded it: the log index of each item, in item order."""

    seq: int
    tx_hash: str
    block_number: int
    gas_used: int
    item_log_indexes: list[int]


def batch_gas(calldata: bytes, items: int) -> int:
    """Gas limit for a batch transaction (no estimation round trip: estimation re-executes the batch)."""
    intrinsic = 16 * len(calldata) - 12 * calldata.count(0)  # 16 per non-zero byte, 4 per zero byte
    return BATCH_FIXED_GAS + intrinsic + BATCH_ITEM_GAS * items


class LedgerClient:
    """Calls and reads of the ledger for one lender and one of its lanes (0: the lender's own key; otherwise the
    lane of delegate signer `signer`), encoded with eth-abi directly on the hot path."""

    def __init__(
        self, ledger: Contract, registry: Contract, lender: str, lane: int = 0, signer: str | None = None
    ) -> None:
        self.contract = ledger
        self.registry = registry
        self.lender = Web3.to_checksum_address(lender)
        self.lane = lane
        self.signer = Web3.to_checksum_address(signer) if signer else self.lender
        abi: dict[tuple[str, str], Any] = {(str(i["type"]), str(i.get("name", ""))): i for i in ledger.abi}
        self._record_selector = function_abi_to_4byte_selector(abi[("function", "recordBatch")])
        self._item_topics = {event_topic(LEDGER, name) for name in ("CreditEventRecorded", "InquiryRecorded")}
        self._batch_topic = event_topic(LEDGER, "BatchRecorded")

    def next_sequence(self) -> int:
        """The sequence number the lane's next batch must carry."""
        with translate_errors():
            return int(self.contract.functions.nextSequenceInLane(self.lender, self.lane).call())

    def writer_state(self) -> WriterState:
        """Whether the signer may write now, and if not why — checked before signing each batch."""
        with translate_errors():
            role, status, _, _ = self.registry.functions.member(self.lender).call()
            paused = bool(self.registry.functions.paused().call())
        lane_ok = True
        if self.lane:
            record = signer_record(self.registry, self.signer)
            lane_ok = record.active and record.lender == self.lender and record.lane == self.lane
        return WriterState(Role(role), MemberStatus(status), paused, lane_ok)

    def record_batch_data(self, seq: int, items: list[Item]) -> bytes:
        """Calldata of `recordBatch(uint64 seq, bytes32[] items)`, laid out directly (the hot path): selector,
        seq, the array's offset (0x40), its length, then the words. Equal to eth-abi's encoding (tested)."""
        head = seq.to_bytes(32, "big") + (64).to_bytes(32, "big") + (4 * len(items)).to_bytes(32, "big")
        body = b"".join(it.subject_key + it.key + it.record_hash + it.data_word for it in items)
        if len(body) != 128 * len(items):
            raise ValueError("every item word must be 32 bytes")
        return self._record_selector + head + body

    def correct_record_data(
        self, seq: int, original_seq: int, original_index: int, original_hashes: list[bytes], item: Item
    ) -> bytes:
        """Calldata of `correctRecord(seq, (lender, originalSeq, index, hashes), item)`."""
        ref = (self.lender, original_seq, original_index, original_hashes)
        words = [item.subject_key, item.key, item.record_hash, item.data_word]
        return bytes(HexBytes(self.contract.encode_abi("correctRecord", args=[seq, ref, words])))

    def parse_receipt(self, receipt: Receipt, seq: int) -> RecordedBatch:
        """The item logs (in item order) of a mined batch transaction."""
        address = self.contract.address.lower()
        indexes = [
            log.log_index
            for log in receipt.logs
            if log.address == address and log.topics and log.topics[0] in self._item_topics
        ]
        return RecordedBatch(seq, receipt.tx_hash, receipt.block_number, receipt.gas_used, indexes)

    def find_batch(
        self, tx: Transactor, seq: int, digest: bytes | None, from_block: int = 0, window: int = 1000
    ) -> Receipt | None:
        """The receipt of this lender's batch `seq`, found by its BatchRecorded log (read in windows of at most
        `window` blocks, as Besu caps eth_getLogs ranges). Raises `BatchConflict` when the batch that took `seq`
        is not the one with `digest` (None: a batch signed before digests were kept; any is taken as it)."""
        query = {
            "address": self.contract.address,
            "topics": [
                "0x" + self._batch_topic.hex(),
                address_topic(self.lender),
                "0x" + seq.to_bytes(32, "big").hex(),
            ],
        }
        for page in LogWindow(tx.w3, window).scan(query, from_block, head_block(tx.w3)):
            if page.logs:
                entry = page.logs[0]
                landed = bytes.fromhex(entry["data"][2:])[32:64]  # (itemCount, digest)
                if digest is not None and landed != digest:
                    raise BatchConflict(
                        f"sequence {seq} was taken by batch {entry['transactionHash']} with another digest"
                    )
                return _landed(tx, entry)
        return None


def _landed(tx: Transactor, entry: dict[str, Any]) -> Receipt:
    """The receipt of the transaction that wrote `entry` (a BatchRecorded log). A node's receipt for that hash
    should hold the log; when it does not (Ganache mines the same bytes a second time, as a failing transaction
    under the same hash, when they are re-sent while still pending), the batch's logs are taken from the block
    itself instead — the logs are what was recorded."""
    receipt = tx.receipt(entry["transactionHash"])
    block = int(entry["blockNumber"], 16)
    if receipt is not None and receipt.status == 1 and receipt.block_number == block:
        return receipt
    logs = rpc(tx.w3, "eth_getLogs", [{"address": entry["address"], "blockHash": entry["blockHash"]}])
    mine = [log for log in logs if log["transactionHash"].lower() == entry["transactionHash"].lower()]
    gas = receipt.gas_used if receipt is not None else 0
    return Receipt.from_rpc(
        {"transactionHash": entry["transactionHash"], "status": "0x1", "blockNumber": hex(block),
         "gasUsed": hex(gas), "logs": mine}
    )  # fmt: skip


def batch_digest(record_hashes: list[bytes]) -> bytes:
    """What the ledger stores and logs for a batch: keccak256 of its record hashes, zero for each inquiry."""
    return bytes(Web3.keccak(b"".join(record_hashes)))
