"""Raw `eth_getLogs` entries of our two contracts → index rows.

One decoder per event, found by the log's contract and topic 0 (`chain.artifacts` computes the topics); data
words go through `domain.codec`. Logs of other contracts and events we do not index are skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode as abi_decode

from creditshare.chain.artifacts import LEDGER, REGISTRY, event_topic
from creditshare.domain.codec import split_event_word, unpack_inquiry_purpose

#: The index stores amounts in signed 64-bit columns (SQLite and PostgreSQL). The ledger takes any uint64 and no
#: gateway accepts more than 10^15 fen, so larger values are clamped here — identically on every gateway, which
#: keeps reports reproducible, and a raw transaction with an absurd amount cannot stop anyone's index.
MAX_INDEXED_AMOUNT = 2**63 - 1

Row = dict[str, Any]


@dataclass
class IndexRows:
    """Rows decoded from one range of logs, per index table, ready to insert."""

    events: list[Row] = field(default_factory=list)
    inquiries: list[Row] = field(default_factory=list)
    corrections: list[Row] = field(default_factory=list)
    disputes: list[Row] = field(default_factory=list)
    members: list[Row] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.events) + len(self.inquiries) + len(self.corrections) + len(self.disputes) + len(self.members)


@dataclass(frozen=True)
class _Log:
    """The parts of a raw log every decoder uses."""

    topics: list[bytes]
    data: bytes
    block: int
    log_index: int
    tx_hash: bytes
    block_time: Callable[[], int]

    @property
    def position(self) -> Row:
        return {"block_number": self.block, "log_index": self.log_index}

    @property
    def ledger_common(self) -> Row:
        return {"block_number": self.block, "log_index": self.log_index, "tx_hash": self.tx_hash}


def _address(topic: bytes) -> str:
    return "0x" + topic[-20:].hex()


def _credit_event(log: _Log, rows: IndexRows) -> None:
    word = split_event_word(int.from_bytes(log.data[32:64], "big"))
    rows.events.append(
        {
            **log.ledger_common,
            "subject_key": log.topics[1],
            "lender": _address(log.topics[2]),
            "record_hash": log.topics[3],
            "loan_key": log.data[:32],
            "item_type": word.item_type,
            "occurred_day": word.occurred_day,
            "amount_fen": min(MAX_INDEXED_AMOUNT, word.amount_fen),
            "overdue_fen": min(MAX_INDEXED_AMOUNT, word.overdue_fen),
            "days_past_due": word.days_past_due,
        }
    )


def _inquiry(log: _Log, rows: IndexRows) -> None:
    rows.inquiries.append(
        {
            **log.ledger_common,
            "subject_key": log.topics[1],
            "lender": _address(log.topics[2]),
            "inquiry_hash": log.topics[3],
            "consent_hash": log.data[:32],
            "purpose": unpack_inquiry_purpose(int.from_bytes(log.data[32:64], "big")),
            "block_time": log.block_time(),
        }
    )


def _correction(log: _Log, rows: IndexRows) -> None:
    rows.corrections.append(
        {
            **log.ledger_common,
            "lender": _address(log.topics[1]),
            "original_hash": log.topics[2],
            "record_hash": log.topics[3],
        }
    )


def _dispute(outcome_in_data: bool) -> Callable[[_Log, IndexRows], None]:
    def decode(log: _Log, rows: IndexRows) -> None:
        rows.disputes.append(
            {
                **log.ledger_common,
                "lender": _address(log.topics[1]),
                "record_hash": log.topics[2],
                "actor": _address(log.topics[3]),
                "outcome": int.from_bytes(log.data[:32], "big") if outcome_in_data else 0,
                "block_time": log.block_time(),
            }
        )

    return decode


def _member(fields: Callable[[bytes], Row]) -> Callable[[_Log, IndexRows], None]:
    def decode(log: _Log, rows: IndexRows) -> None:
        rows.members.append({**log.position, "address": _address(log.topics[1]), **fields(log.data)})

    return decode


def _admitted(data: bytes) -> Row:
    role, name = abi_decode(["uint8", "string"], data)
    return {"name": name, "role": role, "status": 1}


def _role_changed(data: bytes) -> Row:
    return {"name": None, "role": abi_decode(["uint8", "uint8"], data)[1], "status": None}


def _status_changed(data: bytes) -> Row:
    return {"name": None, "role": None, "status": abi_decode(["uint8", "uint8"], data)[1]}


Decoder = Callable[[_Log, IndexRows], None]

#: (contract, event) → decoder. Events not listed here are not indexed.
_DECODERS: dict[tuple[str, str], Decoder] = {
    (LEDGER, "CreditEventRecorded"): _credit_event,
    (LEDGER, "InquiryRecorded"): _inquiry,
    (LEDGER, "CreditEventCorrected"): _correction,
    (LEDGER, "DisputeOpened"): _dispute(outcome_in_data=False),
    (LEDGER, "DisputeResolved"): _dispute(outcome_in_data=True),
    (REGISTRY, "MemberAdmitted"): _member(_admitted),
    (REGISTRY, "MemberRoleChanged"): _member(_role_changed),
    (REGISTRY, "MemberStatusChanged"): _member(_status_changed),
}
_BY_TOPIC: dict[tuple[str, bytes], Decoder] = {
    (contract, event_topic(contract, event)): decoder for (contract, event), decoder in _DECODERS.items()
}


def _b(hex_str: str) -> bytes:
    return bytes.fromhex(hex_str[2:])


def decode_logs(logs: list[Row], ledger: str, registry: str, block_times: dict[int, int]) -> IndexRows:
    """Decode raw `eth_getLogs` entries of our two contracts into index rows (other logs are skipped)."""
    rows = IndexRows()
    contracts = {ledger.lower(): LEDGER, registry.lower(): REGISTRY}
    for entry in logs:
        contract = contracts.get(entry["address"].lower())
        if contract is None or not entry["topics"]:
            continue
        decoder = _BY_TOPIC.get((contract, _b(entry["topics"][0])))
        if decoder is None:
            continue
        block = int(entry["blockNumber"], 16)
        log = _Log(
            topics=[_b(t) for t in entry["topics"]],
            data=_b(entry["data"]),
            block=block,
            log_index=int(entry["logIndex"], 16),
            tx_hash=_b(entry["transactionHash"]),
            block_time=lambda block=block: block_times[block],  # type: ignore[misc]
        )
        decoder(log, rows)
    return rows
