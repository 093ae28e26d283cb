// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ConsortiumRegistry} from "../../contracts/ConsortiumRegistry.sol";
import {KeyShareDirectory} from "../../contracts/KeyShareDirectory.sol";
import {IConsortiumRegistry} from "../../contracts/interfaces/IConsortiumRegistry.sol";
import {IKeyShareDirectory} from "../../contracts/interfaces/IKeyShareDirectory.sol";
import {ForgeTest} from "./Vm.sol";

/// @notice Fuzz tests of KeyShareDirectory: whatever share set a governor sends, the directory either reverts with
/// exactly the error a model written from IKeyShareDirectory's rules predicts (and changes nothing), or makes exactly
/// that set current; and a holder's anchored sequence numbers only grow.
contract KeyShareDirectoryTest is ForgeTest {
    uint256 internal constant MAX_HOLDERS = 16;
    uint256 internal constant MAX_URL_LENGTH = 200;

    ConsortiumRegistry internal registry;
    KeyShareDirectory internal directory;

    function setUp() public {
        address[] memory governors = new address[](1);
        governors[0] = address(this);
        string[] memory names = new string[](1);
        names[0] = "Governor";
        registry = new ConsortiumRegistry(governors, names, 1, 1 days); // threshold 1: a valid approval activates
        directory = new KeyShareDirectory(IConsortiumRegistry(address(registry)));
    }

    // ------------------------------------------------------------------ fuzz tests

    /// forge-config: default.fuzz.runs = 1024
    function testFuzz_shapedSetRevertsWithItsErrorOrBecomesCurrent(uint256 seed) public {
        (uint64 version, uint16 t, bytes32 groupKey, IKeyShareDirectory.Holder[] memory holders) = _shaped(seed);
        bytes memory want = _expectedRevert(version, t, groupKey, holders);
        (bool ok, bytes memory got) =
            address(directory).call(abi.encodeCall(directory.approveShareSet, (version, t, groupKey, holders)));
        if (want.length != 0) {
            vm.assertFalse(ok, "accepted a set the model refuses");
            vm.assertEq(got, want, "wrong revert data");
            vm.assertEq(directory.currentVersion(), 0, "a refused set changed the version");
            return;
        }
        vm.assertTrue(ok, string(got));
        vm.assertEq(directory.currentVersion(), 1, "version");
        vm.assertEq(directory.threshold(), t, "threshold");
        vm.assertEq(directory.groupPublicKey(), groupKey, "group key");
        IKeyShareDirectory.Holder[] memory stored = directory.holders();
        vm.assertEq(stored.length, holders.length, "holder count");
        for (uint256 i = 0; i < holders.length; ++i) {
            vm.assertEq(abi.encode(stored[i]), abi.encode(holders[i]), "stored holder");
            vm.assertEq(directory.holderIndexOf(holders[i].account), holders[i].index, "holderIndexOf");
        }
    }

    /// forge-config: default.fuzz.runs = 512
    function testFuzz_anchoredSequenceOnlyGrows(uint64[8] memory seqs, uint256 zeroHeadMask) public {
        address holder = address(0xA11CE);
        IKeyShareDirectory.Holder[] memory holders = new IKeyShareDirectory.Holder[](1);
        holders[0] = IKeyShareDirectory.Holder(7, keccak256("pk"), holder, "https://holder.example");
        directory.approveShareSet(1, 1, keccak256("group"), holders);
        uint64 last = 0;
        for (uint256 i = 0; i < seqs.length; ++i) {
            uint64 seq = seqs[i] % 16; // small values, so that repeats and decreases are common
            bytes32 head = (zeroHeadMask >> i) & 1 == 1 && i % 3 == 0 ? bytes32(0) : keccak256(abi.encode(i, seq));
            vm.prank(holder);
            (bool ok, bytes memory got) = address(directory).call(abi.encodeCall(directory.anchor, (seq, head)));
            if (seq <= last) {
                bytes memory want =
                    abi.encodeWithSelector(IKeyShareDirectory.KeyShareAnchorOutOfOrder.selector, uint16(7), last, seq);
                vm.assertEq(got, want, "out of order");
            } else if (head == bytes32(0)) {
                vm.assertEq(got, abi.encodeWithSelector(IKeyShareDirectory.KeyShareZeroHead.selector), "zero head");
            } else {
                vm.assertTrue(ok, string(got));
                last = seq;
            }
            (uint64 stored, bytes32 storedHead,) = directory.lastAnchor(7);
            vm.assertEq(stored, last, "lastAnchor follows the highest accepted seq");
            vm.assertTrue((stored == 0) == (storedHead == bytes32(0)), "a head exactly when anchored");
        }
    }

    /// @notice The shaped sets reach every outcome often (each error, and an accepted set), so the fuzz test above
    /// exercises every rule both ways.
    function test_shapedSetsReachEveryOutcome() public pure {
        bytes4[10] memory outcomes = [
            bytes4(0), // accepted
            IKeyShareDirectory.KeyShareInvalidVersion.selector,
            IKeyShareDirectory.KeyShareInvalidHolderCount.selector,
            IKeyShareDirectory.KeyShareInvalidThreshold.selector,
            IKeyShareDirectory.KeyShareZeroGroupKey.selector,
            IKeyShareDirectory.KeyShareInvalidIndex.selector,
            IKeyShareDirectory.KeyShareZeroPublicKey.selector,
            IKeyShareDirectory.KeyShareZeroAccount.selector,
            IKeyShareDirectory.KeyShareDuplicateAccount.selector,
            IKeyShareDirectory.KeyShareInvalidUrl.selector
        ];
        uint256[10] memory seen;
        uint256 samples = 2048;
        for (uint256 seed = 0; seed < samples; ++seed) {
            (uint64 version, uint16 t, bytes32 groupKey, IKeyShareDirectory.Holder[] memory holders) = _shaped(seed);
            bytes memory want = _expectedRevert(version, t, groupKey, holders);
            bytes4 outcome = want.length == 0 ? bytes4(0) : bytes4(want);
            for (uint256 k = 0; k < outcomes.length; ++k) {
                if (outcome == outcomes[k]) ++seen[k];
            }
        }
        for (uint256 k = 0; k < outcomes.length; ++k) {
            vm.assertGe(seen[k] * 100, samples, "each outcome in at least 1% of shaped sets");
        }
    }

    // ------------------------------------------------------------------ model

    /// @dev A share set from `seed`: mostly valid, each rule broken now and then (about one field in sixteen).
    function _shaped(uint256 seed)
        internal
        pure
        returns (uint64 version, uint16 t, bytes32 groupKey, IKeyShareDirectory.Holder[] memory holders)
    {
        uint256 r = uint256(keccak256(abi.encode(seed, "set")));
        version = r % 16 == 0 ? uint64((r >> 4) % 3 * 2) : 1; // 0, 2 or 4 now and then
        uint256 n = (r >> 8) % 32 == 0 ? ((r >> 13) % 2 == 0 ? 0 : MAX_HOLDERS + 1) : 1 + (r >> 13) % 6;
        if ((r >> 18) % 64 == 0) n = MAX_HOLDERS;
        uint256 tr = r >> 24;
        t = tr % 16 == 0 ? (tr % 32 == 0 ? 0 : uint16(n + 1)) : uint16(1 + (tr >> 5) % (n == 0 ? 1 : n));
        groupKey = (r >> 40) % 16 == 0 ? bytes32(0) : keccak256(abi.encode(seed, "group"));
        holders = new IKeyShareDirectory.Holder[](n);
        uint16 index = 0;
        for (uint256 i = 0; i < n; ++i) {
            uint256 h = uint256(keccak256(abi.encode(seed, i)));
            index = h % 64 == 0 ? 0 : (h % 64 == 1 ? index : index + uint16(1 + (h >> 6) % 3));
            bytes32 pk = (h >> 12) % 64 == 0 ? bytes32(0) : keccak256(abi.encode(h, "pk"));
            address account = (h >> 18) % 64 == 0
                ? address(0)
                : ((h >> 18) % 64 == 1 && i > 0 ? holders[(h >> 24) % i].account : address(uint160(h >> 96)));
            uint256 urlLength = (h >> 32) % 64 == 0
                ? 0
                : ((h >> 32) % 64 == 1 ? MAX_URL_LENGTH + 1 + (h >> 38) % 8 : 1 + (h >> 38) % MAX_URL_LENGTH);
            holders[i] = IKeyShareDirectory.Holder(index, pk, account, string(new bytes(urlLength)));
        }
    }

    /// @dev The revert data IKeyShareDirectory's rules call for when a governor approves this set as the first one
    /// (current version 0), in the order the interface states; empty when the set must become current (threshold 1).
    function _expectedRevert(uint64 version, uint16 t, bytes32 groupKey, IKeyShareDirectory.Holder[] memory holders)
        internal
        pure
        returns (bytes memory)
    {
        if (version != 1) {
            return abi.encodeWithSelector(IKeyShareDirectory.KeyShareInvalidVersion.selector, uint64(1), version);
        }
        uint256 n = holders.length;
        if (n < 1 || n > MAX_HOLDERS) {
            return abi.encodeWithSelector(IKeyShareDirectory.KeyShareInvalidHolderCount.selector, n, MAX_HOLDERS);
        }
        if (t < 1 || t > n) return abi.encodeWithSelector(IKeyShareDirectory.KeyShareInvalidThreshold.selector, t, n);
        if (groupKey == bytes32(0)) return abi.encodeWithSelector(IKeyShareDirectory.KeyShareZeroGroupKey.selector);
        for (uint256 i = 0; i < n; ++i) {
            IKeyShareDirectory.Holder memory h = holders[i];
            if (h.index == 0 || (i > 0 && h.index <= holders[i - 1].index)) {
                return abi.encodeWithSelector(IKeyShareDirectory.KeyShareInvalidIndex.selector, i, h.index);
            }
            if (h.publicKey == bytes32(0)) {
                return abi.encodeWithSelector(IKeyShareDirectory.KeyShareZeroPublicKey.selector, i);
            }
            if (h.account == address(0)) {
                return abi.encodeWithSelector(IKeyShareDirectory.KeyShareZeroAccount.selector, i);
            }
            for (uint256 j = 0; j < i; ++j) {
                if (holders[j].account == h.account) {
                    return abi.encodeWithSelector(IKeyShareDirectory.KeyShareDuplicateAccount.selector, i, h.account);
                }
            }
            uint256 length = bytes(h.url).length;
            if (length < 1 || length > MAX_URL_LENGTH) {
                return abi.encodeWithSelector(IKeyShareDirectory.KeyShareInvalidUrl.selector, i, length);
            }
        }
        return "";
    }
}
