// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";
import {ICreditLedger} from "./interfaces/ICreditLedger.sol";

/**
 * @title CreditLedger
 * @notice The consortium's shared record of hashed credit events, corrections, disputes and inquiries.
 * @dev Design choices:
 * - The ledger is a log, not a database: every item is an event whose indexed fields (subject key, lender,
 *   record hash) let any member rebuild the whole state from `eth_getLogs`. Nothing is stored per item, so
 *   recording costs close to the EVM floor (calldata + LOG4).
 * - Exactly-once comes from a per-lender batch sequence: each batch names the lender's next sequence number, so
 *   the gateway can resend a batch after any failure and a copy that already landed reverts with
 *   {LedgerBatchOutOfOrder} instead of recording twice.
 * - One slot per batch keeps the digest of its record hashes. That is what lets {correctRecord} check on chain
 *   that only the recording lender corrects a record: ~22.1k gas per batch (~86 gas per item at 256 items),
 *   versus ~22.1k per item for a record-to-lender mapping.
 * - Membership and the emergency pause live in the {ConsortiumRegistry}; they are read on every write, so a
 *   suspension or pause takes effect from the next block.
 */
contract CreditLedger is ICreditLedger {
    /// @notice Most items one {recordBatch} call accepts (about 1.2M gas at the maximum).
    uint256 public constant MAX_BATCH_SIZE = 256;

    uint8 internal constant _LOAN_OPENED = 1;
    uint8 internal constant _WRITTEN_OFF = 6;
    uint8 internal constant _INQUIRY = 16;

    IConsortiumRegistry private immutable _registry;

    mapping(address lender => uint64 nextSeq) private _nextSeq;
    mapping(address lender => mapping(uint64 seq => bytes32 digest)) private _batchDigests;
    mapping(address lender => mapping(bytes32 recordHash => bool open)) private _disputes;

    /// @dev Reverts unless the consortium is running and the caller is an active lender.
    modifier onlyActiveLender() {
        _checkLender(msg.sender);
        _;
    }

    /// @dev Reverts unless the consortium is running and the caller may act on `lender`'s disputes.
    modifier onlyDisputeParty(address lender) {
        _checkDisputeParty(lender);
        _;
    }

    /// @param registry_ The consortium registry.
    constructor(IConsortiumRegistry registry_) {
        _registry = registry_;
    }

    // ------------------------------------------------------------------ writes

    /// @inheritdoc ICreditLedger
    function recordBatch(uint64 seq, bytes32[] calldata items) external onlyActiveLender {
        uint256 words = items.length;
        if (words == 0) revert LedgerEmptyBatch();
        if (words % 4 != 0) revert LedgerMalformedBatch(words);
        uint256 count = words / 4;
        if (count > MAX_BATCH_SIZE) revert LedgerBatchTooLarge(count, MAX_BATCH_SIZE);
        _useSequence(msg.sender, seq);

        // Hot loop: items are read straight from calldata (the length checks above bound every offset) and
        // their record hashes collected in memory for the batch digest.
        bytes32[] memory recordHashes = new bytes32[](count);
        for (uint256 i = 0; i < count;) {
            bytes32 subjectKey;
            bytes32 key;
            bytes32 recordHash;
            uint256 data;
            assembly ("memory-safe") {
                let p := add(items.offset, shl(7, i))
                subjectKey := calldataload(p)
                key := calldataload(add(p, 0x20))
                recordHash := calldataload(add(p, 0x40))
                data := calldataload(add(p, 0x60))
            }
            // Inquiries enter the digest as zero, so no RecordRef can ever point at one (nothing to correct).
            bool isCreditEvent = _emitItem(i, subjectKey, key, recordHash, data, true);
            assembly ("memory-safe") {
                if isCreditEvent { mstore(add(add(recordHashes, 0x20), shl(5, i)), recordHash) }
            }
            unchecked {
                ++i;
            }
        }
        _storeDigest(msg.sender, seq, count, keccak256(abi.encodePacked(recordHashes)));
    }

    /// @inheritdoc ICreditLedger
    function correctRecord(uint64 seq, RecordRef calldata original, bytes32[4] calldata item)
        external
        onlyActiveLender
    {
        bytes32 originalHash = _resolve(original);
        if (original.lender != msg.sender) revert LedgerNotRecordOwner(msg.sender, original.lender);
        _useSequence(msg.sender, seq);

        bytes32 recordHash = item[2];
        _emitItem(0, item[0], item[1], recordHash, uint256(item[3]), false);
        emit CreditEventCorrected(msg.sender, originalHash, recordHash);
        _storeDigest(msg.sender, seq, 1, keccak256(abi.encodePacked(recordHash)));
    }

    /// @inheritdoc ICreditLedger
    function openDispute(address lender, bytes32 recordHash) external onlyDisputeParty(lender) {
        if (_disputes[lender][recordHash]) revert LedgerDisputeAlreadyOpen(lender, recordHash);
        _disputes[lender][recordHash] = true;
        emit DisputeOpened(lender, recordHash, msg.sender);
    }

    /// @inheritdoc ICreditLedger
    function resolveDispute(address lender, bytes32 recordHash, DisputeOutcome outcome)
        external
        onlyDisputeParty(lender)
    {
        if (!_disputes[lender][recordHash] || outcome == DisputeOutcome.None) {
            revert LedgerDisputeNotOpen(lender, recordHash);
        }
        _disputes[lender][recordHash] = false;
        emit DisputeResolved(lender, recordHash, msg.sender, outcome);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc ICreditLedger
    function nextSequence(address lender) external view returns (uint64) {
        return _nextSeq[lender];
    }

    /// @inheritdoc ICreditLedger
    function batchDigest(address lender, uint64 seq) external view returns (bytes32) {
        return _batchDigests[lender][seq];
    }

    /// @inheritdoc ICreditLedger
    function isDisputed(address lender, bytes32 recordHash) external view returns (bool) {
        return _disputes[lender][recordHash];
    }

    /// @inheritdoc ICreditLedger
    function registry() external view returns (address) {
        return address(_registry);
    }

    // ------------------------------------------------------------------ internals

    /// @dev Reverts with {LedgerPaused} or {LedgerNotActiveLender}.
    function _checkLender(address account) internal view {
        if (_registry.paused()) revert LedgerPaused();
        if (!_registry.isActive(account, IConsortiumRegistry.Role.Lender)) revert LedgerNotActiveLender(account);
    }

    /// @dev Reverts with {LedgerPaused} or {LedgerNotDisputeParty} unless the caller is `lender` (active) or an
    /// active governor.
    function _checkDisputeParty(address lender) internal view {
        if (_registry.paused()) revert LedgerPaused();
        bool isRecorder = msg.sender == lender && _registry.isActive(lender, IConsortiumRegistry.Role.Lender);
        if (!isRecorder && !_registry.isActive(msg.sender, IConsortiumRegistry.Role.Governor)) {
            revert LedgerNotDisputeParty(msg.sender);
        }
    }

    /// @dev Checks `seq` against the lender's next sequence number and advances it.
    function _useSequence(address lender, uint64 seq) internal {
        uint64 expected = _nextSeq[lender];
        if (seq != expected) revert LedgerBatchOutOfOrder(expected, seq);
        _nextSeq[lender] = expected + 1;
    }

    /// @dev Stores a batch digest. Emits {BatchRecorded}.
    function _storeDigest(address lender, uint64 seq, uint256 count, bytes32 digest) internal {
        _batchDigests[lender][seq] = digest;
        emit BatchRecorded(lender, seq, count, digest);
    }

    /// @dev Returns the record hash a reference points to, after checking it against the stored batch digest.
    function _resolve(RecordRef calldata ref) internal view returns (bytes32) {
        bytes32 stored = _batchDigests[ref.lender][ref.seq];
        if (
            stored == bytes32(0) || ref.index >= ref.batchRecordHashes.length
                || ref.batchRecordHashes[ref.index] == bytes32(0)
                || keccak256(abi.encodePacked(ref.batchRecordHashes)) != stored
        ) revert LedgerInvalidRecordRef(ref.lender, ref.seq);
        return ref.batchRecordHashes[ref.index];
    }

    /// @dev Validates one item and emits its event; returns true for a credit event, false for an inquiry.
    /// Emits {CreditEventRecorded} or {InquiryRecorded}.
    function _emitItem(
        uint256 index,
        bytes32 subjectKey,
        bytes32 key,
        bytes32 recordHash,
        uint256 data,
        bool inquiryAllowed
    ) internal returns (bool isCreditEvent) {
        if (subjectKey == 0 || key == 0 || recordHash == 0) revert LedgerZeroKey(index);
        uint8 itemType = uint8(data >> 248);
        if (itemType >= _LOAN_OPENED && itemType <= _WRITTEN_OFF) {
            emit CreditEventRecorded(subjectKey, msg.sender, recordHash, key, data);
            return true;
        } else if (itemType == _INQUIRY && inquiryAllowed && uint8(data >> 240) != 0) {
            emit InquiryRecorded(subjectKey, msg.sender, recordHash, key, data);
            return false;
        }
        revert LedgerUnknownItemType(index, itemType);
    }
}
