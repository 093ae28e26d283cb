"""The shipped contract artifacts: ABIs, bytecode, event topics and custom-error decoding.

Artifacts are package data written by `creditshare compile` (`devtools.compiler`); loading them needs no Node
or solc. This module is the one place that computes event topics and error selectors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import event_abi_to_log_topic, function_signature_to_4byte_selector, to_checksum_address

from creditshare.core.exceptions import ArtifactError, ContractRevert

REGISTRY = "ConsortiumRegistry"
LEDGER = "CreditLedger"
KEYSHARES = "KeyShareDirectory"

#: Every shipped contract: their custom errors and events are decoded at this one boundary.
CONTRACTS = (REGISTRY, LEDGER, KEYSHARES)


@dataclass(frozen=True)
class Artifact:
    """A compiled contract: ABI, creation bytecode and the compiler that produced it."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    compiler: dict[str, Any]

    def to_json(self) -> str:
        """The artifact file's text, as shipped (sorted keys, so a fresh compile compares byte for byte)."""
        payload = {
            "contractName": self.name,
            "abi": self.abi,
            "bytecode": self.bytecode,
            "deployedBytecode": self.deployed_bytecode,
            "compiler": self.compiler,
        }
        return json.dumps(payload, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Artifact:
        data = json.loads(text)
        return cls(
            name=data["contractName"],
            abi=data["abi"],
            bytecode=data["bytecode"],
            deployed_bytecode=data["deployedBytecode"],
            compiler=data["compiler"],
        )


@cache
def load_artifact(name: str) -> Artifact:
    """Return the shipped artifact of contract `name`."""
    try:
        text = resources.files("creditshare.artifacts").joinpath(f"{name}.json").read_text("utf-8")
    except FileNotFoundError as exc:
        raise ArtifactError(f"no artifact for {name}; run `creditshare compile`") from exc
    return Artifact.from_json(text)


def _abi_type(param: dict[str, Any]) -> str:
    if param["type"].startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param["components"])
        return f"({inner}){param['type'][5:]}"
    return str(param["type"])


@cache
def _error_table() -> dict[bytes, tuple[str, list[str]]]:
    table: dict[bytes, tuple[str, list[str]]] = {}
    for name in CONTRACTS:
        for item in load_artifact(name).abi:
            if item["type"] != "error":
                continue
            types = [_abi_type(p) for p in item["inputs"]]
            selector = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
            table[selector] = (item["name"], types)
    return table


def decode_error(data: bytes | str) -> ContractRevert | None:
    """Decode revert data into a `ContractRevert` if it is one of our custom errors, else None."""
    raw = bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else data
    if len(raw) < 4:
        return None
    entry = _error_table().get(raw[:4])
    if entry is None:
        return None
    name, types = entry
    values = abi_decode(types, raw[4:]) if types else ()
    args = tuple(to_checksum_address(v) if t == "address" else v for t, v in zip(types, values, strict=True))
    return ContractRevert(name, args, "0x" + raw[:4].hex())


@dataclass(frozen=True)
class DecodedEvent:
    """One decoded log of our contracts."""

    name: str
    args: dict[str, Any]
    address: str
    log_index: int
    block_number: int
    transaction_hash: str


@cache
def event_abis(contract: str) -> dict[bytes, dict[str, Any]]:
    """Each event of `contract` by its topic 0."""
    return {
        bytes(event_abi_to_log_topic(item)): item  # type: ignore[arg-type]
        for item in load_artifact(contract).abi
        if item["type"] == "event"
    }


@cache
def _topics_by_name(contract: str) -> dict[str, bytes]:
    return {abi["name"]: topic for topic, abi in event_abis(contract).items()}


def event_topic(contract: str, event: str) -> bytes:
    """Topic 0 of `contract`'s event `event` (raises KeyError for an unknown name)."""
    return _topics_by_name(contract)[event]


@cache
def _event_table() -> dict[bytes, dict[str, Any]]:
    return {topic: abi for name in CONTRACTS for topic, abi in event_abis(name).items()}


def decode_logs(logs: list[Any]) -> list[DecodedEvent]:
    """Decode the logs of our contracts (others are skipped), in log order."""
    from web3 import Web3
    from web3._utils.events import get_event_data

    codec = Web3().codec
    decoded = []
    for log in logs:
        if not log["topics"]:
            continue
        abi = _event_table().get(bytes(log["topics"][0]))
        if abi is None:
            continue
        data = get_event_data(codec, abi, log)
        decoded.append(
            DecodedEvent(
                name=data["event"],
                args=dict(data["args"]),
                address=str(log["address"]),
                log_index=int(log["logIndex"]),
                block_number=int(log["blockNumber"]),
                transaction_hash="0x" + bytes(log["transactionHash"]).hex(),
            )
        )
    return decoded
