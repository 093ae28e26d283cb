"""Delegate signers: extra keys a lender enlists in the registry so its batches travel in several lanes.

A lender's own key records in lane 0; each delegate signer records for it in its own lane (1-16), with its own
nonces and its own ledger sequence numbers (`lane << 56 | n`). A signer consents to serve one lender's lane by
signing the registry's consent digest, so no one can enlist a key it does not hold or take one another lender is
enlisting.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from creditshare.chain.rpc import translate_errors
from creditshare.chain.transactor import Transactor
from creditshare.core.exceptions import ConfigError

log = logging.getLogger(__name__)

#: Bits below a lane's number in a ledger sequence number (CreditLedger._LANE_SHIFT).
LANE_SHIFT = 56
#: Most delegate-signer lanes per lender (ConsortiumRegistry.MAX_LANES).
MAX_LANES = 16
_ZERO = "0x" + "00" * 20


def lane_of(seq: int) -> int:
    """The lane a ledger sequence number belongs to."""
    return seq >> LANE_SHIFT


def lane_start(lane: int) -> int:
    """The first sequence number of `lane`."""
    return lane << LANE_SHIFT


@dataclass(frozen=True)
class SignerRecord:
    """What the registry holds about a would-be delegate signer."""

    address: str
    lender: str | None  # None: never enlisted
    lane: int
    active: bool


def consent(registry: Contract, lender: str, signer: LocalAccount, lane: int) -> bytes:
    """The signer's 65-byte consent to record for `lender` in `lane` (EIP-191 over the registry's digest)."""
    with translate_errors():
        digest = registry.functions.signerConsentDigest(Web3.to_checksum_address(lender), signer.address, lane).call()
    signed = signer.sign_message(encode_defunct(primitive=bytes(digest)))
    return bytes(signed.signature)


def add_signer(registry: Contract, lender: Transactor, signer: LocalAccount, lane: int) -> TxReceipt:
    """Enlist `signer` in the lender's `lane` (the lender sends; the signer's consent travels with it)."""
    proof = consent(registry, lender.address, signer, lane)
    return lender.transact(registry.functions.addSigner(signer.address, lane, proof))


def remove_signer(registry: Contract, sender: Transactor, signer: str) -> TxReceipt:
    """Remove a delegate signer (sent by its lender or a governor)."""
    return sender.transact(registry.functions.removeSigner(Web3.to_checksum_address(signer)))


def signer_record(registry: Contract, address: str) -> SignerRecord:
    """The registry's record of `address` as a delegate signer."""
    with translate_errors():
        lender, lane, active = registry.functions.signerOf(Web3.to_checksum_address(address)).call()
    return SignerRecord(
        Web3.to_checksum_address(address),
        None if str(lender).lower() == _ZERO else Web3.to_checksum_address(lender),
        int(lane),
        bool(active),
    )


def lane_signers(registry: Contract, lender: str) -> list[tuple[int, str]]:
    """`lender`'s lanes that have an active delegate signer, with the signer (MAX_LANES calls: bounded)."""
    found: list[tuple[int, str]] = []
    with translate_errors():
        for lane in range(1, MAX_LANES + 1):
            signer = str(registry.functions.laneSigner(Web3.to_checksum_address(lender), lane).call())
            if signer.lower() != _ZERO:
                found.append((lane, Web3.to_checksum_address(signer)))
    return found


def free_lane(registry: Contract, lender: str) -> int:
    """The lowest lane of `lender` without an active signer; raises `ConfigError` when all are taken."""
    taken = {lane for lane, _ in lane_signers(registry, lender)}
    for lane in range(1, MAX_LANES + 1):
        if lane not in taken:
            return lane
    raise ConfigError(f"all {MAX_LANES} lanes of {lender} have a signer; remove one first")


def delegate_lanes(registry: Contract, lender: str, accounts: list[LocalAccount]) -> list[tuple[int, LocalAccount]]:
    """Each delegate signer of `accounts` with its lane, as the registry has it. A key enlisted for another lender,
    or never enlisted, is a configuration error; one since removed is left out (it could only fail)."""
    lanes: list[tuple[int, LocalAccount]] = []
    for account in accounts:
        record = signer_record(registry, account.address)
        if record.lender is None or record.lender != Web3.to_checksum_address(lender):
            whose = "not enlisted" if record.lender is None else f"enlisted for {record.lender}"
            raise ConfigError(
                f"delegate signer {account.address} is {whose}, not for {lender}: "
                "run `creditshare signers add` or fix CREDITSHARE_SIGNER_KEYSTORES"
            )
        if not record.active:
            log.warning("delegate signer %s (lane %s) was removed; not used", account.address, record.lane)
            continue
        lanes.append((record.lane, account))
    return lanes
