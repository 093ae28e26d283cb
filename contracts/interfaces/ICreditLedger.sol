// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title ICreditLedger
 * @notice Batched, append-only record of hashed credit events and inquiries from consortium lenders.
 * @dev Item encoding (four 32-byte words per item, see docs/data-dictionary.md):
 *
 *   word 0  subject key   HMAC-SHA256 of the borrower's normalised id under the consortium secret (never the id)
 *   word 1  loan key      for credit events; the consent hash for inquiries
 *   word 2  record hash   commitment to the full off-chain record (or to the inquiry record)
 *   word 3  data          big-endian packed fields; byte 0 is the item type:
 *                         1 LoanOpened, 2 Repayment, 3 Overdue, 4 Default, 5 Settled, 6 WrittenOff, 16 Inquiry.
 *                         Credit events: bytes 1-4 occurred-on day (days since 1970-01-01), bytes 5-12 amount in
 *                         fen (principal or outstanding), bytes 13-20 overdue amount in fen, bytes 21-22 days past
 *                         due, bytes 23-31 zero. Inquiries: byte 1 purpose code (1-6), bytes 2-31 zero.
 *
 * Every other member may be hostile or buggy, so the contract checks every field of the data word that it can
 * check from the word alone (see {recordBatch}): exactly the rules the gateway's own validation guarantees for its
 * records, so an honest gateway never meets these errors. What needs off-chain knowledge (that a record hash
 * commits to a real record, that a loan key's events form a plausible history, that a loan was opened before it
 * is repaid) stays with the readers, which treat every log as untrusted.
 */
interface ICreditLedger {
    /// @notice A pointer to a record already on chain, with the proof that it was recorded by `lender`.
    /// @param lender The lender that recorded the original batch.
    /// @param seq The batch's sequence number.
    /// @param index The record's position in the batch.
    /// @param batchRecordHashes Every record hash of that batch, in order, with zero in place of each inquiry
    /// (their keccak256 is the batch digest).
    struct RecordRef {
        address lender;
        uint64 seq;
        uint256 index;
        bytes32[] batchRecordHashes;
    }

    /// @notice How a dispute was closed.
    enum DisputeOutcome {
        None,
        Upheld,
        Corrected
    }

    // ------------------------------------------------------------------ errors

    /// @notice Thrown when `account` is not an active lender but tried to write.
    /// @param account The caller.
    error LedgerNotActiveLender(address account);

    /// @notice Thrown when a write is attempted while governance has paused the consortium.
    error LedgerPaused();

    /// @notice Thrown when a batch's sequence number is not the lender's next one (a replay or a reorder).
    /// @param expected The lender's next sequence number.
    /// @param got The sequence number given.
    error LedgerBatchOutOfOrder(uint64 expected, uint64 got);

    /// @notice Thrown when a batch has no items.
    error LedgerEmptyBatch();

    /// @notice Thrown when a batch has more items than `MAX_BATCH_SIZE`.
    /// @param size Items given.
    /// @param max The maximum.
    error LedgerBatchTooLarge(uint256 size, uint256 max);

    /// @notice Thrown when the item words are not a whole number of four-word items.
    /// @param words The number of words given.
    error LedgerMalformedBatch(uint256 words);

    /// @notice Thrown when an item has a zero subject key, loan key (or consent hash) or record hash.
    /// @param index The item's position in the batch.
    error LedgerZeroKey(uint256 index);

    /// @notice Thrown when an item's type byte is not a known type, or is an inquiry given to {correctRecord}.
    /// @param index The item's position in the batch.
    /// @param itemType The type byte.
    error LedgerUnknownItemType(uint256 index, uint8 itemType);

    /// @notice Thrown when a credit event's day is before EARLIEST_DAY (7305: 1990-01-01) or after the day after the
    /// block's day (`block.timestamp / 86400 + 1`: a gateway in UTC+8 may already be one day ahead of UTC).
    /// @param index The item's position in the batch.
    /// @param day The item's day (days since 1970-01-01).
    /// @param earliest The earliest day accepted.
    /// @param latest The latest day accepted in this block.
    error LedgerInvalidDay(uint256 index, uint32 day, uint32 earliest, uint32 latest);

    /// @notice Thrown when a credit event's amounts do not fit its type. Every type: amount and overdue amount
    /// <= MAX_FEN (10^15), days past due <= MAX_DAYS_PAST_DUE (36,500). LoanOpened: amount > 0, overdue amount
    /// and days past due 0. Repayment, Overdue, Default: overdue amount <= amount. Overdue: overdue amount > 0 and
    /// days past due > 0. Settled: all three 0. WrittenOff: nothing more.
    /// @param index The item's position in the batch.
    /// @param itemType The item's type.
    /// @param amountFen Bytes 5-12: the principal (LoanOpened) or the outstanding balance, in fen.
    /// @param overdueFen Bytes 13-20: the overdue amount, in fen.
    /// @param daysPastDue Bytes 21-22: days past due.
    error LedgerInvalidAmounts(uint256 index, uint8 itemType, uint64 amountFen, uint64 overdueFen, uint16 daysPastDue);

    /// @notice Thrown when an inquiry's purpose code is not one of 1-6 (loan application, post-loan management,
    /// guarantee, dispute verification, regulatory, the person's own report).
    /// @param index The item's position in the batch.
    /// @param purpose The purpose byte.
    error LedgerInvalidPurpose(uint256 index, uint8 purpose);

    /// @notice Thrown when the bytes a data word does not use (credit event: 23-31; inquiry: 2-31) are not zero.
    /// @param index The item's position in the batch.
    /// @param data The whole data word.
    error LedgerNonZeroPadding(uint256 index, uint256 data);

    /// @notice Thrown when a record reference does not match the digest stored for that batch.
    /// @param lender The lender named in the reference.
    /// @param seq The batch named in the reference.
    error LedgerInvalidRecordRef(address lender, uint64 seq);

    /// @notice Thrown when a lender tries to correct a record recorded by another lender.
    /// @param caller The caller.
    /// @param recorder The lender that recorded the original.
    error LedgerNotRecordOwner(address caller, address recorder);

    /// @notice Thrown when a dispute is opened or closed by someone other than the recording lender or a governor.
    /// @param caller The caller.
    error LedgerNotDisputeParty(address caller);

    /// @notice Thrown when opening a dispute that is already open.
    /// @param lender The recording lender.
    /// @param recordHash The record.
    error LedgerDisputeAlreadyOpen(address lender, bytes32 recordHash);

    /// @notice Thrown when resolving a dispute that is not open, or with outcome `None`.
    /// @param lender The recording lender.
    /// @param recordHash The record.
    error LedgerDisputeNotOpen(address lender, bytes32 recordHash);

    /// @notice Thrown when a dispute is opened without the objection's hash, or resolved without its detail (the
    /// correction's record hash, or the reason code the record was upheld for).
    error LedgerDisputeMissingHash();

    /// @notice Thrown when a member has opened its quota of disputes for the day (UTC).
    /// @param opener The caller.
    /// @param max Disputes one member may open per day.
    error LedgerDisputeQuotaExceeded(address opener, uint256 max);

    // ------------------------------------------------------------------ events

    /// @notice Emitted for each credit event recorded.
    /// @param subjectKey The borrower's subject key.
    /// @param lender The recording lender.
    /// @param recordHash Commitment to the full off-chain record.
    /// @param loanKey The loan's key.
    /// @param data Packed type, date and amounts (see the interface notes).
    event CreditEventRecorded(
        bytes32 indexed subjectKey, address indexed lender, bytes32 indexed recordHash, bytes32 loanKey, uint256 data
    );

    /// @notice Emitted for each pre-loan or post-loan inquiry recorded.
    /// @param subjectKey The borrower's subject key.
    /// @param lender The inquiring lender.
    /// @param inquiryHash Commitment to the inquiry record (the gateway's audit entry).
    /// @param consentHash Hash of the borrower's consent reference.
    /// @param data Packed type (16) and purpose code.
    event InquiryRecorded(
        bytes32 indexed subjectKey,
        address indexed lender,
        bytes32 indexed inquiryHash,
        bytes32 consentHash,
        uint256 data
    );

    /// @notice Emitted for each correction, after the corrected event.
    /// @param lender The lender that recorded both the original and the correction.
    /// @param originalRecordHash The record being replaced.
    /// @param recordHash The replacing record (emitted as a {CreditEventRecorded} in the same transaction).
    event CreditEventCorrected(address indexed lender, bytes32 indexed originalRecordHash, bytes32 indexed recordHash);

    /// @notice Emitted once per accepted batch (a correction is a batch of one).
    /// @param lender The recording lender.
    /// @param seq The batch's sequence number.
    /// @param itemCount Items in the batch.
    /// @param digest keccak256 of the batch's record hashes in order, zero in place of each inquiry.
    event BatchRecorded(address indexed lender, uint64 indexed seq, uint256 itemCount, bytes32 digest);

    /// @notice Emitted when a dispute on a record is opened.
    /// @param lender The recording lender.
    /// @param recordHash The disputed record.
    /// @param openedBy The active lender (on the borrower's behalf) or governor that opened it.
    /// @param objectionHash Commitment to the borrower's objection, which the opening member keeps.
    /// @param openedToday Disputes `openedBy` has opened this day (UTC), this one included.
    /// @param openedTotal Disputes `openedBy` has ever opened, this one included.
    event DisputeOpened(
        address indexed lender,
        bytes32 indexed recordHash,
        address indexed openedBy,
        bytes32 objectionHash,
        uint32 openedToday,
        uint64 openedTotal
    );

    /// @notice Emitted when a dispute on a record is closed.
    /// @param lender The recording lender.
    /// @param recordHash The disputed record.
    /// @param resolvedBy The lender itself or a governor.
    /// @param outcome Upheld (the record stands) or Corrected (a correction was recorded).
    /// @param detail For Corrected, the correction's record hash; for Upheld, the reason code (docs/disputes.md).
    event DisputeResolved(
        address indexed lender,
        bytes32 indexed recordHash,
        address indexed resolvedBy,
        DisputeOutcome outcome,
        bytes32 detail
    );

    // ------------------------------------------------------------------ functions

    /**
     * @notice Records a batch of credit events and inquiries.
     * @dev Exactly-once without a storage write per item: `seq` must equal the next sequence number of the caller's
     * lane ({nextSequenceInLane}) and advances by one per batch, so a replayed or reordered batch reverts with
     * {LedgerBatchOutOfOrder}. The caller is a lender (lane 0) or one of its delegate signers (its lane, see
     * {IConsortiumRegistry-addSigner}); either way the items are the lender's.
     * One storage slot per batch keeps the batch digest, which later proves record ownership for corrections.
     *
     * Each item is checked in byte order, and the first failing check of the first failing item reverts the whole
     * batch: non-zero keys ({LedgerZeroKey}), a known type ({LedgerUnknownItemType}); for a credit event its day
     * ({LedgerInvalidDay}), its amounts for its type ({LedgerInvalidAmounts}) and zero unused bytes
     * ({LedgerNonZeroPadding}); for an inquiry its purpose ({LedgerInvalidPurpose}) and zero unused bytes.
     *
     * Requirements:
     * - the caller is an active lender, or an active delegate signer of one, and the consortium is not paused;
     * - `seq` is the next sequence number of the caller's lane;
     * - `items` holds 1 ..= MAX_BATCH_SIZE four-word items, each valid as above.
     *
     * Emits one {CreditEventRecorded} or {InquiryRecorded} per item, then {BatchRecorded}.
     * @param seq The next sequence number of the caller's lane.
     * @param items The items, four words each.
     */
    function recordBatch(uint64 seq, bytes32[] calldata items) external;

    /**
     * @notice Records a credit event that replaces one of the caller's earlier records.
     * @dev Ownership is proven against the stored digest of the original's batch instead of a per-record slot:
     * recording stays at one slot per batch, and a correction pays for the original batch's hashes in calldata.
     * The correction is a batch of one and consumes a sequence number. Inquiries cannot be corrected (they sit
     * in the digest as zero). A record may be corrected more than once; readers apply the latest in chain order.
     *
     * Requirements:
     * - as for {recordBatch}, with a single credit-event item (checked as there, at index 0);
     * - `original` matches a stored batch digest and its lender is the caller.
     *
     * Emits {CreditEventRecorded}, {CreditEventCorrected} and {BatchRecorded}.
     * @param seq The next sequence number of the caller's lane.
     * @param original The record being corrected.
     * @param item The replacing credit event, four words.
     */
    function correctRecord(uint64 seq, RecordRef calldata original, bytes32[4] calldata item) external;

    /**
     * @notice Flags a record as disputed by its borrower (征信业管理条例 art. 25), on the borrower's behalf.
     * @dev A borrower objects through whichever lender they deal with, so any active lender may open a dispute on
     * any lender's record. Disputes are keyed by (lender, record hash) and do not prove the record exists (that
     * would cost the opener the batch proof corrections carry): readers ignore a dispute of a record they do not
     * hold. What bounds a hostile member is the daily quota, {MAX_DISPUTES_PER_DAY}, and the per-member counts
     * every {DisputeOpened} carries, so abuse is visible to all.
     *
     * Requirements:
     * - the caller is an active lender or an active governor; the consortium is not paused;
     * - `objectionHash` is not zero; the caller has opened fewer than the daily quota today (UTC);
     * - no dispute is open on that record.
     *
     * Emits {DisputeOpened}.
     * @param lender The lender that recorded the record.
     * @param recordHash The record.
     * @param objectionHash Commitment to the objection (kept off chain by the caller).
     */
    function openDispute(address lender, bytes32 recordHash, bytes32 objectionHash) external;

    /**
     * @notice Closes a dispute.
     *
     * Requirements:
     * - the caller is the recording lender (active) or an active governor; the consortium is not paused;
     * - the dispute is open and `outcome` is not `None`; `detail` is not zero.
     *
     * Readers check what the chain cannot: that a Corrected dispute's `detail` is a correction of that record by
     * its lender, and that an Upheld one's is a known reason code.
     *
     * Emits {DisputeResolved}.
     * @param lender The lender that recorded the record.
     * @param recordHash The record.
     * @param outcome How it was closed.
     * @param detail The correction's record hash (Corrected) or the reason code (Upheld).
     */
    function resolveDispute(address lender, bytes32 recordHash, DisputeOutcome outcome, bytes32 detail) external;

    /// @notice The sequence number `lender`'s next batch from its own key (lane 0) must carry (starts at 0).
    /// @param lender The lender.
    /// @return The next sequence number.
    function nextSequence(address lender) external view returns (uint64);

    /// @notice The sequence number the next batch of `lender`'s lane `lane` must carry: `lane << 56 | n`, where n
    /// counts the lane's batches from 0.
    /// @param lender The lender.
    /// @param lane The lane (0: the lender's own key; 1-16: its delegate signers').
    /// @return The next sequence number.
    function nextSequenceInLane(address lender, uint8 lane) external view returns (uint64);

    /// @notice The digest of `lender`'s batch `seq` (zero if none).
    /// @param lender The lender.
    /// @param seq The batch.
    /// @return keccak256 of the batch's record hashes (zero in place of inquiries).
    function batchDigest(address lender, uint64 seq) external view returns (bytes32);

    /// @notice Whether a dispute is open on `lender`'s record `recordHash`.
    /// @param lender The lender.
    /// @param recordHash The record.
    /// @return True if open.
    function isDisputed(address lender, bytes32 recordHash) external view returns (bool);

    /// @notice How many disputes `opener` has opened: this day (UTC) and ever.
    /// @param opener The member.
    /// @return today Disputes opened this day.
    /// @return total Disputes opened ever.
    function disputesOpenedBy(address opener) external view returns (uint32 today, uint64 total);

    /// @notice The consortium registry this ledger takes membership and pause state from.
    /// @return The registry's address.
    function registry() external view returns (address);
}
