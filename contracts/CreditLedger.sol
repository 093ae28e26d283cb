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
 * - Exactly-once comes from per-lender batch sequences in lanes: each batch names the next sequence number of
 *   its lane, so the gateway can resend a batch after any failure and a copy that already landed reverts with
 *   {LedgerBatchOutOfOrder} instead of recording twice. Lane 0 is the lender's own key; lanes 1-16 belong to the
 *   delegate signers it enlisted in the registry, one key per lane, each with its own nonces. A lane's number sits
 *   in the top byte of its sequence numbers (`lane << 56 | n`), so (lender, seq) still names one batch everywhere
 *   (events, digests, record references) and batches of different keys never wait on each other's order.
 * - One slot per batch keeps the digest of its record hashes. That is what lets {correctRecord} check on chain
 *   that only the recording lender corrects a record: ~22.1k gas per batch (~86 gas per item at 256 items),
 *   versus ~22.1k per item for a record-to-lender mapping.
 * - Any active lender opens a dispute on any lender's record, on the borrower's behalf, with the objection's
 *   hash; only the recording lender or a governor closes it. A daily quota per opener (one slot per member) bounds
 *   what a hostile member can flag, and every opening carries the opener's counts so abuse is visible.
 * - Membership and the emergency pause live in the {ConsortiumRegistry}; they are read on every write, so a
 *   suspension or pause takes effect from the next block.
 * - Every other member may be hostile or buggy, so each item's data word is checked field by field against what
 *   its type allows ({_isValidCreditEvent}, {_isValidInquiry}): the same rules the gateway applies to its own
 *   records, so honest batches never revert. The hot path is branch-free arithmetic on the word (~280 gas per
 *   item); which error to report is worked out only on the failure path.
 */
contract CreditLedger is ICreditLedger {
    /// @notice Most items one {recordBatch} call accepts (about 1.3M gas at the maximum).
    uint256 public constant MAX_BATCH_SIZE = 256;
    /// @notice The earliest day a credit event may carry: 1990-01-01, as days since 1970-01-01.
    uint32 public constant EARLIEST_DAY = 7305;
    /// @notice The largest amount a credit event may carry, in fen (10^15 fen = 10 trillion yuan).
    uint64 public constant MAX_FEN = 1e15;
    /// @notice The most days past due a credit event may carry (100 years).
    uint16 public constant MAX_DAYS_PAST_DUE = 36_500;
    /// @notice The highest inquiry purpose code; codes run from 1 (domain/purposes.py).
    uint8 public constant MAX_PURPOSE = 6;
    /// @notice Most disputes one member may open per day (UTC): bounds what a hostile member can flag.
    uint32 public constant MAX_DISPUTES_PER_DAY = 500;

    uint256 internal constant _LOAN_OPENED = 1;
    uint256 internal constant _OVERDUE = 3;
    uint256 internal constant _SETTLED = 5;
    uint256 internal constant _WRITTEN_OFF = 6;
    uint256 internal constant _INQUIRY = 16;
    uint256 internal constant _SECONDS_PER_DAY = 86_400;
    /// @dev Bytes 2-31 of an inquiry's data word (unused, must be zero).
    uint256 internal constant _INQUIRY_PADDING = (1 << 240) - 1;
    /// @dev The per-type rules of {LedgerInvalidAmounts} as a table. A credit event's shape is four bits
    /// (bit 0: amount = 0, bit 1: overdue amount = 0, bit 2: days past due = 0, bit 3: overdue amount > amount) and
    /// bit `16 * type + shape` is set when type 1-6 allows that shape: LoanOpened (1) only 0b0110 (0x0040);
    /// Repayment (2) and Default (4) 0-7, i.e. overdue <= amount (0x00ff); Overdue (3) only 0 (0x0001); Settled (5)
    /// only 0b0111 (0x0080); WrittenOff (6) all 16 (0xffff).
    uint256 internal constant _ALLOWED_SHAPES = 0xffff_0080_00ff_0001_00ff_0040_0000;

    IConsortiumRegistry private immutable _registry;

    /// @dev Bits below a lane's number in a sequence number.
    uint256 internal constant _LANE_SHIFT = 56;

    mapping(address lender => mapping(uint8 lane => uint64 count)) private _batchCounts;
    mapping(address lender => mapping(uint64 seq => bytes32 digest)) private _batchDigests;
    mapping(address lender => mapping(bytes32 recordHash => bool open)) private _disputes;
    mapping(address opener => OpenerTally) private _openers;

    /// @dev Disputes a member opened: on `day` (days since 1970-01-01, UTC) and ever. One slot.
    struct OpenerTally {
        uint32 day;
        uint32 today;
        uint64 total;
    }

    /// @dev Reverts unless the consortium is running and the caller is an active lender or governor.
    modifier onlyDisputeOpener() {
        _checkDisputeOpener();
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
    function recordBatch(uint64 seq, bytes32[] calldata items) external {
        (address lender, uint8 lane) = _recorder();
        uint256 words = items.length;
        if (words == 0) revert LedgerEmptyBatch();
        if (words % 4 != 0) revert LedgerMalformedBatch(words);
        uint256 count = words / 4;
        if (count > MAX_BATCH_SIZE) revert LedgerBatchTooLarge(count, MAX_BATCH_SIZE);
        _useSequence(lender, lane, seq);
        uint256 latestDay = _latestDay();

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
            bool isCreditEvent = _emitItem(lender, i, subjectKey, key, recordHash, data, true, latestDay);
            assembly ("memory-safe") {
                if isCreditEvent { mstore(add(add(recordHashes, 0x20), shl(5, i)), recordHash) }
            }
            unchecked {
                ++i;
            }
        }
        // The digest is keccak256 over the array's contents in place (abi.encodePacked would copy them first).
        bytes32 digest;
        assembly ("memory-safe") {
            digest := keccak256(add(recordHashes, 0x20), shl(5, count))
        }
        _storeDigest(lender, seq, count, digest);
    }

    /// @inheritdoc ICreditLedger
    function correctRecord(uint64 seq, RecordRef calldata original, bytes32[4] calldata item) external {
        (address lender, uint8 lane) = _recorder();
        bytes32 originalHash = _resolve(original);
        if (original.lender != lender) revert LedgerNotRecordOwner(lender, original.lender);
        _useSequence(lender, lane, seq);

        bytes32 recordHash = item[2];
        _emitItem(lender, 0, item[0], item[1], recordHash, uint256(item[3]), false, _latestDay());
        emit CreditEventCorrected(lender, originalHash, recordHash);
        _storeDigest(lender, seq, 1, keccak256(abi.encodePacked(recordHash)));
    }

    /// @inheritdoc ICreditLedger
    function openDispute(address lender, bytes32 recordHash, bytes32 objectionHash) external onlyDisputeOpener {
        if (objectionHash == bytes32(0)) revert LedgerDisputeMissingHash();
        if (_disputes[lender][recordHash]) revert LedgerDisputeAlreadyOpen(lender, recordHash);
        OpenerTally memory tally = _countOpening(msg.sender);
        _disputes[lender][recordHash] = true;
        emit DisputeOpened(lender, recordHash, msg.sender, objectionHash, tally.today, tally.total);
    }

    /// @inheritdoc ICreditLedger
    function resolveDispute(address lender, bytes32 recordHash, DisputeOutcome outcome, bytes32 detail)
        external
        onlyDisputeParty(lender)
    {
        if (!_disputes[lender][recordHash] || outcome == DisputeOutcome.None) {
            revert LedgerDisputeNotOpen(lender, recordHash);
        }
        if (detail == bytes32(0)) revert LedgerDisputeMissingHash();
        _disputes[lender][recordHash] = false;
        emit DisputeResolved(lender, recordHash, msg.sender, outcome, detail);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc ICreditLedger
    function nextSequence(address lender) external view returns (uint64) {
        return _nextInLane(lender, 0);
    }

    /// @inheritdoc ICreditLedger
    function nextSequenceInLane(address lender, uint8 lane) external view returns (uint64) {
        return _nextInLane(lender, lane);
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
    function disputesOpenedBy(address opener) external view returns (uint32 today, uint64 total) {
        OpenerTally memory tally = _openers[opener];
        today = tally.day < _today() ? 0 : tally.today; // a tally is never dated after today
        total = tally.total;
    }

    /// @inheritdoc ICreditLedger
    function registry() external view returns (address) {
        return address(_registry);
    }

    // ------------------------------------------------------------------ internals

    /// @dev The lender the caller records for (itself, or the lender whose delegate signer it is) and the caller's
    /// lane; reverts with {LedgerPaused} or {LedgerNotActiveLender}. One registry call answers who and whether.
    function _recorder() internal view returns (address lender, uint8 lane) {
        if (_registry.paused()) revert LedgerPaused();
        (lender, lane) = _registry.recorderOf(msg.sender);
        if (lender == address(0)) revert LedgerNotActiveLender(msg.sender);
    }


    /// @dev Reverts with {LedgerPaused} or {LedgerNotDisputeParty} unless the caller is an active lender or an
    /// active governor.
    function _checkDisputeOpener() internal view {
        if (_registry.paused()) revert LedgerPaused();
        if (
            !_registry.isActive(msg.sender, IConsortiumRegistry.Role.Lender)
                && !_registry.isActive(msg.sender, IConsortiumRegistry.Role.Governor)
        ) {
            revert LedgerNotDisputeParty(msg.sender);
        }
    }

    /// @dev Counts one more dispute opened by `opener` today, reverting with {LedgerDisputeQuotaExceeded} past the
    /// daily quota; returns the updated tally.
    function _countOpening(address opener) internal returns (OpenerTally memory tally) {
        tally = _openers[opener];
        uint32 today = _today();
        if (tally.day < today) (tally.day, tally.today) = (today, 0); // a tally is never dated after today
        if (tally.today >= MAX_DISPUTES_PER_DAY) revert LedgerDisputeQuotaExceeded(opener, MAX_DISPUTES_PER_DAY);
        tally.today += 1;
        tally.total += 1;
        _openers[opener] = tally;
    }

    /// @dev The block's day: days since 1970-01-01 (UTC).
    function _today() internal view returns (uint32) {
        return uint32(block.timestamp / _SECONDS_PER_DAY);
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

    /// @dev Checks `seq` against the next sequence number of the lender's `lane` and advances it. A sequence number
    /// of another lane is simply not the expected one: {LedgerBatchOutOfOrder}.
    function _useSequence(address lender, uint8 lane, uint64 seq) internal {
        uint64 count = _batchCounts[lender][lane];
        uint64 expected = uint64(uint256(lane) << _LANE_SHIFT) | count;
        if (seq != expected) revert LedgerBatchOutOfOrder(expected, seq);
        _batchCounts[lender][lane] = count + 1;
    }

    /// @dev The next sequence number of `lender`'s `lane`.
    function _nextInLane(address lender, uint8 lane) internal view returns (uint64) {
        return uint64(uint256(lane) << _LANE_SHIFT) | _batchCounts[lender][lane];
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

    /// @dev The latest day a credit event may carry in this block: the block's day (UTC) plus one, because a
    /// gateway dates events in China Standard Time (UTC+8), which is one day ahead from 16:00 UTC.
    function _latestDay() internal view returns (uint256) {
        return block.timestamp / _SECONDS_PER_DAY + 1;
    }

    /// @dev Validates one item and emits its event for `lender`; returns true for a credit event, false for an inquiry.
    /// Emits {CreditEventRecorded} or {InquiryRecorded}.
    function _emitItem(
        address lender,
        uint256 index,
        bytes32 subjectKey,
        bytes32 key,
        bytes32 recordHash,
        uint256 data,
        bool inquiryAllowed,
        uint256 latestDay
    ) internal returns (bool isCreditEvent) {
        // Branch-free forms of `a == 0 || b == 0 || c == 0` and `1 <= itemType <= 6` (one jump each, per item).
        bool zeroKey;
        assembly ("memory-safe") {
            zeroKey := or(or(iszero(subjectKey), iszero(key)), iszero(recordHash))
        }
        if (zeroKey) revert LedgerZeroKey(index);
        uint256 itemType = data >> 248;
        bool isCreditType;
        unchecked {
            isCreditType = itemType - _LOAN_OPENED <= _WRITTEN_OFF - _LOAN_OPENED;
        }
        if (isCreditType) {
            if (!_isValidCreditEvent(itemType, data, latestDay)) _revertInvalidCreditEvent(index, data, latestDay);
            emit CreditEventRecorded(subjectKey, lender, recordHash, key, data);
            return true;
        } else if (itemType == _INQUIRY && inquiryAllowed) {
            if (!_isValidInquiry(data)) _revertInvalidInquiry(index, data);
            emit InquiryRecorded(subjectKey, lender, recordHash, key, data);
            return false;
        }
        revert LedgerUnknownItemType(index, uint8(itemType));
    }

    /// @dev Whether a credit event's data word (type 1-6) passes every check of {recordBatch}: the hot path, once
    /// per item, so it is branch-free arithmetic on the word (as plain Solidity with short-circuit jumps it cost
    /// ~560 gas per item under via-IR; this ~280). {_revertInvalidCreditEvent} states the same rules in plain
    /// Solidity for the failure path, and the Foundry fuzz tests (tests/forge) check both against a model.
    function _isValidCreditEvent(uint256 itemType, uint256 data, uint256 latestDay) internal pure returns (bool ok) {
        assembly ("memory-safe") {
            let day := shr(224, shl(8, data))
            let amount := shr(192, shl(40, data))
            let overdue := shr(192, shl(104, data))
            let daysPastDue := shr(240, shl(168, data))
            // Non-zero when broken: the day outside [EARLIEST_DAY, latestDay] (below it the subtraction wraps to a
            // huge number), bytes 23-31 not zero, a field out of range.
            let bad := or(gt(sub(day, EARLIEST_DAY), sub(latestDay, EARLIEST_DAY)), shl(184, data))
            bad := or(bad, or(or(gt(amount, MAX_FEN), gt(overdue, MAX_FEN)), gt(daysPastDue, MAX_DAYS_PAST_DUE)))
            // The type's rules: one table lookup on the event's shape.
            let shape := or(or(iszero(amount), shl(1, iszero(overdue))), shl(2, iszero(daysPastDue)))
            shape := or(shape, shl(3, gt(overdue, amount)))
            ok := and(iszero(bad), shr(add(shl(4, itemType), shape), _ALLOWED_SHAPES))
        }
    }

    /// @dev Whether a credit event's amount, overdue amount and days past due are what its type allows
    /// (see {LedgerInvalidAmounts}).
    function _amountsFit(uint256 itemType, uint256 amount, uint256 overdue, uint256 daysPastDue)
        internal
        pure
        returns (bool)
    {
        if (amount > MAX_FEN || overdue > MAX_FEN || daysPastDue > MAX_DAYS_PAST_DUE) return false;
        if (itemType == _LOAN_OPENED) return amount != 0 && overdue == 0 && daysPastDue == 0;
        if (itemType == _SETTLED) return amount == 0 && overdue == 0 && daysPastDue == 0;
        if (itemType == _WRITTEN_OFF) return true;
        // Repayment, Overdue, Default: no more overdue than outstanding; Overdue also needs something overdue.
        return overdue <= amount && (itemType != _OVERDUE || (overdue != 0 && daysPastDue != 0));
    }

    /// @dev Whether an inquiry's data word passes every check of {recordBatch}.
    function _isValidInquiry(uint256 data) internal pure returns (bool ok) {
        unchecked {
            ok = uint8(data >> 240) - 1 < MAX_PURPOSE && data & _INQUIRY_PADDING == 0;
        }
    }

    /// @dev Failure path of {_isValidCreditEvent}: reverts with the first failing check in byte order.
    function _revertInvalidCreditEvent(uint256 index, uint256 data, uint256 latestDay) internal pure {
        uint32 day = uint32(data >> 216);
        if (day < EARLIEST_DAY || day > latestDay) revert LedgerInvalidDay(index, day, EARLIEST_DAY, uint32(latestDay));
        uint8 itemType = uint8(data >> 248);
        uint64 amount = uint64(data >> 152);
        uint64 overdue = uint64(data >> 88);
        uint16 daysPastDue = uint16(data >> 72);
        if (!_amountsFit(itemType, amount, overdue, daysPastDue)) {
            revert LedgerInvalidAmounts(index, itemType, amount, overdue, daysPastDue);
        }
        revert LedgerNonZeroPadding(index, data);
    }

    /// @dev Failure path of {_isValidInquiry}: reverts with the first failing check in byte order.
    function _revertInvalidInquiry(uint256 index, uint256 data) internal pure {
        uint8 purpose = uint8(data >> 240);
        if (purpose == 0 || purpose > MAX_PURPOSE) revert LedgerInvalidPurpose(index, purpose);
        revert LedgerNonZeroPadding(index, data);
    }
}
