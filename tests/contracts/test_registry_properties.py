"""Stateful property test of ConsortiumRegistry: random governance sequences against one registry on Ganache.

A Python model predicts, for every step, either the exact custom error or the resulting state. After every step the
registry must equal the model and keep its invariants: 1 <= threshold <= activeGovernors, activeGovernors equals the
number of active governors, removed members never come back, a reverted step changes nothing, and every executed
proposal had `threshold` approvals all given after the last change relevant to it (no governance replay). Each
example runs between `evm_snapshot` and `evm_revert`, so examples are independent and the shared chain is left as it
was.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from web3 import Web3

from creditshare.chain.governance import ZERO_ADDRESS, Action, MemberStatus, Role
from creditshare.core.exceptions import ContractRevert
from tests.support import Consortium

POOL_SIZE = 8  # accounts[0..7]; 0-2 are the bootstrap governors
BOOTSTRAP_GOVERNORS = 3
BOOTSTRAP_THRESHOLD = 2
LIFETIME = 365 * 86400  # the longest allowed: nothing expires within an example
NAMES = ["Lender", "信用社", "n" * 64, "é" * 32, "", "n" * 65, "é" * 33]  # 64 bytes is the limit
#: 12 sequences of 20 steps here (~1 minute on Ganache); forge fuzzes the same invariants far more cheaply
#: (tests/forge/RegistryInvariants.t.sol), so this test's job is the model's exact errors and states, not volume.
SETTINGS = settings(
    max_examples=12,
    stateful_step_count=20,
    deadline=None,
    database=None,  # the chain is fresh every session, so replaying stored examples buys nothing
    suppress_health_check=[HealthCheck.too_slow],
)


class Revert(Exception):
    """A custom error the model expects, with its decoded arguments."""

    def __init__(self, name: str, *args: Any) -> None:
        super().__init__(name, *args)
        self.name = name
        self.args_ = tuple(args)

    def __str__(self) -> str:
        return f"{self.name}{self.args_}"


@dataclass
class MemberModel:
    role: Role
    status: MemberStatus
    name: str


@dataclass
class ProposalModel:
    action: Action
    role: Role
    target: str
    proposer: str
    value: int
    name: str
    epoch: int
    pause_epoch: int
    target_version: int
    approvals: set[str] = field(default_factory=set)
    executed: bool = False


@dataclass
class Model:
    """What the registry should hold, written from the interface's documented rules."""

    members: dict[str, MemberModel]
    threshold: int
    epoch: int
    versions: dict[str, int]  # member versions: one per admission, role change and status change
    paused: bool = False
    pause_epoch: int = 0
    proposals: dict[int, ProposalModel] = field(default_factory=dict)
    # Replay bookkeeping: every change in order ("epoch", "pause" or the changed member's address), the length of
    # that log when each approval was given, and per executed proposal (id, approvals, approvals given before the
    # last change relevant to it).
    change_log: list[str] = field(default_factory=list)
    approved_at: dict[tuple[int, str], int] = field(default_factory=dict)
    executions: list[tuple[int, int, int]] = field(default_factory=list)

    def active_governors(self) -> list[str]:
        return sorted(a for a, m in self.members.items() if m.role == Role.GOVERNOR and m.status == MemberStatus.ACTIVE)

    def status(self, account: str) -> MemberStatus:
        m = self.members.get(account)
        return MemberStatus.NONE if m is None else m.status

    # -- entry points (mutate self; the caller discards the copy on Revert)

    def propose(self, caller: str, action: Action, target: str, role: Role, value: int, name: str) -> None:
        self._check_governor(caller)
        self._validate(action, target, role, value, name, at_creation=True)
        pid = len(self.proposals) + 1
        self.proposals[pid] = ProposalModel(
            action, role, target, caller, value, name, self.epoch, self.pause_epoch, self.versions.get(target, 0)
        )
        self._approve(pid, caller)

    def approve(self, caller: str, pid: int) -> None:
        self._check_governor(caller)
        p = self.proposals.get(pid)
        if p is None:
            raise Revert("RegistryUnknownProposal", pid)
        if p.executed:
            raise Revert("RegistryProposalAlreadyExecuted", pid)
        if p.epoch != self.epoch:
            raise Revert("RegistryProposalStale", pid, p.epoch, self.epoch)
        if p.action in (Action.PAUSE, Action.UNPAUSE) and p.pause_epoch != self.pause_epoch:
            raise Revert("RegistryProposalStalePause", pid, p.pause_epoch, self.pause_epoch)
        version = self.versions.get(p.target, 0)
        if p.target_version != version:
            raise Revert("RegistryProposalStaleTarget", pid, p.target, p.target_version, version)
        self._approve(pid, caller)

    def is_fresh(self, p: ProposalModel) -> bool:
        """Whether `p` can still be approved (neither executed nor stale)."""
        pause_ok = p.action not in (Action.PAUSE, Action.UNPAUSE) or p.pause_epoch == self.pause_epoch
        version_ok = p.target_version == self.versions.get(p.target, 0)
        return not p.executed and p.epoch == self.epoch and pause_ok and version_ok

    # -- rules

    def _check_governor(self, caller: str) -> None:
        if caller not in self.active_governors():
            raise Revert("RegistryNotGovernor", caller)

    def _approve(self, pid: int, caller: str) -> None:
        p = self.proposals[pid]
        if caller in p.approvals:
            raise Revert("RegistryAlreadyApproved", pid, caller)
        p.approvals.add(caller)
        self.approved_at[pid, caller] = len(self.change_log)
        if len(p.approvals) >= self.threshold:
            p.executed = True
            # Replay check, independent of the staleness rules above: count the approvals given before the last
            # change relevant to this proposal (the governor set or threshold, the pause state for Pause/Unpause,
            # the target member). The invariant `no_replayed_execution` requires zero.
            relevant = {"epoch", p.target}
            if p.action in (Action.PAUSE, Action.UNPAUSE):
                relevant.add("pause")
            last = max((i + 1 for i, what in enumerate(self.change_log) if what in relevant), default=0)
            stale = sum(1 for g in p.approvals if self.approved_at[pid, g] < last)
            self.executions.append((pid, len(p.approvals), stale))
            self._execute(p)

    def _check_status(self, account: str, *allowed: MemberStatus) -> None:
        status = self.status(account)
        if status not in allowed:
            raise Revert("RegistryInvalidStatus", account, status)

    def _validate(
        self, action: Action, target: str, role: Role, value: int, name: str, at_creation: bool = False
    ) -> None:
        active, suspended = MemberStatus.ACTIVE, MemberStatus.SUSPENDED
        if at_creation:  # arguments the action does not use must be empty
            uses_target = Action.ADMIT <= action <= Action.REMOVE
            uses_role = action in (Action.ADMIT, Action.CHANGE_ROLE)
            if (
                (not uses_target and target != ZERO_ADDRESS)
                or (not uses_role and role != Role.NONE)
                or (action != Action.SET_THRESHOLD and value != 0)
                or (action != Action.ADMIT and name)
            ):
                raise Revert("RegistryUnusedArgument", action)
        if action == Action.ADMIT:
            self._check_admit(target, role, name)
        elif action == Action.CHANGE_ROLE:
            self._check_change_role(target, role)
            if at_creation and self.members[target].role == Role.GOVERNOR:
                self._check_governor_leaving(target)
        elif action == Action.SUSPEND:
            self._check_status(target, active)
            if at_creation:
                self._check_governor_leaving(target)
        elif action == Action.REINSTATE:
            self._check_status(target, suspended)
        elif action == Action.REMOVE:
            self._check_status(target, active, suspended)
            if at_creation:
                self._check_governor_leaving(target)
        elif action == Action.SET_THRESHOLD:
            self._check_threshold(value)
            if at_creation and value == self.threshold:
                raise Revert("RegistryThresholdUnchanged", value)
        elif action in (Action.PAUSE, Action.UNPAUSE):
            if self.paused == (action == Action.PAUSE):
                raise Revert("RegistryPauseUnchanged", self.paused)
        else:
            raise Revert("RegistryInvalidAction")

    def _check_admit(self, target: str, role: Role, name: str) -> None:
        if target == ZERO_ADDRESS:
            raise Revert("RegistryZeroAddress")
        if self.status(target) != MemberStatus.NONE:
            raise Revert("RegistryMemberExists", target, self.status(target))
        if role == Role.NONE:
            raise Revert("RegistryInvalidRole", role)
        if not 1 <= len(name.encode()) <= 64:
            raise Revert("RegistryInvalidName")

    def _check_change_role(self, target: str, role: Role) -> None:
        if role == Role.NONE:
            raise Revert("RegistryInvalidRole", role)
        self._check_status(target, MemberStatus.ACTIVE, MemberStatus.SUSPENDED)
        if self.members[target].role == role:
            raise Revert("RegistryRoleUnchanged", target, role)

    def _check_governor_leaving(self, account: str) -> None:
        """A proposal that would leave fewer active governors than the threshold is refused at creation."""
        m = self.members.get(account)
        count = len(self.active_governors())
        if m and m.role == Role.GOVERNOR and m.status == MemberStatus.ACTIVE and count - 1 < self.threshold:
            raise Revert("RegistryInvalidThreshold", self.threshold, count - 1)

    def _check_threshold(self, value: int) -> None:
        count = len(self.active_governors())
        if value == 0 or value > count:
            raise Revert("RegistryInvalidThreshold", value, count)

    def _execute(self, p: ProposalModel) -> None:
        """Apply an approved action; re-checked because the state may have moved since creation."""
        self._validate(p.action, p.target, p.role, p.value, p.name)
        before = len(self.active_governors())
        if p.action == Action.ADMIT:
            self.members[p.target] = MemberModel(p.role, MemberStatus.ACTIVE, p.name)
        elif p.action == Action.CHANGE_ROLE:
            self.members[p.target].role = p.role
        elif p.action == Action.SUSPEND:
            self.members[p.target].status = MemberStatus.SUSPENDED
        elif p.action == Action.REINSTATE:
            self.members[p.target].status = MemberStatus.ACTIVE
        elif p.action == Action.REMOVE:
            self.members[p.target].status = MemberStatus.REMOVED
        elif p.action == Action.SET_THRESHOLD:
            self.threshold = p.value
            self.epoch += 1
            self.change_log.append("epoch")
        else:
            self.paused = p.action == Action.PAUSE
            self.pause_epoch += 1
            self.change_log.append("pause")
        if Action.ADMIT <= p.action <= Action.REMOVE:  # every member action changes its target
            self.versions[p.target] = self.versions.get(p.target, 0) + 1
            self.change_log.append(p.target)
        # Any change to the active governor set advances the epoch, unless it would break the threshold.
        after = len(self.active_governors())
        if after != before:
            if after < self.threshold:
                raise Revert("RegistryInvalidThreshold", self.threshold, after)
            self.epoch += 1
            self.change_log.append("epoch")


@dataclass(frozen=True)
class ChainState:
    """Everything the registry exposes for the pool, read in one JSON-RPC batch."""

    threshold: int
    active_governors: int
    epoch: int
    paused: bool
    proposal_count: int
    lifetime: int
    pause_epoch: int
    members: tuple[tuple[Any, ...], ...]  # (role, status, since, name) per pool address
    versions: tuple[int, ...]  # memberVersion per pool address
    proposals: tuple[tuple[Any, ...], ...]  # proposal(1 ..= known + 1)


class RegistryMachine(RuleBasedStateMachine):
    def __init__(self, consortium: Consortium, pool: list[LocalAccount]) -> None:
        super().__init__()
        self.w3: Web3 = consortium.w3
        self.registry = consortium.registry
        self.pool = [a.address for a in pool]
        self.txs = {a.address: consortium.tx(a) for a in pool}
        self.model = Model(
            members={
                a: MemberModel(Role.GOVERNOR, MemberStatus.ACTIVE, f"Governor {i + 1}")
                for i, a in enumerate(self.pool[:BOOTSTRAP_GOVERNORS])
            },
            threshold=BOOTSTRAP_THRESHOLD,
            epoch=BOOTSTRAP_GOVERNORS + 1,
            versions={a: 1 for a in self.pool[:BOOTSTRAP_GOVERNORS]},
        )
        self.snapshot_id: str | None = None
        self.state: ChainState | None = None
        self.focus: int | None = None  # proposal touched by the last step
        self.focus_approved: tuple[bool, ...] = ()
        self.ever_removed: set[str] = set()

    # -- chain access

    def read(self) -> ChainState:
        f = self.registry.functions
        known = len(self.model.proposals)
        with self.w3.batch_requests() as batch:
            for fn in (
                f.threshold,
                f.activeGovernors,
                f.governanceEpoch,
                f.paused,
                f.proposalCount,
                f.proposalLifetime,
                f.pauseEpoch,
            ):
                batch.add(fn())
            for a in self.pool:
                batch.add(f.member(a))
            for a in self.pool:
                batch.add(f.memberVersion(a))
            for pid in range(1, known + 2):
                batch.add(f.proposal(pid))
            if self.focus is not None:
                for a in self.pool:
                    batch.add(f.hasApproved(self.focus, a))
            results: list[Any] = list(batch.execute())
        n = len(self.pool)
        members, results = results[7 : 7 + 2 * n], [*results[:7], *results[7 + 2 * n :]]
        self.focus_approved = tuple(results[7 + known + 1 :])
        return ChainState(
            *results[:7],
            members=tuple(tuple(m) for m in members[:n]),
            versions=tuple(int(v) for v in members[n:]),
            proposals=tuple(tuple(p) for p in results[7 : 7 + known + 1]),
        )

    def step(self, label: str, send: Callable[[], Any], predict: Callable[[Model], None], focus: int | None) -> None:
        """Run one transaction, check it against the model's prediction, commit the model on success."""
        trial = copy.deepcopy(self.model)
        expected: Revert | None = None
        try:
            predict(trial)
        except Revert as exc:
            expected = exc
        got: ContractRevert | None = None
        try:
            send()
        except ContractRevert as exc:
            got = exc
        if expected is None:
            assert got is None, f"{label}: model expected success, chain reverted with {got}"
            self.model = trial
        else:
            assert got is not None, f"{label}: model expected {expected}, chain accepted it"
            assert (got.name, tuple(got.args_)) == (expected.name, expected.args_), f"{label}: {got} != {expected}"
        before = self.state
        self.focus = focus
        self.state = self.read()
        if expected is not None:
            assert self.state == before, f"{label}: reverted with {got} but the registry changed"
        # Rules may send several transactions; check the invariants after each one, not only after the rule.
        self.registry_matches_model()
        self.removed_never_comes_back()
        self.no_replayed_execution()

    def caller(self, data: st.DataObject) -> str:
        """Mostly an active governor, otherwise anyone from the pool (often not allowed)."""
        candidates = self.model.active_governors() if data.draw(st.integers(0, 3), label="bias") < 3 else self.pool
        return data.draw(st.sampled_from(candidates), label="caller")

    def propose(
        self,
        data: st.DataObject,
        action: Action,
        target: str = ZERO_ADDRESS,
        role: Role = Role.NONE,
        value: int = 0,
        name: str = "",
    ) -> None:
        who = self.caller(data)
        fn = self.registry.functions.propose(int(action), target, int(role), value, name)
        label = f"propose({action.name}, {target}, {role.name}, {value}, {name!r}) by {who}"
        self.step(
            label,
            lambda: self.txs[who].transact(fn),
            lambda m: m.propose(who, action, target, role, value, name),
            len(self.model.proposals) + 1,
        )

    def approve(self, who: str, pid: int) -> None:
        fn = self.registry.functions.approve(pid)
        self.step(f"approve({pid}) by {who}", lambda: self.txs[who].transact(fn), lambda m: m.approve(who, pid), pid)

    # -- lifecycle

    @initialize()
    def start(self) -> None:
        self.snapshot_id = self.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
        self.state = self.read()

    def teardown(self) -> None:
        if self.snapshot_id is not None:
            reverted = self.w3.provider.make_request("evm_revert", [self.snapshot_id])  # type: ignore[arg-type]
            assert reverted["result"] is True, reverted
        for tx in self.txs.values():
            tx.resync_nonce()  # the revert rolled the nonces back

    # -- rules

    def target(self, data: st.DataObject, *statuses: MemberStatus) -> str:
        """Mostly an address whose status fits the action, otherwise any pool address or the zero address."""
        fitting = [a for a in self.pool if self.model.status(a) in statuses]
        if not fitting or data.draw(st.integers(0, 3), label="bias") == 3:
            fitting = [*self.pool, ZERO_ADDRESS]
        return data.draw(st.sampled_from(fitting), label="target")

    @rule(data=st.data(), role=st.sampled_from(list(Role)), name=st.sampled_from(NAMES))
    def admit(self, data: st.DataObject, role: Role, name: str) -> None:
        self.propose(data, Action.ADMIT, self.target(data, MemberStatus.NONE), role, name=name)

    @rule(data=st.data(), role=st.sampled_from(list(Role)))
    def change_role(self, data: st.DataObject, role: Role) -> None:
        target = self.target(data, MemberStatus.ACTIVE, MemberStatus.SUSPENDED)
        self.propose(data, Action.CHANGE_ROLE, target, role)

    @rule(data=st.data(), action=st.sampled_from([Action.SUSPEND, Action.REINSTATE, Action.REMOVE]))
    def suspend_reinstate_or_remove(self, data: st.DataObject, action: Action) -> None:
        fits = {
            Action.SUSPEND: (MemberStatus.ACTIVE,),
            Action.REINSTATE: (MemberStatus.SUSPENDED,),
            Action.REMOVE: (MemberStatus.ACTIVE, MemberStatus.SUSPENDED),
        }[action]
        self.propose(data, action, self.target(data, *fits))

    @rule(data=st.data(), value=st.integers(0, POOL_SIZE))
    def set_threshold(self, data: st.DataObject, value: int) -> None:
        self.propose(data, Action.SET_THRESHOLD, value=value)

    @rule(data=st.data(), action=st.sampled_from([Action.PAUSE, Action.UNPAUSE, Action.NONE]))
    def pause_unpause_or_none(self, data: st.DataObject, action: Action) -> None:
        self.propose(data, action)

    def open_votes(self) -> list[tuple[int, str]]:
        """(proposal, governor) pairs where the approval passes every check before execution."""
        m = self.model
        return [
            (pid, g)
            for pid, p in m.proposals.items()
            if m.is_fresh(p)
            for g in m.active_governors()
            if g not in p.approvals
        ]

    @precondition(lambda self: bool(self.open_votes()))
    @rule(data=st.data())
    def approve_open(self, data: st.DataObject) -> None:
        """A fresh vote on an open proposal: it counts, and may execute (or revert at execution)."""
        pid, governor = data.draw(st.sampled_from(self.open_votes()), label="vote")
        self.approve(governor, pid)

    @precondition(lambda self: bool(self.open_votes()))
    @rule(data=st.data())
    def approve_until_executed(self, data: st.DataObject) -> None:
        """Governors in random order vote on one open proposal until it executes or a vote reverts."""
        pid = data.draw(st.sampled_from(sorted({pid for pid, _ in self.open_votes()})), label="proposal")
        voters = data.draw(st.permutations([g for p, g in self.open_votes() if p == pid]), label="voters")
        for governor in voters:
            proposals_before = self.model.proposals
            self.approve(governor, pid)
            if self.model.proposals is proposals_before or self.model.proposals[pid].executed:
                break  # reverted (model unchanged) or executed

    @precondition(lambda self: bool(self.open_votes()))
    @rule(data=st.data())
    def approve_open_by_anyone(self, data: st.DataObject) -> None:
        """Any pool member votes on an open proposal: non-governors and repeat voters must be refused."""
        pid = data.draw(st.sampled_from(sorted({pid for pid, _ in self.open_votes()})), label="proposal")
        self.approve(self.caller(data), pid)

    @rule(data=st.data())
    def approve_any(self, data: st.DataObject) -> None:
        """Any caller on any id, including 0, executed, stale and never-created proposals."""
        pid = data.draw(st.integers(0, len(self.model.proposals) + 1), label="proposal")
        self.approve(self.caller(data), pid)

    # -- invariants

    @invariant()
    def registry_matches_model(self) -> None:
        s, m = self.state, self.model
        assert s is not None
        assert 1 <= s.threshold <= s.active_governors
        on_chain_governors = sum(
            1 for role, status, _, _ in s.members if role == Role.GOVERNOR and status == MemberStatus.ACTIVE
        )
        assert s.active_governors == on_chain_governors == len(m.active_governors())
        assert (s.threshold, s.epoch, s.paused, s.proposal_count, s.lifetime, s.pause_epoch) == (
            m.threshold,
            m.epoch,
            m.paused,
            len(m.proposals),
            LIFETIME,
            m.pause_epoch,
        )
        assert s.versions == tuple(m.versions.get(a, 0) for a in self.pool)
        for address, (role, status, since, name) in zip(self.pool, s.members, strict=True):
            expected = m.members.get(address, MemberModel(Role.NONE, MemberStatus.NONE, ""))
            assert (role, status, name) == (expected.role, expected.status, expected.name), address
            assert (since == 0) == (status == MemberStatus.NONE)
        for pid, chain in enumerate(s.proposals, start=1):
            p = m.proposals.get(pid)
            if p is None:
                assert chain == (Action.NONE, Role.NONE, False, 0, 0, 0, 0, ZERO_ADDRESS, 0, ZERO_ADDRESS, 0, "")
                continue
            action, role, executed, approvals, expires_at, *rest = chain
            assert (action, role, executed, approvals, *rest) == (
                p.action,
                p.role,
                p.executed,
                len(p.approvals),
                p.epoch,
                p.pause_epoch,
                p.target,
                p.target_version,
                p.proposer,
                p.value,
                p.name,
            ), pid
            assert expires_at > 0
        if self.focus is not None and self.focus in m.proposals:
            approvers = m.proposals[self.focus].approvals
            assert self.focus_approved == tuple(a in approvers for a in self.pool)

    @invariant()
    def no_replayed_execution(self) -> None:
        """Every executed proposal had `threshold`-many approvals, none given before the last change relevant to
        it (counted from the model's change log, not from the staleness rules)."""
        for pid, approvals, stale in self.model.executions:
            assert stale == 0, f"proposal {pid} executed with {stale} of {approvals} approvals from before a change"

    @invariant()
    def removed_never_comes_back(self) -> None:
        assert self.state is not None
        for address, (_, status, _, _) in zip(self.pool, self.state.members, strict=True):
            if address in self.ever_removed:
                assert status == MemberStatus.REMOVED, f"{address} came back as {MemberStatus(status).name}"
            elif status == MemberStatus.REMOVED:
                self.ever_removed.add(address)


def test_registry_random_governance_keeps_invariants(w3: Web3, accounts: list[LocalAccount]) -> None:
    pool = accounts[:POOL_SIZE]
    consortium = Consortium.deploy(
        w3, accounts, governors=pool[:BOOTSTRAP_GOVERNORS], threshold=BOOTSTRAP_THRESHOLD, lifetime=LIFETIME
    )
    run_state_machine_as_test(lambda: RegistryMachine(consortium, pool), settings=SETTINGS)
