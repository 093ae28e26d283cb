"""Consortium governance from Python: propose, approve and read proposals.

The CLI, the Brownie scripts and the demo bootstrap all use these functions, so governance logic lives once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from creditshare.chain import Transactor, translate_errors
from creditshare.contracts import decode_logs


class Role(IntEnum):
    """Member roles (mirrors `IConsortiumRegistry.Role`)."""

    NONE = 0
    LENDER = 1
    AUDITOR = 2
    GOVERNOR = 3


class MemberStatus(IntEnum):
    """Member statuses (mirrors `IConsortiumRegistry.MemberStatus`)."""

    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2
    REMOVED = 3


class Action(IntEnum):
    """Governance actions (mirrors `IConsortiumRegistry.Action`)."""

    NONE = 0
    ADMIT = 1
    CHANGE_ROLE = 2
    SUSPEND = 3
    REINSTATE = 4
    REMOVE = 5
    SET_THRESHOLD = 6
    PAUSE = 7
    UNPAUSE = 8


ZERO_ADDRESS = "0x" + "00" * 20


@dataclass(frozen=True)
class Member:
    """A member as the registry stores it."""

    address: str
    role: Role
    status: MemberStatus
    since: int
    name: str


@dataclass(frozen=True)
class ProposalOutcome:
    """What a propose/approve transaction did."""

    proposal_id: int
    approvals: int
    executed: bool
    tx_hash: str


def _outcome(receipt: TxReceipt, proposal_id: int | None = None) -> ProposalOutcome:
    events = decode_logs(receipt["logs"])
    approvals = 0
    executed = False
    for event in events:
        if event.name == "ProposalCreated":
            proposal_id = int(event.args["proposalId"])
        elif event.name == "ProposalApproved":
            approvals = int(event.args["approvals"])
        elif event.name == "ProposalExecuted":
            executed = True
    assert proposal_id is not None
    return ProposalOutcome(proposal_id, approvals, executed, "0x" + bytes(receipt["transactionHash"]).hex())


def propose(
    registry: Contract,
    governor: Transactor,
    action: Action,
    target: str = ZERO_ADDRESS,
    role: Role = Role.NONE,
    value: int = 0,
    name: str = "",
) -> ProposalOutcome:
    """Create a proposal (counting the proposer's approval); it executes at once when the threshold is 1."""
    fn = registry.functions.propose(int(action), Web3.to_checksum_address(target), int(role), value, name)
    return _outcome(governor.transact(fn))


def approve(registry: Contract, governor: Transactor, proposal_id: int) -> ProposalOutcome:
    """Approve a proposal; it executes when this approval meets the threshold."""
    return _outcome(governor.transact(registry.functions.approve(proposal_id)), proposal_id)


def enact(
    registry: Contract,
    governors: list[Transactor],
    action: Action,
    target: str = ZERO_ADDRESS,
    role: Role = Role.NONE,
    value: int = 0,
    name: str = "",
) -> ProposalOutcome:
    """Propose with the first governor and approve with the next ones until the proposal executes."""
    outcome = propose(registry, governors[0], action, target, role, value, name)
    for governor in governors[1:]:
        if outcome.executed:
            break
        outcome = approve(registry, governor, outcome.proposal_id)
    return outcome


def member(registry: Contract, address: str) -> Member:
    """Read one member."""
    with translate_errors():
        role, status, since, name = registry.functions.member(Web3.to_checksum_address(address)).call()
    return Member(Web3.to_checksum_address(address), Role(role), MemberStatus(status), since, name)
