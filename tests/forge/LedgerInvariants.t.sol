// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ConsortiumRegistry} from "../../contracts/ConsortiumRegistry.sol";
import {CreditLedger} from "../../contracts/CreditLedger.sol";
import {IConsortiumRegistry} from "../../contracts/interfaces/IConsortiumRegistry.sol";
import {ICreditLedger} from "../../contracts/interfaces/ICreditLedger.sol";
import {ItemModel} from "./ItemModel.sol";
import {ForgeTest, Vm} from "./Vm.sol";

/// @notice Drives the ledger with batches and corrections from three lenders, a delegate signer of each (lanes 1-3),
/// an auditor, a governor and an outsider, while governance suspends, reinstates and removes lenders and pauses the
/// consortium, and lenders or the governor remove signers. From the ledger's events it keeps an independent record
/// of who recorded which record hash and how many batches each lender's lane had accepted, and counts every
/// accepted write that breaks a rule.
contract LedgerHandler is ForgeTest {
    struct Batch {
        address lender;
        uint64 seq;
        bytes32[] hashes; // zero in place of each inquiry
    }

    ConsortiumRegistry public immutable registry;
    CreditLedger public immutable ledger;
    address public immutable governor;
    address[] public actors; // lenders first, then an auditor, the governor, an outsider, then the delegates
    uint256 public immutable lenderCount;

    Batch[] internal _batches;
    mapping(bytes32 recordHash => address recorder) public recorderOf;
    mapping(address lender => mapping(uint8 lane => uint256 batches)) public acceptedBatches;
    /// The model of delegate signers: whose, in which lane, and whether removed (kept here, not read back).
    mapping(address signer => address lender) public delegateOf;
    mapping(address signer => uint8 lane) public laneOf;
    mapping(address signer => bool removed) public signerRemoved;
    address[] public delegates;
    uint256 internal _nonce;

    /// Accepted writes that broke a rule (each must stay zero).
    uint256 public writesByInactive; // by an account that was not an active lender, or while paused
    uint256 public logsForOthers; // a log naming another lender than the caller
    uint256 public sequenceSkips; // an accepted batch that did not advance the sequence by one, or a refused one did
    uint256 public foreignCorrections; // a correction of a record the caller did not record

    constructor(
        ConsortiumRegistry registry_,
        CreditLedger ledger_,
        address governor_,
        address[] memory actors_,
        uint256 lenders
    ) {
        registry = registry_;
        ledger = ledger_;
        governor = governor_;
        actors = actors_;
        lenderCount = lenders;
    }

    /// Enlists a delegate signer (private key `key`) for `lender` in `lane`, with the signer's consent.
    function enlist(address lender, uint256 key, uint8 lane) external {
        address signer = vm.addr(key);
        bytes32 digest = keccak256(
            abi.encodePacked("\x19Ethereum Signed Message:\n32", registry.signerConsentDigest(lender, signer, lane))
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        vm.prank(lender);
        registry.addSigner(signer, lane, abi.encodePacked(r, s, v));
        delegateOf[signer] = lender;
        laneOf[signer] = lane;
        delegates.push(signer);
        actors.push(signer);
    }

    function delegateCount() external view returns (uint256) {
        return delegates.length;
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function batchCount() external view returns (uint256) {
        return _batches.length;
    }

    function batch(uint256 i) external view returns (Batch memory) {
        return _batches[i];
    }

    // ------------------------------------------------------------------ actions (called by the fuzzer)

    /// A batch of one to three items, mostly valid, mostly at the caller's next sequence number.
    function record(uint256 actorSeed, uint256 seed) external {
        uint256 r = uint256(keccak256(abi.encode(seed, "record")));
        address actor = _actor(actorSeed);
        uint256 count = 1 + r % 3;
        bytes32[] memory words = new bytes32[](count * 4);
        for (uint256 i = 0; i < count; ++i) {
            bytes32[4] memory item = _item(r >> (8 + 16 * i));
            for (uint256 w = 0; w < 4; ++w) {
                words[4 * i + w] = item[w];
            }
        }
        (address lender, uint8 lane) = _principal(actor);
        uint64 seq = ledger.nextSequenceInLane(lender, lane);
        if ((r >> 60) % 16 == 0) {
            seq = (r >> 64) % 2 == 0 || seq == 0 ? seq + 1 : seq - 1; // one ahead or one behind (a replay)
        }
        _send(actor, abi.encodeCall(ledger.recordBatch, (seq, words)));
    }

    /// A correction of a recorded credit event: mostly by its own lender, sometimes by another account, sometimes
    /// with a tampered proof.
    function correct(uint256 actorSeed, uint256 seed) external {
        if (_batches.length == 0) return;
        uint256 r = uint256(keccak256(abi.encode(seed, "correct")));
        Batch storage original = _batches[r % _batches.length];
        uint256 index = (r >> 16) % original.hashes.length;
        address actor = (r >> 24) % 4 == 0 ? _actor(actorSeed) : original.lender;
        if ((r >> 28) % 3 == 0) actor = delegates[(r >> 30) % delegates.length]; // a signer corrects (maybe its own)
        ICreditLedger.RecordRef memory ref =
            ICreditLedger.RecordRef(original.lender, original.seq, index, original.hashes);
        uint256 tamper = (r >> 32) % 8;
        if (tamper == 0) ref.lender = actor; // claim another lender's batch as one's own
        if (tamper == 1) ref.index = (r >> 40) % (original.hashes.length + 1);
        (address lender, uint8 lane) = _principal(actor);
        uint64 seq = ledger.nextSequenceInLane(lender, lane);
        _send(actor, abi.encodeCall(ledger.correctRecord, (seq, ref, _creditEvent(r >> 48))));
    }

    /// Governance (threshold 1): suspend, reinstate or remove a lender, pause or unpause.
    function govern(uint256 seed) external {
        uint256 r = uint256(keccak256(abi.encode(seed, "govern")));
        IConsortiumRegistry.Action[5] memory actions = [
            IConsortiumRegistry.Action.Suspend,
            IConsortiumRegistry.Action.Reinstate,
            IConsortiumRegistry.Action.Remove,
            IConsortiumRegistry.Action.Pause,
            IConsortiumRegistry.Action.Unpause
        ];
        IConsortiumRegistry.Action action = actions[r % 5];
        if (action == IConsortiumRegistry.Action.Remove && (r >> 8) % 4 != 0) return; // removal is final: rarer
        bool onMember = action <= IConsortiumRegistry.Action.Remove;
        address target = onMember ? actors[(r >> 16) % lenderCount] : address(0);
        vm.prank(governor);
        try registry.propose(action, target, IConsortiumRegistry.Role.None, 0, "") {} catch {}
    }

    /// A delegate signer removed, rarely: by its lender (whatever the lender's status) or by the governor.
    function removeSigner(uint256 seed) external {
        uint256 r = uint256(keccak256(abi.encode(seed, "removeSigner")));
        if (r % 4 != 0) return;
        address signer = delegates[(r >> 8) % delegates.length];
        vm.prank((r >> 16) % 2 == 0 ? delegateOf[signer] : governor);
        try registry.removeSigner(signer) {
            signerRemoved[signer] = true;
        } catch {}
    }

    function warp(uint256 secondsSeed) external {
        vm.warp(block.timestamp + bound(secondsSeed, 1, 3 days));
    }

    // ------------------------------------------------------------------ bookkeeping

    /// @dev For whom and in which lane `actor` writes, by the model: a delegate for its lender, anyone else for itself.
    function _principal(address actor) internal view returns (address lender, uint8 lane) {
        lender = delegateOf[actor];
        return lender == address(0) ? (actor, 0) : (lender, laneOf[actor]);
    }

    /// @dev Mostly a lender, sometimes the auditor, the governor or the outsider.
    function _actor(uint256 seed) internal view returns (address) {
        seed = uint256(keccak256(abi.encode(seed, "actor")));
        return seed % 4 != 0 ? actors[(seed >> 2) % lenderCount] : actors[(seed >> 2) % actors.length];
    }

    /// @dev A valid item (a credit event or an inquiry) with fresh keys, or now and then any shaped item.
    function _item(uint256 r) internal returns (bytes32[4] memory item) {
        if (r % 16 == 0) return ItemModel.shaped(r, block.timestamp / 1 days + 1);
        if (r % 5 == 0) {
            item = _keys();
            item[3] = bytes32((uint256(16) << 248) | ((1 + (r >> 4) % 5) << 240));
            return item;
        }
        return _creditEvent(r);
    }

    function _creditEvent(uint256 r) internal returns (bytes32[4] memory item) {
        item = _keys();
        uint256 itemType = 1 + (r >> 8) % 6;
        uint256 day = 20_000 + (r >> 16) % 600; // 2024-10-04 .. 2026-05-27, before the clock (which only moves on)
        uint256 amount = itemType == 5 ? 0 : 1 + (r >> 32) % 1_000_000;
        uint256 overdue = itemType == 1 || itemType == 5 ? 0 : 1 + (r >> 64) % amount;
        uint256 daysPastDue = itemType == 1 || itemType == 5 ? 0 : 1 + (r >> 96) % 400;
        item[3] = bytes32((itemType << 248) | (day << 216) | (amount << 152) | (overdue << 88) | (daysPastDue << 72));
    }

    function _keys() internal returns (bytes32[4] memory item) {
        ++_nonce;
        item[0] = keccak256(abi.encode("subject", _nonce % 7)); // a few borrowers, shared by the lenders
        item[1] = keccak256(abi.encode("loan", _nonce));
        item[2] = keccak256(abi.encode("record", _nonce)); // unique: recorderOf is exact
    }

    function _send(address actor, bytes memory call) internal {
        (address lender, uint8 lane) = _principal(actor);
        bool isDelegate = lender != actor;
        bool mayWrite = registry.isActive(lender, IConsortiumRegistry.Role.Lender) && !registry.paused()
            && !(isDelegate && signerRemoved[actor]);
        uint64 seqBefore = ledger.nextSequenceInLane(lender, lane);
        vm.recordLogs();
        vm.prank(actor);
        (bool ok,) = address(ledger).call(call);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint64 seqAfter = ledger.nextSequenceInLane(lender, lane);
        if (!ok) {
            if (seqAfter != seqBefore) ++sequenceSkips;
            return;
        }
        if (!mayWrite) ++writesByInactive;
        if (seqAfter != seqBefore + 1) ++sequenceSkips;
        ++acceptedBatches[lender][lane];
        bytes32 lenderTopic = bytes32(uint256(uint160(lender))); // a delegate's logs name its lender
        Batch storage b = _batches.push();
        b.lender = lender;
        b.seq = seqBefore;
        for (uint256 i = 0; i < logs.length; ++i) {
            bytes32 topic = logs[i].topics[0];
            if (topic == ICreditLedger.CreditEventRecorded.selector || topic == ICreditLedger.InquiryRecorded.selector)
            {
                if (logs[i].topics[2] != lenderTopic) ++logsForOthers;
                bool credit = topic == ICreditLedger.CreditEventRecorded.selector;
                b.hashes.push(credit ? logs[i].topics[3] : bytes32(0));
                if (credit) recorderOf[logs[i].topics[3]] = lender;
            } else if (topic == ICreditLedger.CreditEventCorrected.selector) {
                if (logs[i].topics[1] != lenderTopic) ++logsForOthers;
                if (recorderOf[logs[i].topics[2]] != lender) ++foreignCorrections;
            } else if (topic == ICreditLedger.BatchRecorded.selector) {
                if (logs[i].topics[1] != lenderTopic) ++logsForOthers;
            }
        }
        if (b.hashes.length == 0 || _allZero(b.hashes)) _batches.pop(); // nothing to correct in it
    }

    function _allZero(bytes32[] storage hashes) internal view returns (bool) {
        for (uint256 i = 0; i < hashes.length; ++i) {
            if (hashes[i] != 0) return false;
        }
        return true;
    }
}

/// @notice Invariants of CreditLedger under random writes and governance (256 runs of 64 calls each).
contract LedgerInvariantsTest is ForgeTest {
    address internal constant GOVERNOR = address(0xB000);

    ConsortiumRegistry internal registry;
    CreditLedger internal ledger;
    LedgerHandler internal handler;

    function setUp() public {
        vm.warp(1_781_524_800); // 2026-06-15 12:00 UTC
        address[] memory governors = new address[](1);
        governors[0] = GOVERNOR;
        string[] memory names = new string[](1);
        names[0] = "Governor";
        registry = new ConsortiumRegistry(governors, names, 1, 1 days);
        ledger = new CreditLedger(IConsortiumRegistry(address(registry)));

        address[] memory actors = new address[](6);
        for (uint256 i = 0; i < 3; ++i) {
            actors[i] = address(uint160(0xC000 + i));
            vm.prank(GOVERNOR);
            registry.propose(IConsortiumRegistry.Action.Admit, actors[i], IConsortiumRegistry.Role.Lender, 0, "Lender");
        }
        actors[3] = address(0xC0A0); // an auditor
        vm.prank(GOVERNOR);
        registry.propose(IConsortiumRegistry.Action.Admit, actors[3], IConsortiumRegistry.Role.Auditor, 0, "Auditor");
        actors[4] = GOVERNOR;
        actors[5] = address(0xC0FF); // never a member
        handler = new LedgerHandler(registry, ledger, GOVERNOR, actors, 3);
        for (uint256 i = 0; i < 3; ++i) {
            handler.enlist(actors[i], 0xD000 + i, uint8(1 + i)); // lender i's delegate in lane 1 + i
        }
    }

    /// @dev Only the handler is called by the fuzzer.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function invariant_onlyActiveLendersRecord() public view {
        vm.assertEq(
            handler.writesByInactive(), 0, "a write accepted from an inactive lender, a non-lender or while paused"
        );
        vm.assertEq(handler.logsForOthers(), 0, "a log naming another lender than the caller");
    }

    function invariant_sequenceGrowsByOnePerAcceptedBatch() public view {
        vm.assertEq(
            handler.sequenceSkips(), 0, "a batch moved the sequence by other than one (or a refused one moved it)"
        );
        for (uint256 i = 0; i < handler.lenderCount(); ++i) {
            address lender = handler.actors(i);
            for (uint8 lane = 0; lane <= 3; ++lane) {
                vm.assertEq(
                    ledger.nextSequenceInLane(lender, lane),
                    (uint256(lane) << 56) + handler.acceptedBatches(lender, lane),
                    "a lane's next sequence = its first + its accepted batches"
                );
            }
        }
        uint256 n = handler.batchCount();
        for (uint256 i = n > 8 ? n - 8 : 0; i < n; ++i) {
            LedgerHandler.Batch memory b = handler.batch(i);
            bytes32 digest = keccak256(abi.encodePacked(b.hashes));
            vm.assertEq(ledger.batchDigest(b.lender, b.seq), digest, "stored digest = keccak of the batch's hashes");
        }
    }

    function invariant_nobodyCorrectsAnotherLendersRecord() public view {
        vm.assertEq(handler.foreignCorrections(), 0, "a lender corrected a record it did not record");
    }
}
