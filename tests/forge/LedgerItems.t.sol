// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ConsortiumRegistry} from "../../contracts/ConsortiumRegistry.sol";
import {CreditLedger} from "../../contracts/CreditLedger.sol";
import {IConsortiumRegistry} from "../../contracts/interfaces/IConsortiumRegistry.sol";
import {ICreditLedger} from "../../contracts/interfaces/ICreditLedger.sol";
import {ItemModel} from "./ItemModel.sol";
import {ForgeTest, Vm} from "./Vm.sol";

/// @notice Fuzz tests of the ledger's item decoder and validator: whatever four words a member sends, the ledger
/// either reverts with exactly the declared error ItemModel predicts (and records nothing), or records the item
/// with exactly the event its type byte names, carrying the words unchanged.
contract LedgerItemsTest is ForgeTest {
    address internal constant LENDER = address(0x1E4D);
    /// 2026-06-15 12:00 UTC (day 20,619): the latest day accepted is 20,620.
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
        registry.propose(IConsortiumRegistry.Action.Admit, LENDER, IConsortiumRegistry.Role.Lender, 0, "Lender");
        ledger = new CreditLedger(IConsortiumRegistry(address(registry)));
    }

    // ------------------------------------------------------------------ fuzz tests

    /// forge-config: default.fuzz.runs = 2048
    function testFuzz_anyWordsRevertWithTheirErrorOrEmitTheirEvent(bytes32[4] memory item) public {
        _checkBatch(_one(item));
    }

    /// forge-config: default.fuzz.runs = 4096
    function testFuzz_shapedItemRevertsWithItsErrorOrEmitsItsEvent(uint256 seed) public {
        _checkBatch(_one(ItemModel.shaped(seed, _latestDay())));
    }

    /// forge-config: default.fuzz.runs = 1024
    function testFuzz_batchReportsItsFirstBadItem(uint256 seedA, uint256 seedB, uint256 seedC) public {
        bytes32[4][] memory items = new bytes32[4][](3);
        uint256 latest = _latestDay();
        items[0] = ItemModel.shaped(seedA, latest);
        items[1] = ItemModel.shaped(seedB, latest);
        items[2] = ItemModel.shaped(seedC, latest);
        _checkBatch(items);
    }

    /// forge-config: default.fuzz.runs = 1024
    function testFuzz_dayLimitFollowsTheBlockClock(uint256 timestamp, uint256 seed) public {
        vm.warp(bound(timestamp, 631_152_000, 4_102_444_800)); // 1990-01-01 .. 2100-01-01
        _checkBatch(_one(ItemModel.shaped(seed, _latestDay())));
    }

    /// forge-config: default.fuzz.runs = 1024
    function testFuzz_correctionItemRevertsWithItsErrorOrEmitsItsEvent(uint256 seed) public {
        bytes32[4] memory original; // a LoanOpened of 500 fen on day 20,000
        original[0] = bytes32(uint256(1));
        original[1] = bytes32(uint256(2));
        original[2] = keccak256(abi.encode("original", seed));
        original[3] = bytes32((uint256(1) << 248) | (uint256(20_000) << 216) | (uint256(500) << 152));
        _checkBatch(_one(original)); // recorded as batch 0
        bytes32[] memory hashes = new bytes32[](1);
        hashes[0] = original[2];
        ICreditLedger.RecordRef memory ref = ICreditLedger.RecordRef(LENDER, 0, 0, hashes);

        bytes32[4] memory item = ItemModel.shaped(seed, _latestDay());
        bytes memory want = ItemModel.expectedRevert(0, item, false, _latestDay());
        vm.recordLogs();
        vm.prank(LENDER);
        (bool ok, bytes memory got) = address(ledger).call(abi.encodeCall(ledger.correctRecord, (1, ref, item)));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        if (want.length != 0) {
            vm.assertFalse(ok, "correction recorded an item the model refuses");
            vm.assertEq(got, want, "wrong revert data");
            vm.assertEq(ledger.nextSequence(LENDER), 1, "a refused correction used a sequence number");
            return;
        }
        vm.assertTrue(ok, string(got));
        vm.assertEq(logs.length, 3, "CreditEventRecorded, CreditEventCorrected, BatchRecorded");
        _checkItemLog(logs[0], item);
        vm.assertEq(logs[1].topics[0], ICreditLedger.CreditEventCorrected.selector, "CreditEventCorrected");
        vm.assertEq(logs[1].topics[2], original[2], "corrected the original");
        vm.assertEq(ledger.nextSequence(LENDER), 2, "a correction is a batch");
    }

    /// @notice The shaped items reach every outcome often (each error, and a recorded item of each type), so the
    /// fuzz tests above exercise every rule both ways.
    function test_shapedItemsReachEveryOutcome() public pure {
        bytes4[6] memory errors = [
            ICreditLedger.LedgerZeroKey.selector,
            ICreditLedger.LedgerUnknownItemType.selector,
            ICreditLedger.LedgerInvalidDay.selector,
            ICreditLedger.LedgerInvalidAmounts.selector,
            ICreditLedger.LedgerNonZeroPadding.selector,
            ICreditLedger.LedgerInvalidPurpose.selector
        ];
        uint256[6] memory refused;
        uint256[17] memory recorded; // by type byte
        uint256 samples = 4096;
        for (uint256 seed = 0; seed < samples; ++seed) {
            bytes32[4] memory item = ItemModel.shaped(seed, 20_620);
            bytes memory want = ItemModel.expectedRevert(0, item, true, 20_620);
            if (want.length == 0) ++recorded[uint8(uint256(item[3]) >> 248)];
            for (uint256 k = 0; k < errors.length; ++k) {
                if (want.length != 0 && bytes4(want) == errors[k]) ++refused[k];
            }
        }
        for (uint256 k = 0; k < errors.length; ++k) {
            vm.assertGe(refused[k] * 100, samples, "each error in at least 1% of shaped items");
        }
        for (uint256 t = 1; t <= 16; t = t == 6 ? 16 : t + 1) {
            vm.assertGe(recorded[t] * 100, samples, "a recorded item of each type in at least 1% of shaped items");
        }
    }

    // ------------------------------------------------------------------ helpers

    function _latestDay() internal view returns (uint256) {
        return block.timestamp / 1 days + 1;
    }

    function _one(bytes32[4] memory item) internal pure returns (bytes32[4][] memory items) {
        items = new bytes32[4][](1);
        items[0] = item;
    }

    /// @dev Sends `items` as one batch from the lender and checks the outcome against ItemModel.
    function _checkBatch(bytes32[4][] memory items) internal {
        uint256 latest = _latestDay();
        bytes memory want;
        for (uint256 i = 0; i < items.length && want.length == 0; ++i) {
            want = ItemModel.expectedRevert(i, items[i], true, latest);
        }
        bytes32[] memory words = new bytes32[](items.length * 4);
        for (uint256 i = 0; i < items.length; ++i) {
            for (uint256 w = 0; w < 4; ++w) {
                words[i * 4 + w] = items[i][w];
            }
        }
        uint64 seq = ledger.nextSequence(LENDER);
        // (Recorded logs include those of a call that then reverted: the EVM drops them, the recorder does not.)
        vm.recordLogs();
        vm.prank(LENDER);
        (bool ok, bytes memory got) = address(ledger).call(abi.encodeCall(ledger.recordBatch, (seq, words)));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        if (want.length != 0) {
            vm.assertFalse(ok, "recorded a batch the model refuses");
            vm.assertEq(got, want, "wrong revert data");
            vm.assertEq(ledger.nextSequence(LENDER), seq, "a refused batch used a sequence number");
            return;
        }
        vm.assertTrue(ok, string(got));
        vm.assertEq(logs.length, items.length + 1, "one log per item and the batch");
        bytes32[] memory hashes = new bytes32[](items.length);
        for (uint256 i = 0; i < items.length; ++i) {
            _checkItemLog(logs[i], items[i]);
            if (uint8(uint256(items[i][3]) >> 248) != ItemModel.INQUIRY) hashes[i] = items[i][2];
        }
        Vm.Log memory batch = logs[items.length];
        vm.assertEq(batch.topics[0], ICreditLedger.BatchRecorded.selector, "BatchRecorded");
        vm.assertEq(batch.topics[1], bytes32(uint256(uint160(LENDER))), "batch lender");
        vm.assertEq(batch.topics[2], bytes32(uint256(seq)), "batch seq");
        vm.assertEq(batch.data, abi.encode(items.length, keccak256(abi.encodePacked(hashes))), "batch data");
        vm.assertEq(ledger.nextSequence(LENDER), seq + 1, "an accepted batch advances the sequence by one");
    }

    /// @dev `log` is exactly the event `item`'s type byte names, from the ledger, with the item's words.
    function _checkItemLog(Vm.Log memory log, bytes32[4] memory item) internal view {
        bool inquiry = uint8(uint256(item[3]) >> 248) == ItemModel.INQUIRY;
        bytes32 topic = inquiry ? ICreditLedger.InquiryRecorded.selector : ICreditLedger.CreditEventRecorded.selector;
        vm.assertEq(log.emitter, address(ledger), "emitter");
        vm.assertEq(log.topics.length, 4, "LOG4");
        vm.assertEq(log.topics[0], topic, "event named by the type byte");
        vm.assertEq(log.topics[1], item[0], "subject key");
        vm.assertEq(log.topics[2], bytes32(uint256(uint160(LENDER))), "lender");
        vm.assertEq(log.topics[3], item[2], "record hash");
        vm.assertEq(log.data, abi.encode(item[1], item[3]), "key and data word");
    }
}
