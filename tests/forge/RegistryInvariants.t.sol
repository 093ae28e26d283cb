// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ConsortiumRegistry} from "../../contracts/ConsortiumRegistry.sol";
import {IConsortiumRegistry} from "../../contracts/interfaces/IConsortiumRegistry.sol";
import {ForgeTest, Vm} from "./Vm.sol";

/// @notice Drives the registry with random governance from a pool of nine addresses (five bootstrap governors,
/// threshold 3) and keeps, from the registry's own events, an independent record of every change: when the
/// governor set or threshold last changed, when the pause state last changed, when each member last changed, and
/// when each approval was given. At each execution it checks the approvals against that record.
contract RegistryHandler is ForgeTest {
    using ActionOf for IConsortiumRegistry.Action;

    ConsortiumRegistry public immutable registry;
    address[] public actors;

    /// Handler calls so far; the ghost times below are in these steps.
    uint256 public step;
    uint256 public lastGovernorChange; // governor set or threshold
    uint256 public lastPauseChange;
    mapping(address member => uint256 step) public lastMemberChange;

    mapping(uint256 proposalId => IConsortiumRegistry.Action) public actionOf;
    mapping(uint256 proposalId => address) public targetOf;
    mapping(uint256 proposalId => address[]) internal _approvers;
    mapping(uint256 proposalId => mapping(address governor => uint256 step)) public approvedAt;
    mapping(uint256 proposalId => uint256) public executions;

    uint256 public executed;
    uint256 public maxExecutions;

    /// Executions that broke a rule (each must stay zero).
    uint256 public executedWithStaleApproval;
    uint256 public executedWithInactiveApprover;
    uint256 public executedUnderThreshold;

    constructor(ConsortiumRegistry registry_, address[] memory actors_) {
        registry = registry_;
        actors = actors_;
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    // ------------------------------------------------------------------ actions (called by the fuzzer)

    /// Proposes an action (mostly by an active governor, on a pool address, with the arguments it uses).
    function propose(uint256 actorSeed, uint256 seed) external {
        uint256 r = uint256(keccak256(abi.encode(seed, "propose")));
        // Weighted towards the actions whose old votes could be replayed: pause state and member status.
        IConsortiumRegistry.Action[12] memory actions = [
            IConsortiumRegistry.Action.Admit,
            IConsortiumRegistry.Action.ChangeRole,
            IConsortiumRegistry.Action.Suspend,
            IConsortiumRegistry.Action.Suspend,
            IConsortiumRegistry.Action.Reinstate,
            IConsortiumRegistry.Action.Reinstate,
            IConsortiumRegistry.Action.Remove,
            IConsortiumRegistry.Action.SetThreshold,
            IConsortiumRegistry.Action.Pause,
            IConsortiumRegistry.Action.Pause,
            IConsortiumRegistry.Action.Unpause,
            IConsortiumRegistry.Action.Unpause
        ];
        IConsortiumRegistry.Action action = actions[r % actions.length];
        bool usesRole = action == IConsortiumRegistry.Action.Admit || action == IConsortiumRegistry.Action.ChangeRole;
        address target = action.usesTarget() ? actors[(r >> 8) % actors.length] : address(0);
        IConsortiumRegistry.Role role =
            usesRole ? IConsortiumRegistry.Role(1 + (r >> 16) % 3) : IConsortiumRegistry.Role.None;
        uint256 value = action == IConsortiumRegistry.Action.SetThreshold ? 1 + (r >> 24) % 6 : 0;
        string memory name = action == IConsortiumRegistry.Action.Admit ? "Member" : "";
        _send(_governor(actorSeed), abi.encodeCall(registry.propose, (action, target, role, value, name)));
    }

    function approve(uint256 actorSeed, uint256 proposalSeed) external {
        uint256 count = registry.proposalCount();
        if (count == 0) return;
        proposalSeed = uint256(keccak256(abi.encode(proposalSeed, "approve")));
        // Any proposal: old ones with approvals are what a replay would use (executed, expired, stale included).
        uint256 id = 1 + proposalSeed % count;
        address voter = _governor(actorSeed);
        for (uint256 i = 1; i <= actors.length && registry.hasApproved(id, voter); ++i) {
            unchecked {
                voter = _governor(actorSeed + i); // the next governor that has not approved, if any
            }
        }
        _send(voter, abi.encodeCall(registry.approve, (id)));
    }

    /// Approves the newest proposal that has not executed (most executions come from here), twice if `twice`.
    function approveNewest(uint256 actorSeed, bool twice) external {
        uint256 id = registry.proposalCount();
        while (id > 0 && registry.proposal(id).executed) --id;
        if (id == 0) return;
        for (uint256 n = twice ? 2 : 1; n > 0; --n) {
            address voter = _governor(actorSeed);
            for (uint256 i = 1; i <= actors.length && registry.hasApproved(id, voter); ++i) {
                unchecked {
                    voter = _governor(actorSeed + i);
                }
            }
            _send(voter, abi.encodeCall(registry.approve, (id)));
        }
    }

    /// Moves the clock (proposals live one day).
    function warp(uint256 secondsSeed) external {
        vm.warp(block.timestamp + bound(secondsSeed, 1, 2 days));
    }

    // ------------------------------------------------------------------ bookkeeping

    /// @dev Mostly an active governor, sometimes any actor (who may not be one). The seed is hashed first: the
    /// fuzzer favours small and repeated values, which would otherwise pick the same branch again and again.
    function _governor(uint256 seed) internal view returns (address) {
        seed = uint256(keccak256(abi.encode(seed)));
        if (seed % 8 == 0) return actors[(seed >> 3) % actors.length];
        for (uint256 i = 0; i < actors.length; ++i) {
            address a = actors[(seed % actors.length + i) % actors.length];
            if (registry.isActive(a, IConsortiumRegistry.Role.Governor)) return a;
        }
        return actors[0];
    }

    function _send(address caller, bytes memory call) internal {
        ++step;
        uint256 thresholdBefore = registry.threshold();
        bool[] memory governorBefore = new bool[](actors.length);
        for (uint256 i = 0; i < actors.length; ++i) {
            governorBefore[i] = registry.isActive(actors[i], IConsortiumRegistry.Role.Governor);
        }
        vm.recordLogs();
        vm.prank(caller);
        (bool ok,) = address(registry).call(call);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        if (!ok) return;
        // First what the transaction approved and executed, checked against the changes before it...
        for (uint256 i = 0; i < logs.length; ++i) {
            bytes32 topic = logs[i].topics[0];
            if (topic == IConsortiumRegistry.ProposalCreated.selector) {
                uint256 id = uint256(logs[i].topics[1]);
                (IConsortiumRegistry.Action action,,,,) = abi.decode(
                    logs[i].data, (IConsortiumRegistry.Action, IConsortiumRegistry.Role, uint256, string, uint64)
                );
                actionOf[id] = action;
                targetOf[id] = address(uint160(uint256(logs[i].topics[3])));
            } else if (topic == IConsortiumRegistry.ProposalApproved.selector) {
                uint256 id = uint256(logs[i].topics[1]);
                address governor = address(uint160(uint256(logs[i].topics[2])));
                approvedAt[id][governor] = step;
                _approvers[id].push(governor);
            } else if (topic == IConsortiumRegistry.ProposalExecuted.selector) {
                _checkExecution(uint256(logs[i].topics[1]), thresholdBefore, governorBefore);
            }
        }
        // ...then the changes it made.
        for (uint256 i = 0; i < logs.length; ++i) {
            _recordChange(logs[i]);
        }
    }

    function _checkExecution(uint256 id, uint256 thresholdBefore, bool[] memory governorBefore) internal {
        ++executed;
        uint256 times = ++executions[id];
        if (times > maxExecutions) maxExecutions = times;
        uint256 lastRelevant = lastGovernorChange;
        uint256 lastTarget = lastMemberChange[targetOf[id]];
        if (lastTarget > lastRelevant) lastRelevant = lastTarget;
        if (actionOf[id].isPauseAction() && lastPauseChange > lastRelevant) lastRelevant = lastPauseChange;
        address[] storage approvers = _approvers[id];
        if (approvers.length < thresholdBefore) ++executedUnderThreshold;
        bool stale;
        bool inactive;
        for (uint256 k = 0; k < approvers.length; ++k) {
            if (approvedAt[id][approvers[k]] <= lastRelevant) stale = true;
            if (!_wasGovernor(approvers[k], governorBefore)) inactive = true;
        }
        if (stale) ++executedWithStaleApproval;
        if (inactive) ++executedWithInactiveApprover;
    }

    function _wasGovernor(address account, bool[] memory governorBefore) internal view returns (bool) {
        for (uint256 i = 0; i < actors.length; ++i) {
            if (actors[i] == account) return governorBefore[i];
        }
        return false;
    }

    function _recordChange(Vm.Log memory log) internal {
        bytes32 topic = log.topics[0];
        if (topic == IConsortiumRegistry.ThresholdChanged.selector) {
            lastGovernorChange = step;
        } else if (topic == IConsortiumRegistry.Paused.selector || topic == IConsortiumRegistry.Unpaused.selector) {
            lastPauseChange = step;
        } else if (topic == IConsortiumRegistry.MemberAdmitted.selector) {
            address account = address(uint160(uint256(log.topics[1])));
            (IConsortiumRegistry.Role role,) = abi.decode(log.data, (IConsortiumRegistry.Role, string));
            lastMemberChange[account] = step;
            if (role == IConsortiumRegistry.Role.Governor) lastGovernorChange = step;
        } else if (topic == IConsortiumRegistry.MemberRoleChanged.selector) {
            address account = address(uint160(uint256(log.topics[1])));
            (IConsortiumRegistry.Role previous, IConsortiumRegistry.Role next) =
                abi.decode(log.data, (IConsortiumRegistry.Role, IConsortiumRegistry.Role));
            lastMemberChange[account] = step;
            bool active = registry.member(account).status == IConsortiumRegistry.MemberStatus.Active;
            if (active && (previous == IConsortiumRegistry.Role.Governor || next == IConsortiumRegistry.Role.Governor))
            {
                lastGovernorChange = step;
            }
        } else if (topic == IConsortiumRegistry.MemberStatusChanged.selector) {
            address account = address(uint160(uint256(log.topics[1])));
            (IConsortiumRegistry.MemberStatus previous, IConsortiumRegistry.MemberStatus next) =
                abi.decode(log.data, (IConsortiumRegistry.MemberStatus, IConsortiumRegistry.MemberStatus));
            lastMemberChange[account] = step;
            bool wasActive = previous == IConsortiumRegistry.MemberStatus.Active;
            bool isActive = next == IConsortiumRegistry.MemberStatus.Active;
            if (registry.member(account).role == IConsortiumRegistry.Role.Governor && wasActive != isActive) {
                lastGovernorChange = step;
            }
        }
    }
}

library ActionOf {
    function usesTarget(IConsortiumRegistry.Action action) internal pure returns (bool) {
        return action >= IConsortiumRegistry.Action.Admit && action <= IConsortiumRegistry.Action.Remove;
    }

    function isPauseAction(IConsortiumRegistry.Action action) internal pure returns (bool) {
        return action == IConsortiumRegistry.Action.Pause || action == IConsortiumRegistry.Action.Unpause;
    }
}

/// @notice Invariants of ConsortiumRegistry under random governance (256 runs of 64 calls each, foundry.toml),
/// from five bootstrap governors and a threshold each concrete suite below sets.
abstract contract RegistryInvariants is ForgeTest {
    ConsortiumRegistry internal registry;
    RegistryHandler internal handler;

    /// @dev The bootstrap threshold.
    function initialThreshold() internal pure virtual returns (uint256);

    function setUp() public {
        vm.warp(1_781_524_800);
        address[] memory actors = new address[](9);
        address[] memory governors = new address[](5);
        string[] memory names = new string[](5);
        for (uint256 i = 0; i < actors.length; ++i) {
            actors[i] = address(uint160(0xA000 + i));
            if (i < 5) {
                governors[i] = actors[i];
                names[i] = "Governor";
            }
        }
        registry = new ConsortiumRegistry(governors, names, initialThreshold(), 1 days);
        handler = new RegistryHandler(registry, actors);
    }

    /// @dev Only the handler is called by the fuzzer.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function invariant_thresholdBetweenOneAndActiveGovernors() public view {
        uint256 active;
        for (uint256 i = 0; i < handler.actorCount(); ++i) {
            if (registry.isActive(handler.actors(i), IConsortiumRegistry.Role.Governor)) ++active;
        }
        vm.assertEq(registry.activeGovernors(), active, "activeGovernors() counts the active governors");
        vm.assertGe(registry.threshold(), 1, "threshold >= 1");
        vm.assertLe(registry.threshold(), active, "threshold <= active governors");
    }

    function invariant_proposalExecutesAtMostOnce() public view {
        vm.assertLe(handler.maxExecutions(), 1, "a proposal executed twice");
    }

    function invariant_executedActionsHadThresholdFreshApprovalsFromActiveGovernors() public view {
        vm.assertEq(handler.executedUnderThreshold(), 0, "executed with fewer approvals than the threshold");
        vm.assertEq(handler.executedWithInactiveApprover(), 0, "executed with an approval of a non-governor");
        vm.assertEq(handler.executedWithStaleApproval(), 0, "executed with an approval older than a relevant change");
    }
}

/// @notice 2-of-5: every open proposal is one fresh vote from executing, the easiest ground for a replay.
contract RegistryInvariants2of5Test is RegistryInvariants {
    function initialThreshold() internal pure override returns (uint256) {
        return 2;
    }
}

/// @notice 3-of-5, the issue's scenario: two old votes plus one fresh one must never execute.
contract RegistryInvariants3of5Test is RegistryInvariants {
    function initialThreshold() internal pure override returns (uint256) {
        return 3;
    }
}
