"""ConsortiumRegistry: every permission path, every governance action, constructor validation, events and views.

The `consortium` fixture has governors accounts[0..2] (threshold 2, lifetime 3600) and lenders accounts[3]
("Lender A") and accounts[4] ("Lender B") admitted by proposals 1 and 2; its governance epoch is 4 (one advance
per bootstrap governor plus one for the initial threshold).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from creditshare.chain import governance
from creditshare.chain.artifacts import REGISTRY, DecodedEvent, load_artifact
from creditshare.chain.governance import ZERO_ADDRESS, Action, MemberStatus, Role, member
from creditshare.chain.rpc import contract_at
from creditshare.chain.transactor import Transactor
from tests.support import Consortium, events, expect_revert

LIFETIME = 3600  # Consortium.deploy's default proposal lifetime
FIXTURE_EPOCH = 4
EMPTY_MEMBER = (Role.NONE, MemberStatus.NONE, 0, "")
EMPTY_PROPOSAL = (Action.NONE, Role.NONE, False, 0, 0, 0, 0, ZERO_ADDRESS, 0, ZERO_ADDRESS, 0, "")


# ---------------------------------------------------------------------------------------------------- helpers


def propose_tx(
    c: Consortium,
    who: LocalAccount,
    action: Action,
    target: str = ZERO_ADDRESS,
    role: Role = Role.NONE,
    value: int = 0,
    name: str = "",
) -> TxReceipt:
    fn = c.registry.functions.propose(int(action), Web3.to_checksum_address(target), int(role), value, name)
    return c.tx(who).transact(fn)


def approve_tx(c: Consortium, who: LocalAccount, proposal_id: int) -> TxReceipt:
    return c.tx(who).transact(c.registry.functions.approve(proposal_id))


def proposal_id_of(receipt: TxReceipt) -> int:
    (created,) = events(receipt, "ProposalCreated")
    return int(created.args["proposalId"])


def block_time(w3: Web3, receipt: TxReceipt) -> int:
    return int(w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def names_of(receipt: TxReceipt) -> list[str]:
    return [e.name for e in events(receipt)]


def only(receipt: TxReceipt, name: str, registry: Contract) -> dict[str, Any]:
    """The args of the single `name` event in `receipt`, checking it was emitted by `registry`."""
    found: list[DecodedEvent] = events(receipt, name)
    assert len(found) == 1, f"expected one {name}, got {names_of(receipt)}"
    assert found[0].address == registry.address
    return found[0].args


def raw_member(registry: Contract, account: str) -> tuple[Any, ...]:
    return tuple(registry.functions.member(account).call())


GLOBAL_VIEWS = ("threshold", "activeGovernors", "governanceEpoch", "paused", "proposalCount", "proposalLifetime")


def globals_of(registry: Contract) -> dict[str, Any]:
    with registry.w3.batch_requests() as batch:
        for view in GLOBAL_VIEWS:
            batch.add(registry.functions[view]())
        return dict(zip(GLOBAL_VIEWS, batch.execute(), strict=True))


def snapshot_state(c: Consortium) -> dict[str, Any]:
    """Every view of the registry for the first 12 accounts and every proposal, to prove a revert changed nothing."""
    r, people = c.registry, [a.address for a in c.accounts[:12]]
    state = globals_of(r)
    ids = range(1, state["proposalCount"] + 1)
    with c.w3.batch_requests() as batch:
        for a in people:
            batch.add(r.functions.member(a))
        for i in ids:
            batch.add(r.functions.proposal(i))
            for a in people:
                batch.add(r.functions.hasApproved(i, a))
        results = list(batch.execute())
    state["members"] = [tuple(m) for m in results[: len(people)]]
    state["proposals"] = [tuple(p) for p in results[len(people) :: len(people) + 1]]
    state["approved"] = [results[len(people) + 1 + k * (len(people) + 1) :][: len(people)] for k in range(len(ids))]
    return state


def deploy_registry(
    w3: Web3,
    deployer: LocalAccount,
    governors: list[str],
    names: list[str],
    threshold: int,
    lifetime: int = LIFETIME,
) -> tuple[Contract, TxReceipt]:
    address, receipt = Transactor(w3, deployer).deploy(load_artifact(REGISTRY), governors, names, threshold, lifetime)
    return contract_at(w3, load_artifact(REGISTRY), address), receipt


@pytest.fixture
def time_travel(w3: Web3) -> Iterator[Callable[[int], None]]:
    """Move the chain clock forward; the whole chain (clock included) is reverted after the test."""
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]

    def advance(seconds: int) -> None:
        w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    yield advance
    assert w3.provider.make_request("evm_revert", [snapshot])["result"] is True  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------- constructor


def test_constructor_bootstraps_governors_threshold_and_epoch(w3: Web3, accounts: list[LocalAccount]) -> None:
    governors = [a.address for a in accounts[5:8]]
    names = ["Gov Alpha", "Gov Beta", "信用社"]
    registry, receipt = deploy_registry(w3, accounts[19], governors, names, threshold=2, lifetime=600)
    ts = block_time(w3, receipt)

    assert names_of(receipt) == ["MemberAdmitted", "GovernanceEpochAdvanced"] * 3 + [
        "ThresholdChanged",
        "GovernanceEpochAdvanced",
    ]
    assert all(e.address == registry.address for e in events(receipt))
    admitted = [e.args for e in events(receipt, "MemberAdmitted")]
    assert admitted == [{"account": g, "role": Role.GOVERNOR, "name": n} for g, n in zip(governors, names, strict=True)]
    assert [e.args["epoch"] for e in events(receipt, "GovernanceEpochAdvanced")] == [1, 2, 3, 4]
    assert only(receipt, "ThresholdChanged", registry) == {"previousThreshold": 0, "newThreshold": 2}

    assert globals_of(registry) == {
        "threshold": 2,
        "activeGovernors": 3,
        "governanceEpoch": 4,
        "paused": False,
        "proposalCount": 0,
        "proposalLifetime": 600,
    }
    for governor, name in zip(governors, names, strict=True):
        assert raw_member(registry, governor) == (Role.GOVERNOR, MemberStatus.ACTIVE, ts, name)
        assert registry.functions.isActive(governor, Role.GOVERNOR).call()
        assert not registry.functions.isActive(governor, Role.LENDER).call()


def test_constructor_single_governor_threshold_one_is_valid(w3: Web3, accounts: list[LocalAccount]) -> None:
    registry, receipt = deploy_registry(w3, accounts[19], [accounts[5].address], ["Solo"], threshold=1)
    assert only(receipt, "ThresholdChanged", registry) == {"previousThreshold": 0, "newThreshold": 1}
    assert (registry.functions.threshold().call(), registry.functions.activeGovernors().call()) == (1, 1)
    assert registry.functions.governanceEpoch().call() == 2


@dataclass(frozen=True)
class BadBootstrap:
    governors: list[int | None]  # account indexes; None is the zero address
    names: list[str]
    threshold: int
    lifetime: int
    error: str
    args: tuple[Any, ...] = ()


BAD_BOOTSTRAPS = {
    "empty_governors": BadBootstrap([], [], 1, LIFETIME, "RegistryInvalidBootstrap", (0, 0)),
    "fewer_names": BadBootstrap([5, 6], ["A"], 1, LIFETIME, "RegistryInvalidBootstrap", (2, 1)),
    "more_names": BadBootstrap([5], ["A", "B"], 1, LIFETIME, "RegistryInvalidBootstrap", (1, 2)),
    "threshold_zero": BadBootstrap([5, 6], ["A", "B"], 0, LIFETIME, "RegistryInvalidThreshold", (0, 2)),
    "threshold_above_n": BadBootstrap([5, 6], ["A", "B"], 3, LIFETIME, "RegistryInvalidThreshold", (3, 2)),
    "lifetime_zero": BadBootstrap([5, 6], ["A", "B"], 1, 0, "RegistryInvalidLifetime", (0,)),
    "lifetime_over_a_year": BadBootstrap(
        [5, 6], ["A", "B"], 1, 365 * 86400 + 1, "RegistryInvalidLifetime", (365 * 86400 + 1,)
    ),
    "lifetime_overflowing": BadBootstrap([5], ["A"], 1, 2**64 - 1, "RegistryInvalidLifetime", (2**64 - 1,)),
    "zero_address": BadBootstrap([5, None], ["A", "B"], 1, LIFETIME, "RegistryZeroAddress"),
    "empty_name": BadBootstrap([5, 6], ["A", ""], 1, LIFETIME, "RegistryInvalidName"),
    "name_65_bytes": BadBootstrap([5], ["n" * 65], 1, LIFETIME, "RegistryInvalidName"),
}


@pytest.mark.parametrize("case", BAD_BOOTSTRAPS.values(), ids=list(BAD_BOOTSTRAPS))
def test_constructor_invalid_bootstrap_reverts(w3: Web3, accounts: list[LocalAccount], case: BadBootstrap) -> None:
    """Reverts surface from gas estimation, so nothing is sent and the deployer's nonce does not move."""
    governors = [ZERO_ADDRESS if i is None else accounts[i].address for i in case.governors]
    deployer = accounts[19]
    nonce = w3.eth.get_transaction_count(deployer.address)
    err = expect_revert(
        lambda: deploy_registry(w3, deployer, governors, case.names, case.threshold, case.lifetime),
        case.error,
        *case.args,
    )
    assert tuple(err.args_) == case.args
    assert w3.eth.get_transaction_count(deployer.address) == nonce


def test_constructor_duplicate_governor_reverts_member_exists(w3: Web3, accounts: list[LocalAccount]) -> None:
    a, b = accounts[5].address, accounts[6].address
    expect_revert(
        lambda: deploy_registry(w3, accounts[19], [a, b, a], ["A", "B", "C"], 2),
        "RegistryMemberExists",
        a,
        MemberStatus.ACTIVE,
    )


# ---------------------------------------------------------------------------------------------------- permissions


def _non_member(c: Consortium) -> LocalAccount:
    return c.accounts[10]


def _lender(c: Consortium) -> LocalAccount:
    return c.accounts[3]


def _auditor(c: Consortium) -> LocalAccount:
    c.enact(Action.ADMIT, c.accounts[5].address, Role.AUDITOR, name="Auditor")
    return c.accounts[5]


def _suspended_governor(c: Consortium) -> LocalAccount:
    c.enact(Action.SUSPEND, c.accounts[2].address)
    return c.accounts[2]


def _removed_governor(c: Consortium) -> LocalAccount:
    c.enact(Action.REMOVE, c.accounts[2].address)
    return c.accounts[2]


def _demoted_governor(c: Consortium) -> LocalAccount:
    c.enact(Action.CHANGE_ROLE, c.accounts[2].address, Role.LENDER)
    return c.accounts[2]


UNAUTHORISED: dict[str, Callable[[Consortium], LocalAccount]] = {
    "non_member": _non_member,
    "lender": _lender,
    "auditor": _auditor,
    "suspended_governor": _suspended_governor,
    "removed_governor": _removed_governor,
    "demoted_governor": _demoted_governor,
}


@pytest.mark.parametrize("make", UNAUTHORISED.values(), ids=list(UNAUTHORISED))
def test_propose_by_non_governor_reverts_not_governor(
    consortium: Consortium, make: Callable[[Consortium], LocalAccount]
) -> None:
    caller = make(consortium)
    before = snapshot_state(consortium)
    expect_revert(
        lambda: propose_tx(consortium, caller, Action.ADMIT, consortium.accounts[6].address, Role.LENDER, name="X"),
        "RegistryNotGovernor",
        caller.address,
    )
    expect_revert(lambda: propose_tx(consortium, caller, Action.PAUSE), "RegistryNotGovernor", caller.address)
    assert snapshot_state(consortium) == before


@pytest.mark.parametrize("make", UNAUTHORISED.values(), ids=list(UNAUTHORISED))
def test_approve_by_non_governor_reverts_not_governor(
    consortium: Consortium, make: Callable[[Consortium], LocalAccount]
) -> None:
    caller = make(consortium)
    pid = governance.propose(consortium.registry, consortium.tx(consortium.accounts[0]), Action.PAUSE).proposal_id
    before = snapshot_state(consortium)
    expect_revert(lambda: approve_tx(consortium, caller, pid), "RegistryNotGovernor", caller.address)
    assert snapshot_state(consortium) == before
    assert not consortium.registry.functions.hasApproved(pid, caller.address).call()
    assert not consortium.registry.functions.paused().call()


def test_propose_alone_under_threshold_two_does_not_execute(consortium: Consortium) -> None:
    r, acc = consortium.registry, consortium.accounts
    newcomer = acc[5].address
    before = globals_of(r)

    first = governance.propose(r, consortium.tx(acc[0]), Action.ADMIT, newcomer, Role.LENDER, name="Lender C")
    assert (first.approvals, first.executed) == (1, False)
    p = r.functions.proposal(first.proposal_id).call()
    assert (p[2], p[3]) == (False, 1)  # executed, approvals
    assert member(r, newcomer).status == MemberStatus.NONE
    assert raw_member(r, newcomer) == EMPTY_MEMBER
    assert not r.functions.isActive(newcomer, Role.LENDER).call()
    assert globals_of(r) == {**before, "proposalCount": before["proposalCount"] + 1}
    # The proposer cannot push it over the threshold by approving again.
    expect_revert(
        lambda: approve_tx(consortium, acc[0], first.proposal_id),
        "RegistryAlreadyApproved",
        first.proposal_id,
        acc[0].address,
    )

    second = governance.approve(r, consortium.tx(acc[1]), first.proposal_id)
    assert (second.proposal_id, second.approvals, second.executed) == (first.proposal_id, 2, True)
    m = member(r, newcomer)
    assert (m.role, m.status, m.name) == (Role.LENDER, MemberStatus.ACTIVE, "Lender C")
    assert r.functions.isActive(newcomer, Role.LENDER).call()


def test_approve_under_threshold_three_executes_on_third_approval(w3: Web3, accounts: list[LocalAccount]) -> None:
    c = Consortium.deploy(w3, accounts, governors=accounts[5:9], threshold=3)
    g = accounts[5:9]
    pid = proposal_id_of(propose_tx(c, g[0], Action.PAUSE))
    second = approve_tx(c, g[1], pid)
    assert names_of(second) == ["ProposalApproved"]
    assert only(second, "ProposalApproved", c.registry) == {
        "proposalId": pid,
        "governor": g[1].address,
        "approvals": 2,
        "threshold": 3,
    }
    assert not c.registry.functions.paused().call()
    expect_revert(lambda: approve_tx(c, g[1], pid), "RegistryAlreadyApproved", pid, g[1].address)

    third = approve_tx(c, g[3], pid)
    assert names_of(third) == ["ProposalApproved", "ProposalExecuted", "Paused"]
    assert only(third, "ProposalApproved", c.registry)["approvals"] == 3
    assert c.registry.functions.paused().call()
    assert [c.registry.functions.hasApproved(pid, a.address).call() for a in g] == [True, True, False, True]


def test_approve_expired_proposal_reverts_expired(consortium: Consortium, time_travel: Callable[[int], None]) -> None:
    r, acc = consortium.registry, consortium.accounts
    receipt = propose_tx(consortium, acc[0], Action.ADMIT, acc[5].address, Role.LENDER, name="Late")
    pid = proposal_id_of(receipt)
    expires_at = r.functions.proposal(pid).call()[4]
    assert expires_at == block_time(consortium.w3, receipt) + LIFETIME

    time_travel(LIFETIME + 1)
    expect_revert(lambda: approve_tx(consortium, acc[1], pid), "RegistryProposalExpired", pid, expires_at)
    assert r.functions.proposal(pid).call()[2:4] == (False, 1)
    assert raw_member(r, acc[5].address) == EMPTY_MEMBER


def test_approve_just_before_expiry_executes(consortium: Consortium, time_travel: Callable[[int], None]) -> None:
    acc = consortium.accounts
    pid = proposal_id_of(propose_tx(consortium, acc[0], Action.PAUSE))
    time_travel(LIFETIME - 120)
    assert "ProposalExecuted" in names_of(approve_tx(consortium, acc[1], pid))
    assert consortium.registry.functions.paused().call()


def test_approve_by_proposer_reverts_already_approved(consortium: Consortium) -> None:
    acc = consortium.accounts
    pid = proposal_id_of(propose_tx(consortium, acc[0], Action.PAUSE))
    expect_revert(lambda: approve_tx(consortium, acc[0], pid), "RegistryAlreadyApproved", pid, acc[0].address)
    assert consortium.registry.functions.proposal(pid).call()[3] == 1


def test_approve_executed_proposal_reverts_already_executed(consortium: Consortium) -> None:
    acc = consortium.accounts
    pid = consortium.enact(Action.PAUSE).proposal_id
    before = snapshot_state(consortium)
    expect_revert(lambda: approve_tx(consortium, acc[2], pid), "RegistryProposalAlreadyExecuted", pid)
    # The executed check comes before the double-approval check.
    expect_revert(lambda: approve_tx(consortium, acc[1], pid), "RegistryProposalAlreadyExecuted", pid)
    assert snapshot_state(consortium) == before


@pytest.mark.parametrize("offset", [0, 1, 2**256 - 3])
def test_approve_unknown_proposal_reverts_unknown(consortium: Consortium, offset: int) -> None:
    count = consortium.registry.functions.proposalCount().call()
    pid = 0 if offset == 0 else count + offset
    expect_revert(lambda: approve_tx(consortium, consortium.accounts[0], pid), "RegistryUnknownProposal", pid)


def _admit_governor(c: Consortium) -> None:
    c.enact(Action.ADMIT, c.accounts[6].address, Role.GOVERNOR, name="Gov 4")


def _promote_lender(c: Consortium) -> None:
    c.enact(Action.CHANGE_ROLE, c.accounts[3].address, Role.GOVERNOR)


def _demote_governor(c: Consortium) -> None:
    c.enact(Action.CHANGE_ROLE, c.accounts[2].address, Role.AUDITOR)


def _suspend_governor(c: Consortium) -> None:
    c.enact(Action.SUSPEND, c.accounts[2].address)


def _remove_governor(c: Consortium) -> None:
    c.enact(Action.REMOVE, c.accounts[2].address)


def _raise_threshold(c: Consortium) -> None:
    c.enact(Action.SET_THRESHOLD, value=3)


def _lower_threshold(c: Consortium) -> None:
    c.enact(Action.SET_THRESHOLD, value=1)


GOVERNOR_SET_CHANGES: dict[str, Callable[[Consortium], None]] = {
    "admit_governor": _admit_governor,
    "promote_lender": _promote_lender,
    "demote_governor": _demote_governor,
    "suspend_governor": _suspend_governor,
    "remove_governor": _remove_governor,
    "raise_threshold": _raise_threshold,
    "lower_threshold": _lower_threshold,
}


@pytest.mark.parametrize("change", GOVERNOR_SET_CHANGES.values(), ids=list(GOVERNOR_SET_CHANGES))
def test_approve_after_governor_set_change_reverts_stale(
    consortium: Consortium, change: Callable[[Consortium], None]
) -> None:
    r, acc = consortium.registry, consortium.accounts
    pid = proposal_id_of(propose_tx(consortium, acc[0], Action.ADMIT, acc[7].address, Role.LENDER, name="Open"))
    assert r.functions.proposal(pid).call()[5] == FIXTURE_EPOCH
    change(consortium)
    assert r.functions.governanceEpoch().call() == FIXTURE_EPOCH + 1
    expect_revert(
        lambda: approve_tx(consortium, acc[1], pid), "RegistryProposalStale", pid, FIXTURE_EPOCH, FIXTURE_EPOCH + 1
    )
    assert raw_member(r, acc[7].address) == EMPTY_MEMBER


def test_approve_suspended_then_reinstated_governor_proposal_reverts_stale(consortium: Consortium) -> None:
    """Reinstating a governor advances the epoch again, so proposals from the suspension epoch stay dead too."""
    r, acc = consortium.registry, consortium.accounts
    _suspend_governor(consortium)
    pid = proposal_id_of(propose_tx(consortium, acc[0], Action.PAUSE))
    consortium.enact(Action.REINSTATE, acc[2].address)
    expect_revert(
        lambda: approve_tx(consortium, acc[1], pid),
        "RegistryProposalStale",
        pid,
        FIXTURE_EPOCH + 1,
        FIXTURE_EPOCH + 2,
    )
    assert not r.functions.paused().call()


def _admit_lender(c: Consortium) -> None:
    c.enact(Action.ADMIT, c.accounts[5].address, Role.LENDER, name="Lender C")


def _suspend_lender(c: Consortium) -> None:
    c.enact(Action.SUSPEND, c.accounts[3].address)


def _lender_to_auditor(c: Consortium) -> None:
    c.enact(Action.CHANGE_ROLE, c.accounts[4].address, Role.AUDITOR)


def _remove_lender(c: Consortium) -> None:
    c.enact(Action.REMOVE, c.accounts[4].address)


def _pause(c: Consortium) -> None:
    c.enact(Action.PAUSE)


NON_GOVERNOR_CHANGES: dict[str, Callable[[Consortium], None]] = {
    "admit_lender": _admit_lender,
    "suspend_lender": _suspend_lender,
    "lender_to_auditor": _lender_to_auditor,
    "remove_lender": _remove_lender,
    "pause": _pause,
}


@pytest.mark.parametrize("change", NON_GOVERNOR_CHANGES.values(), ids=list(NON_GOVERNOR_CHANGES))
def test_approve_after_non_governor_change_is_not_stale(
    consortium: Consortium, change: Callable[[Consortium], None]
) -> None:
    r, acc = consortium.registry, consortium.accounts
    pid = proposal_id_of(propose_tx(consortium, acc[0], Action.ADMIT, acc[7].address, Role.AUDITOR, name="Open"))
    change(consortium)
    assert r.functions.governanceEpoch().call() == FIXTURE_EPOCH
    assert "ProposalExecuted" in names_of(approve_tx(consortium, acc[1], pid))
    assert r.functions.isActive(acc[7].address, Role.AUDITOR).call()


# ---------------------------------------------------------------------------------------------------- actions


@pytest.mark.parametrize("role", [Role.LENDER, Role.AUDITOR, Role.GOVERNOR])
def test_admit_each_role_executes_with_events(consortium: Consortium, role: Role) -> None:
    r, acc, w3 = consortium.registry, consortium.accounts, consortium.w3
    newcomer, name = acc[6].address, "新成员 Member"
    count = r.functions.proposalCount().call()

    created_rx = propose_tx(consortium, acc[1], Action.ADMIT, newcomer, role, name=name)
    pid = count + 1
    assert names_of(created_rx) == ["ProposalCreated", "ProposalApproved"]
    assert only(created_rx, "ProposalCreated", r) == {
        "proposalId": pid,
        "proposer": acc[1].address,
        "target": newcomer,
        "action": Action.ADMIT,
        "role": role,
        "value": 0,
        "name": name,
        "expiresAt": block_time(w3, created_rx) + LIFETIME,
    }
    assert only(created_rx, "ProposalApproved", r) == {
        "proposalId": pid,
        "governor": acc[1].address,
        "approvals": 1,
        "threshold": 2,
    }

    executed_rx = approve_tx(consortium, acc[2], pid)
    expected = ["ProposalApproved", "ProposalExecuted", "MemberAdmitted"]
    if role == Role.GOVERNOR:
        expected.append("GovernanceEpochAdvanced")
    assert names_of(executed_rx) == expected
    assert only(executed_rx, "ProposalApproved", r) == {
        "proposalId": pid,
        "governor": acc[2].address,
        "approvals": 2,
        "threshold": 2,
    }
    assert only(executed_rx, "ProposalExecuted", r) == {"proposalId": pid, "action": Action.ADMIT}
    assert only(executed_rx, "MemberAdmitted", r) == {"account": newcomer, "role": role, "name": name}

    is_governor = role == Role.GOVERNOR
    if is_governor:
        assert only(executed_rx, "GovernanceEpochAdvanced", r) == {"epoch": FIXTURE_EPOCH + 1}
    assert raw_member(r, newcomer) == (role, MemberStatus.ACTIVE, block_time(w3, executed_rx), name)
    assert [r.functions.isActive(newcomer, x).call() for x in Role] == [x == role for x in Role]
    assert r.functions.activeGovernors().call() == 3 + is_governor
    assert r.functions.governanceEpoch().call() == FIXTURE_EPOCH + is_governor
    assert r.functions.threshold().call() == 2


def test_admit_name_of_64_bytes_is_accepted(consortium: Consortium) -> None:
    name = "信" * 21 + "x"  # 21 three-byte characters + 1 = 64 bytes
    assert len(name.encode()) == 64
    consortium.enact(Action.ADMIT, consortium.accounts[5].address, Role.LENDER, name=name)
    assert member(consortium.registry, consortium.accounts[5].address).name == name


def test_change_role_lender_to_auditor_keeps_epoch(consortium: Consortium) -> None:
    r, acc, w3 = consortium.registry, consortium.accounts, consortium.w3
    pid = proposal_id_of(propose_tx(consortium, acc[0], Action.CHANGE_ROLE, acc[3].address, Role.AUDITOR))
    receipt = approve_tx(consortium, acc[1], pid)
    assert names_of(receipt) == ["ProposalApproved", "ProposalExecuted", "MemberRoleChanged"]
    assert only(receipt, "ProposalExecuted", r) == {"proposalId": pid, "action": Action.CHANGE_ROLE}
    assert only(receipt, "MemberRoleChanged", r) == {
        "account": acc[3].address,
        "previousRole": Role.LENDER,
        "newRole": Role.AUDITOR,
    }
    assert raw_member(r, acc[3].address) == (Role.AUDITOR, MemberStatus.ACTIVE, block_time(w3, receipt), "Lender A")
    assert r.functions.isActive(acc[3].address, Role.AUDITOR).call()
    assert not r.functions.isActive(acc[3].address, Role.LENDER).call()
    assert (r.functions.activeGovernors().call(), r.functions.governanceEpoch().call()) == (3, FIXTURE_EPOCH)


def test_change_role_lender_to_governor_adds_active_governor(consortium: Consortium) -> None:
    r, acc = consortium.registry, consortium.accounts
    pid = proposal_id_of(propose_tx(consortium, acc[0], Action.CHANGE_ROLE, acc[3].address, Role.GOVERNOR))
    receipt = approve_tx(consortium, acc[1], pid)
    assert names_of(receipt) == ["ProposalApproved", "ProposalExecuted", "MemberRoleChanged", "GovernanceEpochAdvanced"]
    assert only(receipt, "MemberRoleChanged", r) == {
        "account": acc[3].address,
        "previousRole": Role.LENDER,
        "newRole": Role.GOVERNOR,
    }
    assert only(receipt, "GovernanceEpochAdvanced", r) == {"epoch": FIXTURE_EPOCH + 1}
    assert r.functions.activeGovernors().call() == 4
    # The promoted lender now proposes.
    assert proposal_id_of(propose_tx(consortium, acc[3], Action.PAUSE)) == pid + 1


def test_change_role_governor_to_lender_reduces_active_governors(consortium: Consortium) -> None:
    r, acc = consortium.registry, consortium.accounts
    pid = proposal_id_of(propose_tx(consortium, acc[0], Action.CHANGE_ROLE, acc[2].address, Role.LENDER))
    receipt = approve_tx(consortium, acc[1], pid)
    assert names_of(receipt) == ["ProposalApproved", "ProposalExecuted", "MemberRoleChanged", "GovernanceEpochAdvanced"]
    assert only(receipt, "MemberRoleChanged", r) == {
        "account": acc[2].address,
        "previousRole": Role.GOVERNOR,
        "newRole": Role.LENDER,
    }
    assert only(receipt, "GovernanceEpochAdvanced", r) == {"epoch": FIXTURE_EPOCH + 1}
    assert (r.functions.activeGovernors().call(), r.functions.threshold().call()) == (2, 2)
    assert r.functions.isActive(acc[2].address, Role.LENDER).call()
    assert not r.functions.isActive(acc[2].address, Role.GOVERNOR).call()


def test_change_role_of_suspended_member_counts_only_on_reinstatement(consortium: Consortium) -> None:
    """A suspended member's role may change, but it only counts as a governor once it is active again."""
    r, acc = consortium.registry, consortium.accounts
    lender = acc[3].address
    consortium.enact(Action.SUSPEND, lender)
    receipt = approve_tx(
        consortium, acc[1], proposal_id_of(propose_tx(consortium, acc[0], Action.CHANGE_ROLE, lender, Role.GOVERNOR))
    )
    assert names_of(receipt) == ["ProposalApproved", "ProposalExecuted", "MemberRoleChanged"]
    assert member(r, lender).role == Role.GOVERNOR
    assert member(r, lender).status == MemberStatus.SUSPENDED
    assert (r.functions.activeGovernors().call(), r.functions.governanceEpoch().call()) == (3, FIXTURE_EPOCH)
    expect_revert(lambda: propose_tx(consortium, acc[3], Action.PAUSE), "RegistryNotGovernor", lender)

    receipt = approve_tx(consortium, acc[1], proposal_id_of(propose_tx(consortium, acc[0], Action.REINSTATE, lender)))
    assert names_of(receipt) == [
        "ProposalApproved",
        "ProposalExecuted",
        "MemberStatusChanged",
        "GovernanceEpochAdvanced",
    ]
    assert only(receipt, "MemberStatusChanged", r) == {
        "account": lender,
        "previousStatus": MemberStatus.SUSPENDED,
        "newStatus": MemberStatus.ACTIVE,
    }
    assert (r.functions.activeGovernors().call(), r.functions.governanceEpoch().call()) == (4, FIXTURE_EPOCH + 1)
    assert r.functions.isActive(lender, Role.GOVERNOR).call()


def test_change_role_of_suspended_governor_keeps_governor_count(consortium: Consortium) -> None:
    r, acc = consortium.registry, consortium.accounts
    _suspend_governor(consortium)
    consortium.enact(Action.CHANGE_ROLE, acc[2].address, Role.LENDER)
    assert (r.functions.activeGovernors().call(), r.functions.governanceEpoch().call()) == (2, FIXTURE_EPOCH + 1)
    consortium.enact(Action.REINSTATE, acc[2].address)
    assert r.functions.activeGovernors().call() == 2
    assert r.functions.isActive(acc[2].address, Role.LENDER).call()


def test_suspend_lender_deactivates_without_epoch(consortium: Consortium) -> None:
    r, acc, w3 = consortium.registry, consortium.accounts, consortium.w3
    pid = proposal_id_of(propose_tx(consortium, acc[0], Action.SUSPEND, acc[3].address))
    receipt = approve_tx(consortium, acc[1], pid)
    assert names_of(receipt) == ["ProposalApproved", "ProposalExecuted", "MemberStatusChanged"]
    assert only(receipt, "ProposalExecuted", r) == {"proposalId": pid, "action": Action.SUSPEND}
    assert only(receipt, "MemberStatusChanged", r) == {
        "account": acc[3].address,
        "previousStatus": MemberStatus.ACTIVE,
        "newStatus": MemberStatus.SUSPENDED,
    }
    assert raw_member(r, acc[3].address) == (
        Role.LENDER,
        MemberStatus.SUSPENDED,
        block_time(w3, receipt),
        "Lender A",
    )
    assert not r.functions.isActive(acc[3].address, Role.LENDER).call()
    assert (r.functions.activeGovernors().call(), r.functions.governanceEpoch().call()) == (3, FIXTURE_EPOCH)


def test_suspend_governor_reduces_active_governors(consortium: Consortium) -> None:
    r, acc = consortium.registry, consortium.accounts
    pid = proposal_id_of(propose_tx(consortium, acc[0], Action.SUSPEND, acc[2].address))
    receipt = approve_tx(consortium, acc[1], pid)
    assert names_of(receipt) == [
        "ProposalApproved",
        "ProposalExecuted",
        "MemberStatusChanged",
        "GovernanceEpochAdvanced",
    ]
    assert only(receipt, "GovernanceEpochAdvanced", r) == {"epoch": FIXTURE_EPOCH + 1}
    assert r.functions.activeGovernors().call() == 2
    assert not r.functions.isActive(acc[2].address, Role.GOVERNOR).call()


def test_reinstate_suspended_lender_reactivates(consortium: Consortium) -> None:
    r, acc, w3 = consortium.registry, consortium.accounts, consortium.w3
    _suspend_lender(consortium)
    pid = proposal_id_of(propose_tx(consortium, acc[0], Action.REINSTATE, acc[3].address))
    receipt = approve_tx(consortium, acc[1], pid)
    assert names_of(receipt) == ["ProposalApproved", "ProposalExecuted", "MemberStatusChanged"]
    assert only(receipt, "ProposalExecuted", r) == {"proposalId": pid, "action": Action.REINSTATE}
    assert only(receipt, "MemberStatusChanged", r) == {
        "account": acc[3].address,
        "previousStatus": MemberStatus.SUSPENDED,
        "newStatus": MemberStatus.ACTIVE,
    }
    assert raw_member(r, acc[3].address) == (Role.LENDER, MemberStatus.ACTIVE, block_time(w3, receipt), "Lender A")
    assert r.functions.isActive(acc[3].address, Role.LENDER).call()


def test_reinstate_suspended_governor_restores_governor(consortium: Consortium) -> None:
    r, acc = consortium.registry, consortium.accounts
    _suspend_governor(consortium)
    consortium.enact(Action.REINSTATE, acc[2].address)
    assert (r.functions.activeGovernors().call(), r.functions.governanceEpoch().call()) == (3, FIXTURE_EPOCH + 2)
    assert proposal_id_of(propose_tx(consortium, acc[2], Action.PAUSE)) > 0


@pytest.mark.parametrize("suspended_first", [False, True], ids=["active", "suspended"])
def test_remove_member_is_final(consortium: Consortium, suspended_first: bool) -> None:
    r, acc, w3 = consortium.registry, consortium.accounts, consortium.w3
    lender = acc[3].address
    previous = MemberStatus.ACTIVE
    if suspended_first:
        _suspend_lender(consortium)
        previous = MemberStatus.SUSPENDED
    pid = proposal_id_of(propose_tx(consortium, acc[0], Action.REMOVE, lender))
    receipt = approve_tx(consortium, acc[1], pid)
    assert names_of(receipt) == ["ProposalApproved", "ProposalExecuted", "MemberStatusChanged"]
    assert only(receipt, "ProposalExecuted", r) == {"proposalId": pid, "action": Action.REMOVE}
    assert only(receipt, "MemberStatusChanged", r) == {
        "account": lender,
        "previousStatus": previous,
        "newStatus": MemberStatus.REMOVED,
    }
    assert raw_member(r, lender) == (Role.LENDER, MemberStatus.REMOVED, block_time(w3, receipt), "Lender A")
    assert not any(r.functions.isActive(lender, x).call() for x in Role)

    g0 = acc[0]
    removed = (lender, MemberStatus.REMOVED)
    expect_revert(lambda: propose_tx(consortium, g0, Action.REINSTATE, lender), "RegistryInvalidStatus", *removed)
    expect_revert(
        lambda: propose_tx(consortium, g0, Action.ADMIT, lender, Role.LENDER, name="Again"),
        "RegistryMemberExists",
        *removed,
    )
    expect_revert(lambda: propose_tx(consortium, g0, Action.SUSPEND, lender), "RegistryInvalidStatus", *removed)
    expect_revert(lambda: propose_tx(consortium, g0, Action.REMOVE, lender), "RegistryInvalidStatus", *removed)
    expect_revert(
        lambda: propose_tx(consortium, g0, Action.CHANGE_ROLE, lender, Role.AUDITOR),
        "RegistryInvalidStatus",
        *removed,
    )


def test_remove_governor_reduces_active_governors(consortium: Consortium) -> None:
    r, acc = consortium.registry, consortium.accounts
    pid = proposal_id_of(propose_tx(consortium, acc[0], Action.REMOVE, acc[2].address))
    receipt = approve_tx(consortium, acc[1], pid)
    assert names_of(receipt) == [
        "ProposalApproved",
        "ProposalExecuted",
        "MemberStatusChanged",
        "GovernanceEpochAdvanced",
    ]
    assert only(receipt, "MemberStatusChanged", r) == {
        "account": acc[2].address,
        "previousStatus": MemberStatus.ACTIVE,
        "newStatus": MemberStatus.REMOVED,
    }
    assert (r.functions.activeGovernors().call(), r.functions.governanceEpoch().call()) == (2, FIXTURE_EPOCH + 1)


def test_remove_suspended_governor_keeps_governor_count(consortium: Consortium) -> None:
    r, acc = consortium.registry, consortium.accounts
    _suspend_governor(consortium)
    receipt = approve_tx(
        consortium, acc[1], proposal_id_of(propose_tx(consortium, acc[0], Action.REMOVE, acc[2].address))
    )
    assert "GovernanceEpochAdvanced" not in names_of(receipt)
    assert (r.functions.activeGovernors().call(), r.functions.governanceEpoch().call()) == (2, FIXTURE_EPOCH + 1)


def test_set_threshold_changes_threshold_and_epoch(consortium: Consortium) -> None:
    r, acc = consortium.registry, consortium.accounts
    created = propose_tx(consortium, acc[0], Action.SET_THRESHOLD, value=3)
    pid = proposal_id_of(created)
    assert only(created, "ProposalCreated", r) == {
        "proposalId": pid,
        "proposer": acc[0].address,
        "target": ZERO_ADDRESS,
        "action": Action.SET_THRESHOLD,
        "role": Role.NONE,
        "value": 3,
        "name": "",
        "expiresAt": block_time(consortium.w3, created) + LIFETIME,
    }
    receipt = approve_tx(consortium, acc[1], pid)
    assert names_of(receipt) == ["ProposalApproved", "ProposalExecuted", "ThresholdChanged", "GovernanceEpochAdvanced"]
    # The approval that executes is reported against the threshold in force before the change.
    assert only(receipt, "ProposalApproved", r)["threshold"] == 2
    assert only(receipt, "ProposalExecuted", r) == {"proposalId": pid, "action": Action.SET_THRESHOLD}
    assert only(receipt, "ThresholdChanged", r) == {"previousThreshold": 2, "newThreshold": 3}
    assert only(receipt, "GovernanceEpochAdvanced", r) == {"epoch": FIXTURE_EPOCH + 1}
    assert r.functions.threshold().call() == 3

    lowered = consortium.enact(Action.SET_THRESHOLD, value=1)
    assert lowered.approvals == 3
    assert r.functions.threshold().call() == 1
    # With threshold 1 a proposal executes in the proposing transaction.
    solo = propose_tx(consortium, acc[2], Action.PAUSE)
    assert names_of(solo) == ["ProposalCreated", "ProposalApproved", "ProposalExecuted", "Paused"]
    assert only(solo, "ProposalApproved", r) == {
        "proposalId": pid + 2,
        "governor": acc[2].address,
        "approvals": 1,
        "threshold": 1,
    }
    assert r.functions.paused().call()


def test_pause_and_unpause_toggle_paused(consortium: Consortium) -> None:
    r, acc = consortium.registry, consortium.accounts
    assert not r.functions.paused().call()
    pause_id = proposal_id_of(propose_tx(consortium, acc[0], Action.PAUSE))
    paused_rx = approve_tx(consortium, acc[1], pause_id)
    assert names_of(paused_rx) == ["ProposalApproved", "ProposalExecuted", "Paused"]
    assert only(paused_rx, "ProposalExecuted", r) == {"proposalId": pause_id, "action": Action.PAUSE}
    assert only(paused_rx, "Paused", r) == {"proposalId": pause_id}
    assert r.functions.paused().call()
    assert r.functions.governanceEpoch().call() == FIXTURE_EPOCH

    unpause_id = proposal_id_of(propose_tx(consortium, acc[2], Action.UNPAUSE))
    unpaused_rx = approve_tx(consortium, acc[0], unpause_id)
    assert names_of(unpaused_rx) == ["ProposalApproved", "ProposalExecuted", "Unpaused"]
    assert only(unpaused_rx, "ProposalExecuted", r) == {"proposalId": unpause_id, "action": Action.UNPAUSE}
    assert only(unpaused_rx, "Unpaused", r) == {"proposalId": unpause_id}
    assert not r.functions.paused().call()


# ---------------------------------------------------------------------------------------------------- invalid input

TARGET = object()  # placeholder in expected error args for the target address


@dataclass(frozen=True)
class Invalid:
    action: Action
    target: int | None  # account index, None for the zero address
    error: str
    args: tuple[Any, ...] = ()
    role: Role = Role.NONE
    value: int = 0
    name: str = ""
    setup: Callable[[Consortium], None] | None = None


INVALID = {
    "admit_zero_address": Invalid(Action.ADMIT, None, "RegistryZeroAddress", role=Role.LENDER, name="X"),
    "admit_role_none": Invalid(Action.ADMIT, 5, "RegistryInvalidRole", (Role.NONE,), name="X"),
    "admit_empty_name": Invalid(Action.ADMIT, 5, "RegistryInvalidName", role=Role.LENDER),
    "admit_65_byte_name": Invalid(Action.ADMIT, 5, "RegistryInvalidName", role=Role.LENDER, name="n" * 65),
    "admit_22_char_66_byte_name": Invalid(Action.ADMIT, 5, "RegistryInvalidName", role=Role.LENDER, name="信" * 22),
    "admit_active_member": Invalid(
        Action.ADMIT, 3, "RegistryMemberExists", (TARGET, MemberStatus.ACTIVE), Role.AUDITOR, name="X"
    ),
    "admit_existing_governor": Invalid(
        Action.ADMIT, 1, "RegistryMemberExists", (TARGET, MemberStatus.ACTIVE), Role.GOVERNOR, name="X"
    ),
    "admit_suspended_member": Invalid(
        Action.ADMIT,
        3,
        "RegistryMemberExists",
        (TARGET, MemberStatus.SUSPENDED),
        Role.LENDER,
        name="X",
        setup=_suspend_lender,
    ),
    "change_role_none": Invalid(Action.CHANGE_ROLE, 3, "RegistryInvalidRole", (Role.NONE,)),
    "change_role_unchanged": Invalid(
        Action.CHANGE_ROLE, 3, "RegistryRoleUnchanged", (TARGET, Role.LENDER), Role.LENDER
    ),
    "change_role_governor_unchanged": Invalid(
        Action.CHANGE_ROLE, 1, "RegistryRoleUnchanged", (TARGET, Role.GOVERNOR), Role.GOVERNOR
    ),
    "change_role_non_member": Invalid(
        Action.CHANGE_ROLE, 5, "RegistryInvalidStatus", (TARGET, MemberStatus.NONE), Role.AUDITOR
    ),
    "suspend_suspended": Invalid(
        Action.SUSPEND, 3, "RegistryInvalidStatus", (TARGET, MemberStatus.SUSPENDED), setup=_suspend_lender
    ),
    "suspend_non_member": Invalid(Action.SUSPEND, 5, "RegistryInvalidStatus", (TARGET, MemberStatus.NONE)),
    "suspend_zero_address": Invalid(Action.SUSPEND, None, "RegistryInvalidStatus", (TARGET, MemberStatus.NONE)),
    "reinstate_active": Invalid(Action.REINSTATE, 3, "RegistryInvalidStatus", (TARGET, MemberStatus.ACTIVE)),
    "reinstate_non_member": Invalid(Action.REINSTATE, 5, "RegistryInvalidStatus", (TARGET, MemberStatus.NONE)),
    "remove_non_member": Invalid(Action.REMOVE, 5, "RegistryInvalidStatus", (TARGET, MemberStatus.NONE)),
    "threshold_zero": Invalid(Action.SET_THRESHOLD, None, "RegistryInvalidThreshold", (0, 3)),
    "threshold_above_active_governors": Invalid(
        Action.SET_THRESHOLD, None, "RegistryInvalidThreshold", (4, 3), value=4
    ),
    "threshold_above_after_suspension": Invalid(
        Action.SET_THRESHOLD, None, "RegistryInvalidThreshold", (3, 2), value=3, setup=_suspend_governor
    ),
    "pause_paused": Invalid(Action.PAUSE, None, "RegistryPauseUnchanged", (True,), setup=_pause),
    "unpause_running": Invalid(Action.UNPAUSE, None, "RegistryPauseUnchanged", (False,)),
    "action_none": Invalid(Action.NONE, None, "RegistryInvalidAction"),
}


@pytest.mark.parametrize("case", INVALID.values(), ids=list(INVALID))
def test_propose_invalid_action_reverts(consortium: Consortium, case: Invalid) -> None:
    if case.setup is not None:
        case.setup(consortium)
    target = ZERO_ADDRESS if case.target is None else consortium.accounts[case.target].address
    args = tuple(target if a is TARGET else a for a in case.args)
    before = snapshot_state(consortium)
    err = expect_revert(
        lambda: propose_tx(consortium, consortium.accounts[0], case.action, target, case.role, case.value, case.name),
        case.error,
        *args,
    )
    assert tuple(err.args_) == args
    assert snapshot_state(consortium) == before


GOVERNOR_LOSSES = {
    "suspend": (Action.SUSPEND, Role.NONE),
    "remove": (Action.REMOVE, Role.NONE),
    "demote_to_lender": (Action.CHANGE_ROLE, Role.LENDER),
    "demote_to_auditor": (Action.CHANGE_ROLE, Role.AUDITOR),
}


@pytest.mark.parametrize("loss", GOVERNOR_LOSSES.values(), ids=list(GOVERNOR_LOSSES))
def test_governor_loss_below_threshold_reverts_invalid_threshold(
    w3: Web3, accounts: list[LocalAccount], loss: tuple[Action, Role]
) -> None:
    """A proposal that could never execute (it would leave fewer governors than the threshold) is refused at
    creation, so it cannot sit open until it expires."""
    action, role = loss
    c = Consortium.deploy(w3, accounts, governors=accounts[5:7], threshold=2)
    g0, g1 = accounts[5], accounts[6]
    before = snapshot_state(c)
    count = c.registry.functions.proposalCount().call()
    expect_revert(lambda: propose_tx(c, g0, action, g1.address, role), "RegistryInvalidThreshold", 2, 1)
    assert snapshot_state(c) == before
    assert c.registry.functions.proposalCount().call() == count
    assert c.registry.functions.isActive(g1.address, Role.GOVERNOR).call()
    assert (c.registry.functions.activeGovernors().call(), c.registry.functions.threshold().call()) == (2, 2)


@pytest.mark.parametrize("loss", GOVERNOR_LOSSES.values(), ids=list(GOVERNOR_LOSSES))
def test_last_governor_loss_at_threshold_one_reverts_on_propose(
    w3: Web3, accounts: list[LocalAccount], loss: tuple[Action, Role]
) -> None:
    """With threshold 1 the proposal executes at once, so the guard reverts the proposal itself."""
    action, role = loss
    c = Consortium.deploy(w3, accounts, governors=accounts[5:6], threshold=1)
    solo = accounts[5]
    expect_revert(lambda: propose_tx(c, solo, action, solo.address, role), "RegistryInvalidThreshold", 1, 0)
    assert c.registry.functions.proposalCount().call() == 0
    assert c.registry.functions.isActive(solo.address, Role.GOVERNOR).call()


def test_governor_loss_to_threshold_is_allowed_then_next_reverts(consortium: Consortium) -> None:
    """3 governors, threshold 2: losing one is fine, losing a second one trips the guard."""
    r, acc = consortium.registry, consortium.accounts
    _suspend_governor(consortium)
    expect_revert(
        lambda: propose_tx(consortium, acc[0], Action.REMOVE, acc[1].address), "RegistryInvalidThreshold", 2, 1
    )
    assert (r.functions.activeGovernors().call(), r.functions.threshold().call()) == (2, 2)
    assert member(r, acc[1].address).status == MemberStatus.ACTIVE


# ---------------------------------------------------------------------------------------------------- views


def test_proposal_view_returns_every_field(consortium: Consortium) -> None:
    r, acc = consortium.registry, consortium.accounts
    count = r.functions.proposalCount().call()
    assert count == 2  # the fixture's two lender admissions
    created = propose_tx(consortium, acc[0], Action.ADMIT, acc[5].address, Role.AUDITOR, name="Auditor")
    pid = proposal_id_of(created)
    assert pid == count + 1
    assert r.functions.proposalCount().call() == pid
    expires_at = block_time(consortium.w3, created) + LIFETIME
    assert tuple(r.functions.proposal(pid).call()) == (
        Action.ADMIT,
        Role.AUDITOR,
        False,
        1,
        expires_at,
        FIXTURE_EPOCH,
        0,  # pause epoch: never paused
        acc[5].address,
        0,  # target version: never a member
        acc[0].address,
        0,
        "Auditor",
    )
    assert [r.functions.hasApproved(pid, a.address).call() for a in acc[:4]] == [True, False, False, False]

    approve_tx(consortium, acc[2], pid)
    assert tuple(r.functions.proposal(pid).call()) == (
        Action.ADMIT,
        Role.AUDITOR,
        True,
        2,
        expires_at,
        FIXTURE_EPOCH,
        0,  # pause epoch: never paused
        acc[5].address,
        0,  # target version: never a member
        acc[0].address,
        0,
        "Auditor",
    )
    assert [r.functions.hasApproved(pid, a.address).call() for a in acc[:4]] == [True, False, True, False]
    assert r.functions.proposalCount().call() == pid


def test_unknown_views_return_zero_records(consortium: Consortium) -> None:
    r, acc = consortium.registry, consortium.accounts
    assert tuple(r.functions.proposal(0).call()) == EMPTY_PROPOSAL
    assert tuple(r.functions.proposal(999).call()) == EMPTY_PROPOSAL
    assert not r.functions.hasApproved(999, acc[0].address).call()
    assert raw_member(r, acc[11].address) == EMPTY_MEMBER
    assert raw_member(r, ZERO_ADDRESS) == EMPTY_MEMBER
    assert not any(r.functions.isActive(acc[11].address, x).call() for x in Role)
    # Role.None is never "active", not even for a non-member whose stored role is None.
    assert not r.functions.isActive(ZERO_ADDRESS, Role.NONE).call()


def test_fixture_views_match_bootstrap(consortium: Consortium) -> None:
    r, acc = consortium.registry, consortium.accounts
    assert globals_of(r) == {
        "threshold": 2,
        "activeGovernors": 3,
        "governanceEpoch": FIXTURE_EPOCH,
        "paused": False,
        "proposalCount": 2,
        "proposalLifetime": LIFETIME,
    }
    for i in range(3):
        m = member(r, acc[i].address)
        assert (m.role, m.status, m.name) == (Role.GOVERNOR, MemberStatus.ACTIVE, f"Governor {i + 1}")
    for i, name in ((3, "Lender A"), (4, "Lender B")):
        m = member(r, acc[i].address)
        assert (m.role, m.status, m.name) == (Role.LENDER, MemberStatus.ACTIVE, name)
        assert r.functions.isActive(acc[i].address, Role.LENDER).call()


UNUSED_ARGUMENTS = {
    "pause_with_target": (Action.PAUSE, 7, Role.NONE, 0, ""),
    "pause_with_everything": (Action.PAUSE, 7, Role.GOVERNOR, 99, "bogus"),
    "suspend_with_role": (Action.SUSPEND, 3, Role.LENDER, 0, ""),
    "suspend_with_name": (Action.SUSPEND, 3, Role.NONE, 0, "x"),
    "threshold_with_target": (Action.SET_THRESHOLD, 3, Role.NONE, 1, ""),
    "admit_with_value": (Action.ADMIT, 8, Role.LENDER, 5, "New"),
    "change_role_with_name": (Action.CHANGE_ROLE, 3, Role.AUDITOR, 0, "x"),
}


@pytest.mark.parametrize("case", UNUSED_ARGUMENTS.values(), ids=list(UNUSED_ARGUMENTS))
def test_propose_with_unused_argument_reverts(consortium: Consortium, case: tuple[Action, int, Role, int, str]) -> None:
    """What governors approve must be exactly what executes: arguments an action ignores must be empty."""
    action, target, role, value, name = case
    before = snapshot_state(consortium)
    expect_revert(
        lambda: propose_tx(
            consortium, consortium.accounts[0], action, consortium.accounts[target].address, role, value, name
        ),
        "RegistryUnusedArgument",
        int(action),
    )
    assert snapshot_state(consortium) == before


def test_set_threshold_to_current_value_reverts(consortium: Consortium) -> None:
    expect_revert(
        lambda: propose_tx(consortium, consortium.accounts[0], Action.SET_THRESHOLD, value=2),
        "RegistryThresholdUnchanged",
        2,
    )
