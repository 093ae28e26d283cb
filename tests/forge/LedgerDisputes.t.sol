// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ConsortiumRegistry} from "../../contracts/ConsortiumRegistry.sol";
import {CreditLedger} from "../../contracts/CreditLedger.sol";
import {IConsortiumRegistry} from "../../contracts/interfaces/IConsortiumRegistry.sol";
import {ICreditLedger} from "../../contracts/interfaces/ICreditLedger.sol";
import {ForgeTest} from "./Vm.sol";

/// @notice The dispute quota: any active lender opens disputes on any lender's records, at most
/// MAX_DISPUTES_PER_DAY per UTC day, and the counts it carries are exact.
contract LedgerDisputesTest is ForgeTest {
    address internal constant RECORDER = address(0x1E4D);
    address internal constant OTHER = address(0x2E4D);
    /// 2026-06-15 12:00 UTC.
    uint256 internal constant NOW = 1_781_524_800;

    ConsortiumRegistry internal registry;
    CreditLedger internal ledger;

    function setUp() public {
        vm.warp(NOW);
        address[] memory governors = new address[](1);
        governors[0] = address(this);
        string[] memory names = new string[](1);
        names[0] = "Governor";
        registry = new ConsortiumRegistry(governors, names, 1, 1 days);
        registry.propose(IConsortiumRegistry.Action.Admit, RECORDER, IConsortiumRegistry.Role.Lender, 0, "Recorder");
        registry.propose(IConsortiumRegistry.Action.Admit, OTHER, IConsortiumRegistry.Role.Lender, 0, "Other");
        ledger = new CreditLedger(IConsortiumRegistry(address(registry)));
    }

    function test_anyLenderOpensUpToTheDailyQuotaThenReverts() public {
        uint32 max = ledger.MAX_DISPUTES_PER_DAY();
        for (uint256 i = 0; i < max; ++i) {
            vm.prank(OTHER);
            ledger.openDispute(RECORDER, bytes32(i + 1), bytes32(uint256(0xab)));
        }
        (uint32 today, uint64 total) = ledger.disputesOpenedBy(OTHER);
        vm.assertEq(today, max, "today's count");
        vm.assertEq(total, max, "total count");
        vm.prank(OTHER);
        (bool ok, bytes memory reason) = address(ledger).call(
            abi.encodeCall(ICreditLedger.openDispute, (RECORDER, bytes32(uint256(max) + 1), bytes32(uint256(0xab))))
        );
        vm.assertFalse(ok, "past the quota");
        vm.assertEq(
            reason,
            abi.encodeWithSelector(ICreditLedger.LedgerDisputeQuotaExceeded.selector, OTHER, uint256(max)),
            "the quota's error"
        );
        vm.warp(NOW + 1 days);
        vm.prank(OTHER);
        ledger.openDispute(RECORDER, bytes32(uint256(max) + 1), bytes32(uint256(0xab)));
        (today, total) = ledger.disputesOpenedBy(OTHER);
        vm.assertEq(today, 1, "a new day starts from one");
        vm.assertEq(total, uint256(max) + 1, "the total keeps counting");
    }

    function test_onlyTheRecorderOrAGovernorResolves() public {
        vm.prank(OTHER);
        ledger.openDispute(RECORDER, bytes32(uint256(7)), bytes32(uint256(0xab)));
        vm.prank(OTHER);
        (bool ok, bytes memory reason) = address(ledger).call(
            abi.encodeCall(
                ICreditLedger.resolveDispute,
                (RECORDER, bytes32(uint256(7)), ICreditLedger.DisputeOutcome.Upheld, bytes32(uint256(1)))
            )
        );
        vm.assertFalse(ok, "the opener may not resolve another lender's record");
        vm.assertEq(reason, abi.encodeWithSelector(ICreditLedger.LedgerNotDisputeParty.selector, OTHER), "error");
        vm.prank(RECORDER);
        ledger.resolveDispute(RECORDER, bytes32(uint256(7)), ICreditLedger.DisputeOutcome.Upheld, bytes32(uint256(1)));
        vm.assertFalse(ledger.isDisputed(RECORDER, bytes32(uint256(7))), "closed");
    }

    function test_openingNeedsTheObjectionsHash() public {
        vm.prank(OTHER);
        (bool ok, bytes memory reason) =
            address(ledger).call(abi.encodeCall(ICreditLedger.openDispute, (RECORDER, bytes32(uint256(7)), bytes32(0))));
        vm.assertFalse(ok, "no objection hash");
        vm.assertEq(reason, abi.encodeWithSelector(ICreditLedger.LedgerDisputeMissingHash.selector), "error");
    }
}
