"""The key-share directory from Python: publish a share set by governance, read the current one, anchor
evaluation-log heads (`KeyShareDirectory`, docs/contracts.md).

Gateways learn from `read_share_set` which threshold-OPRF key-share holders to trust and where to call them;
governors publish a set with `approve_share_set` / `publish_share_set`; each holder anchors the head of its
hash-chained evaluation log with `anchor`. Reverts surface as `ContractRevert` with the contract's error name
(`KeyShareInvalidVersion`, `KeyShareNotHolder`, …), as everywhere in `chain`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from creditshare.chain.artifacts import REGISTRY, decode_logs, load_artifact
from creditshare.chain.governance import GovernanceError
from creditshare.chain.rpc import contract_at, translate_errors
from creditshare.chain.transactor import Transactor

#: The ABI types of the share-set digest: keccak256(abi.encode(version, threshold, groupPublicKey, holders, epoch)).
_DIGEST_TYPES = ["uint64", "uint16", "bytes32", "(uint16,bytes32,address,string)[]", "uint64"]


@dataclass(frozen=True)
class ShareHolder:
    """One holder of an on-chain share set; unpacks as the tuple (index, public key, account, url)."""

    index: int
    public_key: bytes  # its share public key k_i·G, ristretto255, 32 bytes
    account: str  # the address that anchors its evaluation log
    url: str  # where gateways call it

    def __iter__(self) -> Iterator[Any]:
        return iter((self.index, self.public_key, self.account, self.url))


@dataclass(frozen=True)
class OnChainShareSet:
    """A share set as `KeyShareDirectory` stores it (holders by increasing index, accounts checksummed)."""

    version: int
    threshold: int
    group_public_key: bytes
    holders: tuple[ShareHolder, ...]

    def __post_init__(self) -> None:
        holders = tuple(
            ShareHolder(int(index), bytes(public_key), Web3.to_checksum_address(account), str(url))
            for index, public_key, account, url in self.holders
        )
        object.__setattr__(self, "holders", holders)
        object.__setattr__(self, "group_public_key", bytes(self.group_public_key))

    @classmethod
    def of(
        cls, version: int, threshold: int, group_public_key: bytes, holders: Iterable[tuple[int, bytes, str, str]]
    ) -> OnChainShareSet:
        """A share set from plain (index, public key, account, url) tuples."""
        return cls(version, threshold, group_public_key, tuple(ShareHolder(*h) for h in holders))


@dataclass(frozen=True)
class LogAnchor:
    """The last evaluation-log head anchored for one holder index."""

    index: int
    seq: int
    head: bytes
    at: int  # block timestamp of the anchor


def _bytes32(value: bytes, what: str) -> bytes:
    """`value` if it is exactly 32 bytes (the ABI would silently pad a shorter one)."""
    if len(value) != 32:
        raise ValueError(f"{what} must be 32 bytes, not {len(value)}")
    return bytes(value)


def _args(share_set: OnChainShareSet) -> tuple[int, int, bytes, list[tuple[int, bytes, str, str]]]:
    holders = [(h.index, _bytes32(h.public_key, "a share public key"), h.account, h.url) for h in share_set.holders]
    return share_set.version, share_set.threshold, _bytes32(share_set.group_public_key, "the group public key"), holders


def share_set_digest(share_set: OnChainShareSet, governance_epoch: int) -> bytes:
    """The digest governors approve: the contract's keccak256(abi.encode(version, threshold, groupPublicKey,
    holders, governanceEpoch)), bound to the registry's governance epoch."""
    version, threshold, group_key, holders = _args(share_set)
    return keccak(abi_encode(_DIGEST_TYPES, [version, threshold, group_key, holders, governance_epoch]))


def directory_registry(contract: Contract) -> Contract:
    """The ConsortiumRegistry the directory takes its governors, threshold and governance epoch from."""
    with translate_errors():
        address = contract.functions.registry().call()
    return contract_at(contract.w3, load_artifact(REGISTRY), address)


def read_share_set(contract: Contract) -> OnChainShareSet | None:
    """The current share set, or None before the first one is published (version 0)."""
    f = contract.functions
    with translate_errors():
        version = int(f.currentVersion().call())
        if version == 0:
            return None
        threshold = int(f.threshold().call())
        group_key = bytes(f.groupPublicKey().call())
        holders: list[Any] = f.holders().call()
    return OnChainShareSet(version, threshold, group_key, tuple(ShareHolder(*h) for h in holders))


def approve_share_set(contract: Contract, governor: Transactor, share_set: OnChainShareSet) -> TxReceipt:
    """Approve `share_set` as `governor`; it becomes current in the approval that reaches the registry's threshold
    (`share_set_activated` tells from the receipt)."""
    return governor.transact(contract.functions.approveShareSet(*_args(share_set)))


def share_set_activated(receipt: TxReceipt) -> bool:
    """Whether the transaction of `receipt` made a share set current."""
    return any(event.name == "ShareSetActivated" for event in decode_logs(receipt["logs"]))


def publish_share_set(contract: Contract, governors: list[Transactor], share_set: OnChainShareSet) -> TxReceipt:
    """Approve `share_set` with `governors` in order, skipping those that already approved it in this governance
    epoch, until it becomes current; returns the receipt of the approval that activated it. Raises
    `GovernanceError`, after casting every approval it could, when `governors` are too few."""
    with translate_errors():
        epoch = int(directory_registry(contract).functions.governanceEpoch().call())
    digest = share_set_digest(share_set, epoch)
    for governor in governors:
        with translate_errors():
            if contract.functions.hasApproved(digest, governor.address).call():
                continue
        receipt = approve_share_set(contract, governor, share_set)
        if share_set_activated(receipt):
            return receipt
    with translate_errors():
        approvals = int(contract.functions.approvals(digest).call())
    raise GovernanceError(
        f"share set version {share_set.version} has {approvals} approval(s) and is not current yet; "
        "more governors must approve it"
    )


def anchor(contract: Contract, holder: Transactor, seq: int, head: bytes) -> TxReceipt:
    """Anchor the head (`seq`, `head`) of `holder`'s evaluation log; `seq` must exceed the last one anchored."""
    return holder.transact(contract.functions.anchor(seq, _bytes32(head, "the log head")))


def last_anchor(contract: Contract, index: int) -> LogAnchor | None:
    """The last head anchored for holder index `index`, or None if it never anchored."""
    with translate_errors():
        seq, head, at = contract.functions.lastAnchor(index).call()
    return None if seq == 0 else LogAnchor(index, int(seq), bytes(head), int(at))


def holder_index(contract: Contract, account: str) -> int:
    """The index of `account` in the current share set (0 if it holds no share of it)."""
    with translate_errors():
        return int(contract.functions.holderIndexOf(Web3.to_checksum_address(account)).call())
