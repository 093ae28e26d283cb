// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IKeyShareDirectory
 * @notice The consortium's published set of threshold-OPRF key-share holders, and the heads of their evaluation logs.
 * @dev Subject keys v2 are OPRF outputs under a key k that is Shamir-shared t-of-n among key-share holders. A gateway
 * learns from this directory whom to trust (each holder's share public key pk_i = k_i·G, a 32-byte ristretto255
 * encoding, and the group public key k·G) and where to call it (its URL). Governance publishes a share set: each
 * active governor approves the same set, and the set becomes current in the approval that reaches the registry's
 * threshold. Each holder of the current set periodically anchors the head (sequence number, hash) of its hash-chained
 * evaluation log, so that it cannot later drop or rewrite what it answered.
 *
 * Declares every type, error and event of the directory so that clients decode them from one ABI.
 */
interface IKeyShareDirectory {
    /// @notice One key-share holder of a share set.
    /// @param index The holder's Shamir index (its x-coordinate, 1 or more); also names its evaluation log here.
    /// @param publicKey Its share public key pk_i = k_i·G (ristretto255, 32 bytes).
    /// @param account The address that anchors its evaluation log.
    /// @param url Where gateways call it (1-200 bytes).
    struct Holder {
        uint16 index;
        bytes32 publicKey;
        address account;
        string url;
    }

    // ------------------------------------------------------------------ errors

    /// @notice Thrown when `account` is not an active governor of the registry but tried to approve a share set.
    /// @param account The caller.
    error KeyShareNotGovernor(address account);

    /// @notice Thrown when a share set's version is not the current version plus one.
    /// @param expected The only version that can be approved now.
    /// @param version The version given.
    error KeyShareInvalidVersion(uint64 expected, uint64 version);

    /// @notice Thrown when a share set has no holders or more than MAX_HOLDERS.
    /// @param count The number of holders given.
    /// @param max MAX_HOLDERS.
    error KeyShareInvalidHolderCount(uint256 count, uint256 max);

    /// @notice Thrown when a share set's threshold is zero or above its number of holders.
    /// @param threshold The threshold given.
    /// @param holders The number of holders.
    error KeyShareInvalidThreshold(uint16 threshold, uint256 holders);

    /// @notice Thrown when a share set's group public key is zero.
    error KeyShareZeroGroupKey();

    /// @notice Thrown when a holder's index is zero or not above the previous holder's (indexes strictly increase).
    /// @param position The holder's position in the list.
    /// @param index Its index.
    error KeyShareInvalidIndex(uint256 position, uint16 index);

    /// @notice Thrown when a holder's share public key is zero.
    /// @param position The holder's position in the list.
    error KeyShareZeroPublicKey(uint256 position);

    /// @notice Thrown when a holder's account is the zero address.
    /// @param position The holder's position in the list.
    error KeyShareZeroAccount(uint256 position);

    /// @notice Thrown when a holder's account is also the account of an earlier holder of the same set.
    /// @param position The later holder's position in the list.
    /// @param account The account.
    error KeyShareDuplicateAccount(uint256 position, address account);

    /// @notice Thrown when a holder's URL is empty or longer than MAX_URL_LENGTH bytes.
    /// @param position The holder's position in the list.
    /// @param length The URL's length in bytes.
    error KeyShareInvalidUrl(uint256 position, uint256 length);

    /// @notice Thrown when a governor approves the same share set twice in the same governance epoch.
    /// @param digest The share set's digest.
    /// @param governor The governor.
    error KeyShareAlreadyApproved(bytes32 digest, address governor);

    /// @notice Thrown when `account` is not the account of a holder of the current share set but tried to anchor.
    /// @param account The caller.
    error KeyShareNotHolder(address account);

    /// @notice Thrown when an anchor's sequence number is not above the last one anchored for the holder's index.
    /// @param index The holder's index.
    /// @param lastSeq The last anchored sequence number.
    /// @param seq The sequence number given.
    error KeyShareAnchorOutOfOrder(uint16 index, uint64 lastSeq, uint64 seq);

    /// @notice Thrown when an anchored head is zero.
    error KeyShareZeroHead();

    // ------------------------------------------------------------------ events

    /// @notice Emitted when a governor approves a share set.
    /// @param digest The share set's digest (see {approveShareSet}).
    /// @param version The share set's version.
    /// @param governor The approving governor.
    /// @param approvals Approvals of `digest` so far, this one included.
    event ShareSetApproved(bytes32 indexed digest, uint64 indexed version, address indexed governor, uint256 approvals);

    /// @notice Emitted when a share set reached the threshold and became the current set; its holders are read with
    /// {holders} (the digest commits to them, and every approving transaction carries them).
    /// @param version The new current version.
    /// @param threshold Evaluations a gateway needs to combine (t of n).
    /// @param groupPublicKey The group public key k·G.
    /// @param digest The share set's digest.
    event ShareSetActivated(uint64 indexed version, uint16 threshold, bytes32 groupPublicKey, bytes32 digest);

    /// @notice Emitted when a holder anchors the head of its evaluation log.
    /// @param index The holder's index.
    /// @param account The holder's account.
    /// @param seq The log entry the head covers.
    /// @param head The log's hash at entry `seq`.
    event LogAnchored(uint16 indexed index, address indexed account, uint64 seq, bytes32 head);

    // ------------------------------------------------------------------ functions

    /**
     * @notice Approves a share set as the next version; it becomes current in the approval that reaches the
     * registry's threshold.
     * @dev Approvals are counted per digest = keccak256(abi.encode(version, threshold, groupPublicKey, holders,
     * governanceEpoch)), so governors approve exactly the same set, and approvals given before the registry's
     * governance epoch last advanced (any change to the active governor set or the threshold) never count: the same
     * replay rule as the registry's proposals. Once a version is current, every other set of that version can no
     * longer be approved ({KeyShareInvalidVersion}). Checks in this order: governor, version, holder count,
     * threshold, group key, then each holder in order (index, public key, account, URL), double approval.
     *
     * Requirements:
     * - the caller is an active governor that has not approved this digest;
     * - `version` is {currentVersion} + 1;
     * - 1 <= holders.length <= MAX_HOLDERS and 1 <= threshold <= holders.length;
     * - `groupPublicKey` is not zero; holder indexes are not zero and strictly increase; public keys are not zero;
     *   accounts are not zero and distinct; URLs are 1 ..= MAX_URL_LENGTH bytes.
     *
     * Emits {ShareSetApproved} and, when the set becomes current, {ShareSetActivated}.
     * @param version The new version.
     * @param threshold_ Evaluations a gateway needs to combine (t of n).
     * @param groupPublicKey_ The group public key k·G (ristretto255).
     * @param holders_ The holders, by strictly increasing index.
     * @return digest The share set's digest in the current governance epoch.
     */
    function approveShareSet(uint64 version, uint16 threshold_, bytes32 groupPublicKey_, Holder[] calldata holders_)
        external
        returns (bytes32 digest);

    /**
     * @notice Anchors the head of the caller's evaluation log.
     * @dev Anchors are kept per holder index across share-set versions: a holder keeps its index when the set is
     * refreshed, so its log goes on; a new holder takes an index not used before.
     *
     * Requirements:
     * - the caller is the account of a holder of the current share set;
     * - `seq` is above the last sequence number anchored for its index;
     * - `head` is not zero.
     *
     * Emits {LogAnchored}.
     * @param seq The log entry the head covers.
     * @param head The log's hash at entry `seq`.
     */
    function anchor(uint64 seq, bytes32 head) external;

    /// @notice The version of the current share set (0 before the first one).
    /// @return The version.
    function currentVersion() external view returns (uint64);

    /// @notice The threshold t of the current share set (0 before the first one).
    /// @return The threshold.
    function threshold() external view returns (uint16);

    /// @notice The group public key k·G of the current share set (zero before the first one).
    /// @return The key.
    function groupPublicKey() external view returns (bytes32);

    /// @notice The holders of the current share set, by increasing index (at most MAX_HOLDERS; empty before the
    /// first set).
    /// @return The holders.
    function holders() external view returns (Holder[] memory);

    /// @notice The index of `account` in the current share set.
    /// @param account The address.
    /// @return The index, or 0 if `account` holds no share of the current set.
    function holderIndexOf(address account) external view returns (uint16);

    /// @notice The last evaluation-log head anchored for holder index `index`.
    /// @param index The holder index.
    /// @return seq The log entry the head covers (0: never anchored).
    /// @return head The log's hash at entry `seq`.
    /// @return at Block timestamp of the anchor.
    function lastAnchor(uint16 index) external view returns (uint64 seq, bytes32 head, uint64 at);

    /// @notice Approvals of share-set digest `digest` so far.
    /// @param digest The digest.
    /// @return The number of distinct governors that approved it.
    function approvals(bytes32 digest) external view returns (uint256);

    /// @notice Returns whether `governor` approved share-set digest `digest`.
    /// @param digest The digest.
    /// @param governor The governor.
    /// @return True if approved.
    function hasApproved(bytes32 digest, address governor) external view returns (bool);

    /// @notice The consortium registry this directory takes its governors, threshold and governance epoch from.
    /// @return The registry's address.
    function registry() external view returns (address);
}
