"""Consortium governance from Python: propose, approve and read proposals.

The CLI, the Brownie scripts and the demo bootstrap all use these functions, so governance logic lives once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum, StrEnum

from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from creditshare.chain.artifacts import REGISTRY, decode_logs, event_topic
from creditshare.chain.logs import LogWindow, head_block
from creditshare.chain.rpc import translate_errors
from creditshare.chain.transactor import Transactor
from creditshare.core.exceptions import ContractRevert, CreditShareError


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


class GovernanceError(CreditShareError):
    """Raised when a governance request cannot be carried out as asked (e.g. nothing to execute yet)."""


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


#: The arguments each action takes, in this order (`address`: the member the action applies to).
ACTION_ARGS: dict[Action, tuple[str, ...]] = {
    Action.ADMIT: ("address", "role", "name"),
    Action.CHANGE_ROLE: ("address", "role"),
    Action.SUSPEND: ("address",),
    Action.REINSTATE: ("address",),
    Action.REMOVE: ("address",),
    Action.SET_THRESHOLD: ("threshold",),
    Action.PAUSE: (),
    Action.UNPAUSE: (),
}


@dataclass(frozen=True)
class ProposalRequest:
    """A validated proposal: the arguments of `propose` for one action."""

    action: Action
    target: str = ZERO_ADDRESS
    role: Role = Role.NONE
    value: int = 0
    name: str = ""


def action_named(name: str) -> Action:
    """`admit`, `change-role`, `SET_THRESHOLD`… → the action; raises `GovernanceError` naming the choices."""
    try:
        action = Action[name.strip().upper().replace("-", "_")]
    except KeyError:
        action = Action.NONE
    if action not in ACTION_ARGS:
        choices = ", ".join(a.name.lower().replace("_", "-") for a in ACTION_ARGS)
        raise GovernanceError(f"unknown action {name!r}; one of {choices}")
    return action


def proposal_request(action_name: str, **given: str | int | None) -> ProposalRequest:
    """Check that exactly the arguments `action_name` takes are given (`ACTION_ARGS`) and parse them."""
    action = action_named(action_name)
    label = action.name.lower().replace("_", "-")
    needs = ACTION_ARGS[action]
    for arg, value in given.items():
        if arg in needs and value is None:
            raise GovernanceError(f"{label} needs {arg} ({label} takes {', '.join(needs)})")
        if arg not in needs and value is not None:
            raise GovernanceError(f"{label} takes no {arg} ({label} takes {', '.join(needs) or 'no arguments'})")
    missing = [arg for arg in needs if arg not in given]
    if missing:
        raise GovernanceError(f"{label} needs {missing[0]} ({label} takes {', '.join(needs)})")
    request = ProposalRequest(action)
    address, role, name, threshold = (given.get(k) for k in ("address", "role", "name", "threshold"))
    if address is not None:
        if not Web3.is_address(str(address)):
            raise GovernanceError(f"{address!r} is not an address (0x and 40 hex digits)")
        request = replace(request, target=Web3.to_checksum_address(str(address)))
    if role is not None:
        parsed = Role.__members__.get(str(role).upper(), Role.NONE)
        if parsed == Role.NONE:
            raise GovernanceError(f"unknown role {role!r}; one of lender, auditor, governor")
        request = replace(request, role=parsed)
    if name is not None:
        if not str(name).strip():
            raise GovernanceError("the member's display name must not be empty")
        request = replace(request, name=str(name).strip())
    if threshold is not None:
        if not str(threshold).isdigit() or int(threshold) < 1:
            raise GovernanceError(f"the threshold is a number of approvals (1 or more), not {threshold!r}")
        request = replace(request, value=int(threshold))
    return request


def propose_request(registry: Contract, governor: Transactor, request: ProposalRequest) -> ProposalOutcome:
    """Create a proposal (counting the proposer's approval); it executes at once when the threshold is 1."""
    fn = registry.functions.propose(
        int(request.action), Web3.to_checksum_address(request.target), int(request.role), request.value, request.name
    )
    return _outcome(governor.transact(fn))


def propose(
    registry: Contract,
    governor: Transactor,
    action: Action,
    target: str = ZERO_ADDRESS,
    role: Role = Role.NONE,
    value: int = 0,
    name: str = "",
) -> ProposalOutcome:
    """`propose_request` with the request's fields as arguments."""
    return propose_request(registry, governor, ProposalRequest(action, target, role, value, name))


def approve(registry: Contract, governor: Transactor, proposal_id: int) -> ProposalOutcome:
    """Approve a proposal; it executes when this approval meets the threshold."""
    return _outcome(governor.transact(registry.functions.approve(proposal_id)), proposal_id)


def enact(registry: Contract, governors: list[Transactor], request: ProposalRequest) -> ProposalOutcome:
    """Propose with the first governor and approve with the next ones until the proposal executes."""
    outcome = propose_request(registry, governors[0], request)
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


class ProposalState(StrEnum):
    """Where a proposal stands. The registry executes a proposal in the approval that reaches the threshold."""

    OPEN = "open"
    EXECUTED = "executed"
    EXPIRED = "expired"
    STALE = "stale"  # the state it depends on changed since it was created (see `proposal`)


@dataclass(frozen=True)
class Proposal:
    """A proposal as the registry stores it, with its state as of the latest block."""

    proposal_id: int
    action: Action
    target: str
    role: Role
    value: int
    name: str
    proposer: str
    approvals: int
    threshold: int
    expires_at: int
    state: ProposalState

    @property
    def missing(self) -> int:
        """Approvals still needed to execute (0 once executed)."""
        return 0 if self.state == ProposalState.EXECUTED else max(0, self.threshold - self.approvals)


#: Actions whose proposals are bound to the pause epoch (stale after any pause or unpause).
PAUSE_ACTIONS = frozenset({Action.PAUSE, Action.UNPAUSE})


def proposal(registry: Contract, proposal_id: int) -> Proposal:
    """Read one proposal and work out its state; raises `ContractRevert` (RegistryUnknownProposal) if absent.

    A proposal is stale, as the registry's `approve` decides, once the governance epoch has moved on, or for Pause
    and Unpause the pause epoch, or the version of the member it targets."""
    w3 = registry.w3
    f = registry.functions
    with translate_errors():
        p = f.proposal(proposal_id).call()
        action, role, executed, approvals, expires_at, epoch, pause_epoch = p[:7]
        target, target_version, proposer, value, name = p[7:]
        if action == Action.NONE:
            raise ContractRevert("RegistryUnknownProposal", (proposal_id,), "")
        threshold = int(f.threshold().call())
        current_epoch = int(f.governanceEpoch().call())
        current_pause_epoch = int(f.pauseEpoch().call())
        current_version = int(f.memberVersion(target).call())
        now = int(w3.eth.get_block("latest")["timestamp"])
    stale = (
        epoch != current_epoch
        or (action in PAUSE_ACTIONS and pause_epoch != current_pause_epoch)
        or target_version != current_version
    )
    if executed:
        state = ProposalState.EXECUTED
    elif stale:
        state = ProposalState.STALE
    elif now > expires_at:
        state = ProposalState.EXPIRED
    else:
        state = ProposalState.OPEN
    return Proposal(
        proposal_id,
        Action(action),
        Web3.to_checksum_address(target),
        Role(role),
        int(value),
        name,
        Web3.to_checksum_address(proposer),
        int(approvals),
        threshold,
        int(expires_at),
        state,
    )


def recent_proposals(registry: Contract, limit: int = 10) -> list[Proposal]:
    """The latest `limit` proposals, newest first."""
    with translate_errors():
        count = int(registry.functions.proposalCount().call())
    return [proposal(registry, i) for i in range(count, max(0, count - limit), -1)]


def execute(registry: Contract, governor: Transactor, proposal_id: int) -> ProposalOutcome:
    """Execute a proposal now. The registry executes in the approval that reaches the threshold, so this casts
    `governor`'s approval only when it is the last one missing; otherwise it raises `GovernanceError` saying
    what is missing, without sending anything."""
    p = proposal(registry, proposal_id)
    if p.state != ProposalState.OPEN:
        raise GovernanceError(f"proposal {proposal_id} is {p.state.value}; nothing to execute")
    with translate_errors():
        approved = bool(registry.functions.hasApproved(proposal_id, governor.address).call())
    if approved or p.missing != 1:
        raise GovernanceError(
            f"proposal {proposal_id} needs {p.missing} more approval(s) and {governor.address} "
            f"{'already approved' if approved else 'can give only one'}; other governors must approve first"
        )
    return approve(registry, governor, proposal_id)


def member_addresses(w3: Web3, registry: Contract, from_block: int, max_range: int = 1000) -> list[str]:
    """Every address ever admitted, in admission order, from the registry's `MemberAdmitted` logs (read in
    windows of at most `max_range` blocks, as Besu caps `eth_getLogs`)."""
    query = {"address": registry.address, "topics": ["0x" + event_topic(REGISTRY, "MemberAdmitted").hex()]}
    seen: dict[str, None] = {}
    for page in LogWindow(w3, max_range).scan(query, from_block, head_block(w3)):
        for entry in page.logs:
            seen.setdefault(Web3.to_checksum_address("0x" + entry["topics"][1][-40:]), None)
    return list(seen)
