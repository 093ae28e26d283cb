"""Consortium governance from Brownie: propose an action, approve a proposal, read a member.

    brownie run scripts/governance.py propose admit 0xADDR lender "Jinhe Microcredit" --network creditshare-besu
    brownie run scripts/governance.py propose set_threshold 3 --network creditshare-besu
    brownie run scripts/governance.py approve 7 --network creditshare-besu
    brownie run scripts/governance.py member 0xADDR --network creditshare-besu
    brownie run scripts/governance.py demo --network ganache-cli

Actions and their arguments: `creditshare.devtools.brownie_support.PROPOSAL_USAGE`. The signing governor is chosen with
CREDITSHARE_BROWNIE_ACCOUNT (default on a dev chain: dev account 0); the registry comes from the deployment file
(`brownie_support.deployment_path()`). The votes go through `creditshare.chain.governance`, as the demo's do.
"""

from __future__ import annotations

import sys

from eth_account.signers.local import LocalAccount

from creditshare.chain import governance
from creditshare.chain.governance import Member, MemberStatus, ProposalOutcome, Role
from creditshare.chain.transactor import Transactor
from creditshare.core.exceptions import ConfigError
from creditshare.devtools import brownie_support
from creditshare.devtools.demo import ensure_deployment


def main() -> None:
    usage = "; ".join(f"propose {a.name.lower()} {u}".strip() for a, u in brownie_support.PROPOSAL_USAGE.items())
    raise ConfigError(f"give a function after the script: {usage}; approve PROPOSAL_ID; member ADDRESS; demo")


def propose(action: str, *params: str, account: LocalAccount | None = None) -> ProposalOutcome:
    """Propose `action` (counts the proposer's approval; executes at once when the threshold is 1)."""
    request = brownie_support.proposal_from_args(action, *params)
    w3 = brownie_support.chain_web3()
    registry = brownie_support.deployed_registry(w3)
    governor = Transactor(w3, account or brownie_support.signer(w3))
    outcome = governance.propose_request(registry, governor, request)
    _print_outcome(f"{governor.address} proposed {action}", outcome)
    return outcome


def approve(proposal_id: str, *, account: LocalAccount | None = None) -> ProposalOutcome:
    """Approve proposal `proposal_id`; it executes when this approval meets the threshold."""
    if not proposal_id.isdigit():
        raise ConfigError(f"approve takes a proposal id, not {proposal_id!r}")
    w3 = brownie_support.chain_web3()
    registry = brownie_support.deployed_registry(w3)
    governor = Transactor(w3, account or brownie_support.signer(w3))
    outcome = governance.approve(registry, governor, int(proposal_id))
    _print_outcome(f"{governor.address} approved", outcome)
    return outcome


def member(address: str) -> Member:
    """Print one member of the registry."""
    w3 = brownie_support.chain_web3()
    found = governance.member(brownie_support.deployed_registry(w3), address)
    print(f"{found.address}  {found.role.name.lower()}  {found.status.name.lower()}  {found.name!r}")
    return found


def demo() -> None:
    """On a dev chain: deploy if needed, then admit a dev account as lender with `propose` (dev account 0) and
    `approve` (dev account 1); exits non-zero unless the proposal executed on the second vote only."""
    w3 = brownie_support.chain_web3()
    dev = brownie_support.dev_signers(w3, 10)
    ensure_deployment(w3, brownie_support.deployment_path())
    registry = brownie_support.deployed_registry(w3)
    # Accounts 0-2 govern and 3-5 are the demo lenders (creditshare.devtools.demo); take the first one without a role.
    newcomer = next((a for a in dev[6:] if governance.member(registry, a.address).status == MemberStatus.NONE), None)
    if newcomer is None:
        sys.exit("demo: dev accounts 6-9 are all members already; use a fresh chain")
    proposed = propose("admit", newcomer.address, "lender", "Demo Lender", account=dev[0])
    approved = approve(str(proposed.proposal_id), account=dev[1])
    admitted = member(newcomer.address)
    active_lender = (admitted.role, admitted.status) == (Role.LENDER, MemberStatus.ACTIVE)
    if proposed.executed or not approved.executed or not active_lender:
        sys.exit(f"demo: expected proposal {proposed.proposal_id} to admit {newcomer.address} on the second vote")


def _print_outcome(what: str, outcome: ProposalOutcome) -> None:
    state = "executed" if outcome.executed else "open"
    print(f"{what}: proposal {outcome.proposal_id}, {outcome.approvals} approval(s), {state} (tx {outcome.tx_hash})")
