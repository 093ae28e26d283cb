"""ConsortiumRegistry: approvals are bound to the state they were given in, so old votes cannot be replayed.

Before issue 11 a proposal was bound only to the governance epoch (governor set and threshold). Approvals below the
threshold survived pauses, unpauses and member changes, so with 3-of-5 an old Unpause proposal holding two approvals
lifted a later emergency pause with ONE fresh approval, and an old Reinstate undid a later suspension the same way.
Now a Pause/Unpause proposal is also bound to the pause epoch and a member action to its target's version.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from creditshare.chain import governance
from creditshare.chain.governance import Action, MemberStatus, ProposalState, Role, member
from tests.support import Consortium, events, expect_revert

THRESHOLD = 3
GOVERNORS = 5


@pytest.fixture
def five(w3: Web3, accounts: list[LocalAccount]) -> Consortium:
    """Governors accounts[5..9] with threshold 3 (3-of-5); accounts[10] admitted as a lender."""
    c = Consortium.deploy(w3, accounts, governors=accounts[5 : 5 + GOVERNORS], threshold=THRESHOLD)
    c.admit_lender(accounts[10], "Lender L")
    return c


def propose(
    c: Consortium, by: int, action: Action, target: str = governance.ZERO_ADDRESS, role: Role = Role.NONE
) -> int:
    """Governor `by` proposes (its approval counts); returns the proposal id."""
    return governance.propose(c.registry, c.tx(c.governors[by]), action, target, role).proposal_id


def approve(c: Consortium, by: int, proposal_id: int) -> governance.ProposalOutcome:
    return governance.approve(c.registry, c.tx(c.governors[by]), proposal_id)


def approve_fn(c: Consortium, by: int, proposal_id: int) -> Callable[[], governance.ProposalOutcome]:
    return lambda: approve(c, by, proposal_id)


def pause_epoch(c: Consortium) -> int:
    return int(c.registry.functions.pauseEpoch().call())


def version(c: Consortium, account: str) -> int:
    return int(c.registry.functions.memberVersion(account).call())


def paused(c: Consortium) -> bool:
    return bool(c.registry.functions.paused().call())


# ---------------------------------------------------------------------------------------------------- pause


def test_unpause_replay_after_emergency_pause_reverts_stale_pause(five: Consortium) -> None:
    """The scenario of issue 11: 3-of-5, an Unpause proposal holding two approvals, an emergency pause executed
    later; one fresh approval on the old Unpause must not lift the new pause."""
    c = five
    c.enact(Action.PAUSE)
    old_unpause = propose(c, 0, Action.UNPAUSE)
    assert (approve(c, 1, old_unpause).approvals, paused(c)) == (2, True)  # two approvals, one short
    c.enact(Action.UNPAUSE)  # the consortium resumes through another proposal
    c.enact(Action.PAUSE)  # emergency pause
    assert paused(c)

    expect_revert(approve_fn(c, 2, old_unpause), "RegistryProposalStalePause", old_unpause, 1, 3)
    assert (paused(c), pause_epoch(c)) == (True, 3)
    p = c.registry.functions.proposal(old_unpause).call()
    assert (p[2], p[3], p[6]) == (False, 2, 1)  # not executed, still two approvals, created in pause epoch 1
    assert not c.registry.functions.hasApproved(old_unpause, c.governors[2].address).call()
    assert governance.proposal(c.registry, old_unpause).state == ProposalState.STALE

    # Lifting the emergency pause takes threshold fresh approvals.
    fresh = propose(c, 2, Action.UNPAUSE)
    assert not approve(c, 3, fresh).executed
    assert approve(c, 4, fresh).executed
    assert (paused(c), pause_epoch(c)) == (False, 4)


def test_pause_replay_after_unpause_reverts_stale_pause(five: Consortium) -> None:
    """The mirror case: two old votes to pause cannot re-pause, with one fresh vote, a consortium that governance
    paused and resumed since."""
    c = five
    old_pause = propose(c, 0, Action.PAUSE)
    approve(c, 1, old_pause)
    c.enact(Action.PAUSE)
    c.enact(Action.UNPAUSE)
    expect_revert(approve_fn(c, 4, old_pause), "RegistryProposalStalePause", old_pause, 0, 2)
    assert not paused(c)


def test_pause_epoch_advances_with_each_paused_and_unpaused_event(five: Consortium) -> None:
    c = five
    assert pause_epoch(c) == 0
    for expected, action, event in ((1, Action.PAUSE, "Paused"), (2, Action.UNPAUSE, "Unpaused")):
        outcome = c.enact(action)
        receipt = c.w3.eth.get_transaction_receipt(outcome.tx_hash)  # type: ignore[arg-type]
        assert [e.name for e in events(receipt)][-1] == event
        assert pause_epoch(c) == expected


def test_member_proposal_survives_pause_and_unpause(five: Consortium, accounts: list[LocalAccount]) -> None:
    """Only Pause and Unpause proposals are bound to the pause state: a pause does not touch a member."""
    c = five
    pid = governance.propose(
        c.registry, c.tx(c.governors[0]), Action.ADMIT, accounts[11].address, Role.AUDITOR, name="Auditor"
    ).proposal_id
    approve(c, 1, pid)
    c.enact(Action.PAUSE)
    c.enact(Action.UNPAUSE)
    assert approve(c, 2, pid).executed
    assert member(c.registry, accounts[11].address).status == MemberStatus.ACTIVE


def test_pause_proposal_survives_member_changes(five: Consortium, accounts: list[LocalAccount]) -> None:
    c = five
    pid = propose(c, 0, Action.PAUSE)
    approve(c, 1, pid)
    c.enact(Action.SUSPEND, accounts[10].address)
    c.enact(Action.ADMIT, accounts[11].address, Role.LENDER, name="Lender M")
    assert approve(c, 2, pid).executed
    assert paused(c)


# ---------------------------------------------------------------------------------------------------- members


def test_reinstate_replay_after_second_suspension_reverts_stale_target(five: Consortium) -> None:
    """The member-status variant: a Reinstate holding two approvals cannot undo, with one fresh approval, a
    suspension made after the member was reinstated by another proposal."""
    c = five
    lender = c.accounts[10].address
    c.enact(Action.SUSPEND, lender)
    old_reinstate = propose(c, 0, Action.REINSTATE, lender)
    approve(c, 1, old_reinstate)
    c.enact(Action.REINSTATE, lender)
    c.enact(Action.SUSPEND, lender)  # suspended again, e.g. it misbehaved

    # Versions: 1 admitted, 2 suspended (the old proposal's), 3 reinstated, 4 suspended again.
    expect_revert(approve_fn(c, 2, old_reinstate), "RegistryProposalStaleTarget", old_reinstate, lender, 2, 4)
    assert version(c, lender) == 4
    assert member(c.registry, lender).status == MemberStatus.SUSPENDED
    assert not c.registry.functions.isActive(lender, Role.LENDER).call()
    p = c.registry.functions.proposal(old_reinstate).call()
    assert (p[2], p[3], p[7], p[8]) == (False, 2, lender, 2)
    assert governance.proposal(c.registry, old_reinstate).state == ProposalState.STALE


def test_change_role_replay_after_role_restored_reverts_stale_target(five: Consortium) -> None:
    """A demotion holding two approvals cannot be replayed after the member was demoted and restored."""
    c = five
    lender = c.accounts[10].address
    old_demotion = propose(c, 0, Action.CHANGE_ROLE, lender, Role.AUDITOR)
    approve(c, 1, old_demotion)
    c.enact(Action.CHANGE_ROLE, lender, Role.AUDITOR)
    c.enact(Action.CHANGE_ROLE, lender, Role.LENDER)
    expect_revert(approve_fn(c, 2, old_demotion), "RegistryProposalStaleTarget", old_demotion, lender, 1, 3)
    assert c.registry.functions.isActive(lender, Role.LENDER).call()


def test_member_proposal_survives_changes_to_other_members(five: Consortium, accounts: list[LocalAccount]) -> None:
    c = five
    lender = accounts[10].address
    pid = propose(c, 0, Action.SUSPEND, lender)
    approve(c, 1, pid)
    c.enact(Action.ADMIT, accounts[11].address, Role.LENDER, name="Lender M")
    c.enact(Action.SUSPEND, accounts[11].address)
    assert version(c, lender) == 1
    assert approve(c, 2, pid).executed
    assert member(c.registry, lender).status == MemberStatus.SUSPENDED


def test_member_version_advances_with_each_member_event(five: Consortium, accounts: list[LocalAccount]) -> None:
    """One version per MemberAdmitted, MemberRoleChanged and MemberStatusChanged of that account; zero before."""
    c = five
    newcomer = accounts[11].address
    assert version(c, newcomer) == 0
    assert version(c, governance.ZERO_ADDRESS) == 0
    assert [version(c, g.address) for g in c.governors] == [1] * GOVERNORS  # admitted at deployment
    steps = [
        (Action.ADMIT, Role.LENDER, "Lender M"),
        (Action.CHANGE_ROLE, Role.AUDITOR, ""),
        (Action.SUSPEND, Role.NONE, ""),
        (Action.REINSTATE, Role.NONE, ""),
        (Action.REMOVE, Role.NONE, ""),
    ]
    for expected, (action, role, name) in enumerate(steps, start=1):
        c.enact(action, newcomer, role, name=name)
        assert version(c, newcomer) == expected
    assert version(c, accounts[10].address) == 1  # untouched


def test_recent_proposals_show_replayable_ones_as_stale(five: Consortium) -> None:
    """What `creditshare members list` shows: the old Unpause and the old Reinstate are stale, a fresh one open."""
    c = five
    lender = c.accounts[10].address
    c.enact(Action.SUSPEND, lender)
    c.enact(Action.PAUSE)
    old_unpause = propose(c, 0, Action.UNPAUSE)
    old_reinstate = propose(c, 0, Action.REINSTATE, lender)
    c.enact(Action.UNPAUSE)
    c.enact(Action.REINSTATE, lender)
    c.enact(Action.PAUSE)
    c.enact(Action.SUSPEND, lender)
    fresh = propose(c, 1, Action.UNPAUSE)

    states = {p.proposal_id: p.state for p in governance.recent_proposals(c.registry, limit=20)}
    assert states[old_unpause] == ProposalState.STALE
    assert states[old_reinstate] == ProposalState.STALE
    assert states[fresh] == ProposalState.OPEN
    with pytest.raises(governance.GovernanceError, match="stale"):
        governance.execute(c.registry, c.tx(c.governors[2]), old_unpause)
