"""Raw `eth_getLogs` entries of our two contracts → index rows, or quarantine rows for what cannot be accepted.

Every other member may be hostile or buggy, and so may the node: a log is untrusted input. One decoder per event,
found by the log's contract and topic 0 (`chain.artifacts` computes the topics), checks the log's shape and its
fields against the rules an honest gateway follows (`domain.codec`); a log that fails — or that no decoder can
read at all — becomes a quarantine row with its reason and raw bytes, and never stops the follower. Checks that
need the index itself (is the sender a lender, does the corrected record exist) come after, in `read.screen`.
Logs of other contracts and events we do not index are skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from eth_abi import decode as abi_decode

from creditshare.chain.artifacts import LEDGER, REGISTRY, event_topic
from creditshare.chain.governance import MemberStatus, Role
from creditshare.domain.codec import event_word_problem, inquiry_word_problem, split_event_word, unpack_inquiry_purpose

Row = dict[str, Any]
Table = Literal["events", "inquiries", "corrections", "disputes", "members"]


class Rejected(Exception):
    """Raised by a decoder for a log the index must not accept; `reason` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Item:
    """A decoded log: its table, its row, and the raw log (kept in case a later check quarantines it)."""

    table: Table
    row: Row
    raw: Row
    event: str


@dataclass
class IndexRows:
    """What one range of logs decodes to: accepted rows in log order, and quarantined logs."""

    items: list[Item] = field(default_factory=list)
    quarantine: list[Row] = field(default_factory=list)

    def table(self, name: Table) -> list[Row]:
        return [item.row for item in self.items if item.table == name]

    @property
    def size(self) -> int:
        return len(self.items) + len(self.quarantine)


@dataclass(frozen=True)
class Log:
    """The parts of a raw log every decoder uses."""

    topics: list[bytes]
    data: bytes
    block: int
    log_index: int
    tx_hash: bytes
    block_time: int

    @property
    def position(self) -> Row:
        return {"block_number": self.block, "log_index": self.log_index}

    @property
    def ledger_common(self) -> Row:
        return {"block_number": self.block, "log_index": self.log_index, "tx_hash": self.tx_hash}

    def shape(self, topics: int, data: int) -> None:
        """Reject a log whose topics or data do not have the event's shape."""
        if len(self.topics) != topics or len(self.data) != data:
            raise Rejected(
                "malformed_log", f"{len(self.topics)} topics and {len(self.data)} data bytes, not {topics} and {data}"
            )


def _address(topic: bytes) -> str:
    if any(topic[:12]):
        raise Rejected("malformed_log", "an address topic with non-zero upper bytes")
    return "0x" + topic[-20:].hex()


def _key(value: bytes, name: str) -> bytes:
    if not any(value):
        raise Rejected("zero_key", f"the {name} is zero")
    return value


def _credit_event(log: Log) -> tuple[Table, Row]:
    log.shape(4, 64)
    data = int.from_bytes(log.data[32:64], "big")
    problem = event_word_problem(data, latest_day=log.block_time // 86_400 + 1)
    if problem:
        raise Rejected("invalid_event", problem)
    word = split_event_word(data)
    return "events", {
        **log.ledger_common,
        "subject_key": _key(log.topics[1], "subject key"),
        "lender": _address(log.topics[2]),
        "record_hash": _key(log.topics[3], "record hash"),
        "loan_key": _key(log.data[:32], "loan key"),
        "item_type": word.item_type,
        "occurred_day": word.occurred_day,
        "amount_fen": word.amount_fen,
        "overdue_fen": word.overdue_fen,
        "days_past_due": word.days_past_due,
    }


def _inquiry(log: Log) -> tuple[Table, Row]:
    log.shape(4, 64)
    data = int.from_bytes(log.data[32:64], "big")
    problem = inquiry_word_problem(data)
    if problem:
        raise Rejected("invalid_inquiry", problem)
    return "inquiries", {
        **log.ledger_common,
        "subject_key": _key(log.topics[1], "subject key"),
        "lender": _address(log.topics[2]),
        "inquiry_hash": _key(log.topics[3], "inquiry hash"),
        "consent_hash": _key(log.data[:32], "consent hash"),
        "purpose": unpack_inquiry_purpose(data),
        "block_time": log.block_time,
    }


def _correction(log: Log) -> tuple[Table, Row]:
    log.shape(4, 0)
    return "corrections", {
        **log.ledger_common,
        "lender": _address(log.topics[1]),
        "original_hash": _key(log.topics[2], "original record hash"),
        "record_hash": _key(log.topics[3], "record hash"),
    }


def _dispute(log: Log, outcome: int, detail: bytes) -> Row:
    return {
        **log.ledger_common,
        "lender": _address(log.topics[1]),
        "record_hash": _key(log.topics[2], "record hash"),
        "actor": _address(log.topics[3]),
        "outcome": outcome,
        "detail": detail,
        "block_time": log.block_time,
    }


def _dispute_opened(log: Log) -> tuple[Table, Row]:
    """DisputeOpened: data is the objection hash and the opener's counts (today, total), which the index does not
    keep (it counts openings itself)."""
    log.shape(4, 96)
    return "disputes", _dispute(log, 0, _key(log.data[:32], "objection hash"))


def _dispute_resolved(log: Log) -> tuple[Table, Row]:
    log.shape(4, 64)
    outcome = int.from_bytes(log.data[:32], "big")
    if outcome not in (1, 2):  # DisputeOutcome: 1 upheld, 2 corrected
        raise Rejected("invalid_dispute", f"outcome {outcome} is neither upheld (1) nor corrected (2)")
    return "disputes", _dispute(log, outcome, _key(log.data[32:64], "dispute detail"))


def _known(enum: type[Role] | type[MemberStatus], value: int) -> int:
    if value not in {m.value for m in enum} or value == 0:
        raise Rejected("invalid_member_event", f"{enum.__name__} {value}")
    return value


def _display_name(name: str) -> str:
    """A member's name as the index keeps it: the registry only bounds its length, so a control character (a NUL,
    which no PostgreSQL text column accepts, or a line break in a report) becomes U+FFFD instead of being stored."""
    return "".join(char if char.isprintable() else "\ufffd" for char in name[:64])


def _member_admitted(log: Log) -> tuple[Table, Row]:
    role, name = abi_decode(["uint8", "string"], log.data)
    fields = {"name": _display_name(name), "role": _known(Role, role), "status": MemberStatus.ACTIVE.value}
    return "members", {**log.position, "address": _address(log.topics[1]), **fields}


def _member_role_changed(log: Log) -> tuple[Table, Row]:
    log.shape(2, 64)
    role = _known(Role, abi_decode(["uint8", "uint8"], log.data)[1])
    return "members", {**log.position, "address": _address(log.topics[1]), "name": None, "role": role, "status": None}


def _member_status_changed(log: Log) -> tuple[Table, Row]:
    log.shape(2, 64)
    status = _known(MemberStatus, abi_decode(["uint8", "uint8"], log.data)[1])
    return "members", {**log.position, "address": _address(log.topics[1]), "name": None, "role": None, "status": status}


Decoder = Callable[[Log], tuple[Table, Row]]

#: (contract, event) → decoder. Events not listed here are not indexed.
_DECODERS: dict[tuple[str, str], Decoder] = {
    (LEDGER, "CreditEventRecorded"): _credit_event,
    (LEDGER, "InquiryRecorded"): _inquiry,
    (LEDGER, "CreditEventCorrected"): _correction,
    (LEDGER, "DisputeOpened"): _dispute_opened,
    (LEDGER, "DisputeResolved"): _dispute_resolved,
    (REGISTRY, "MemberAdmitted"): _member_admitted,
    (REGISTRY, "MemberRoleChanged"): _member_role_changed,
    (REGISTRY, "MemberStatusChanged"): _member_status_changed,
}
_BY_TOPIC: dict[tuple[str, bytes], tuple[str, Decoder]] = {
    (contract, event_topic(contract, event)): (event, decoder) for (contract, event), decoder in _DECODERS.items()
}


def _b(hex_str: str) -> bytes:
    return bytes.fromhex(hex_str[2:])


def quarantine_row(entry: Row, reason: str, detail: str, event: str | None, sender: str | None = None) -> Row:
    """A quarantine row for a raw log: its position, raw topics and data, and why."""
    topics = entry.get("topics") or []
    return {
        "block_number": int(entry["blockNumber"], 16),
        "log_index": int(entry["logIndex"], 16),
        "tx_hash": _b(entry["transactionHash"]),
        "address": entry["address"].lower(),
        "sender": sender,
        "event": event,
        "reason": reason,
        "detail": detail[:500],
        "topics": b"".join(_b(t) for t in topics),
        "data": _b(entry.get("data") or "0x"),
    }


def decode_logs(logs: list[Row], ledger: str, registry: str, block_times: dict[int, int]) -> IndexRows:
    """Decode raw `eth_getLogs` entries of our two contracts into index rows, in log order; a log that cannot be
    accepted goes to the quarantine (other contracts' logs and events we do not index are skipped)."""
    rows = IndexRows()
    contracts = {ledger.lower(): LEDGER, registry.lower(): REGISTRY}
    for entry in logs:
        contract = contracts.get(str(entry.get("address", "")).lower())
        if contract is None or not entry.get("topics"):
            continue
        found = _BY_TOPIC.get((contract, _b(entry["topics"][0])))
        if found is None:
            continue
        event, decoder = found
        try:
            block = int(entry["blockNumber"], 16)
            log = Log(
                topics=[_b(t) for t in entry["topics"]],
                data=_b(entry["data"]),
                block=block,
                log_index=int(entry["logIndex"], 16),
                tx_hash=_b(entry["transactionHash"]),
                block_time=block_times[block],
            )
            table, row = decoder(log)
            rows.items.append(Item(table, row, entry, event))
        except Rejected as exc:
            rows.quarantine.append(quarantine_row(entry, exc.reason, exc.detail, event))
        except Exception as exc:  # anything a hostile log can make a decoder raise: never stop the follower
            rows.quarantine.append(quarantine_row(entry, "undecodable", f"{type(exc).__name__}: {exc}", event))
    return rows
