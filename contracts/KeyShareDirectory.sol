// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";
import {IKeyShareDirectory} from "./interfaces/IKeyShareDirectory.sol";

/**
 * @title KeyShareDirectory
 * @notice Publishes, by consortium governance, the threshold-OPRF key-share holders gateways trust, and keeps the
 * heads of the holders' evaluation logs.
 * @dev Design choices:
 * - Governance comes from the {ConsortiumRegistry}: its active governors approve, its threshold decides. A share set
 *   is not a registry proposal; governors approve the set itself, identified by its digest, which includes the
 *   registry's governance epoch. So approvals given before a change to the governor set or the threshold count
 *   towards a digest that can no longer be approved (the same replay rule as the registry's proposals), without a
 *   loop over open approvals.
 * - Versions go up by one, and a version becomes current once: competing sets for the same version may collect
 *   approvals, the first to reach the threshold wins, and the others can no longer be approved.
 * - At most MAX_HOLDERS holders, so validating a set (the distinct-accounts check is pairwise) and storing it are
 *   bounded: three slots per holder (index and account packed, public key, URL) plus one for its account's entry,
 *   written over the previous set's slots in place. An account's entry names the version it belongs to, so a new
 *   set needs no loop to forget the previous one's accounts.
 * - Anchors are kept per holder index, across versions, so a holder's log goes on when the set is refreshed. Only
 *   the account of a holder of the current set anchors, and its sequence numbers only grow.
 */
contract KeyShareDirectory is IKeyShareDirectory {
    /// @notice Most holders one share set may have.
    uint256 public constant MAX_HOLDERS = 16;
    /// @notice Longest holder URL, in bytes.
    uint256 public constant MAX_URL_LENGTH = 200;

    /// @dev A holder as stored: {Holder} with the index packed beside the account (three slots, not four).
    struct StoredHolder {
        uint16 index;
        address account;
        bytes32 publicKey;
        string url;
    }

    /// @dev Which holder an account is, in which version (only entries of the current version count).
    struct HolderRef {
        uint64 version;
        uint16 index;
    }

    /// @dev The last evaluation-log head anchored for one holder index (seq 0: never anchored).
    struct Anchor {
        uint64 seq;
        uint64 at;
        bytes32 head;
    }

    IConsortiumRegistry private immutable _registry;

    uint64 private _version;
    uint16 private _threshold;
    bytes32 private _groupPublicKey;
    StoredHolder[] private _holders;

    mapping(address account => HolderRef) private _holderOf;
    mapping(uint16 index => Anchor) private _anchors;
    mapping(bytes32 digest => uint256 count) private _approvals;
    mapping(bytes32 digest => mapping(address governor => bool)) private _approved;

    /// @dev Reverts with {KeyShareNotGovernor} unless the caller is an active governor of the registry.
    modifier onlyGovernor() {
        _checkGovernor(msg.sender);
        _;
    }

    /// @param registry_ The consortium registry whose governors approve share sets.
    constructor(IConsortiumRegistry registry_) {
        _registry = registry_;
    }

    // ------------------------------------------------------------------ writes

    /// @inheritdoc IKeyShareDirectory
    function approveShareSet(uint64 version, uint16 threshold_, bytes32 groupPublicKey_, Holder[] calldata holders_)
        external
        onlyGovernor
        returns (bytes32 digest)
    {
        _validate(version, threshold_, groupPublicKey_, holders_);
        digest = keccak256(abi.encode(version, threshold_, groupPublicKey_, holders_, _registry.governanceEpoch()));
        uint256 count = _approve(digest, version);
        if (count >= _registry.threshold()) _activate(version, threshold_, groupPublicKey_, holders_, digest);
    }

    /// @inheritdoc IKeyShareDirectory
    function anchor(uint64 seq, bytes32 head) external {
        uint16 index = _indexOf(msg.sender);
        if (index == 0) revert KeyShareNotHolder(msg.sender);
        Anchor storage last = _anchors[index];
        uint64 lastSeq = last.seq;
        if (seq <= lastSeq) revert KeyShareAnchorOutOfOrder(index, lastSeq, seq);
        if (head == bytes32(0)) revert KeyShareZeroHead();
        last.seq = seq;
        last.at = uint64(block.timestamp);
        last.head = head;
        emit LogAnchored(index, msg.sender, seq, head);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IKeyShareDirectory
    function currentVersion() external view returns (uint64) {
        return _version;
    }

    /// @inheritdoc IKeyShareDirectory
    function threshold() external view returns (uint16) {
        return _threshold;
    }

    /// @inheritdoc IKeyShareDirectory
    function groupPublicKey() external view returns (bytes32) {
        return _groupPublicKey;
    }

    /// @inheritdoc IKeyShareDirectory
    function holders() external view returns (Holder[] memory list) {
        uint256 n = _holders.length;
        list = new Holder[](n);
        for (uint256 i = 0; i < n; ++i) {
            StoredHolder storage h = _holders[i];
            list[i] = Holder(h.index, h.publicKey, h.account, h.url);
        }
    }

    /// @inheritdoc IKeyShareDirectory
    function holderIndexOf(address account) external view returns (uint16) {
        return _indexOf(account);
    }

    /// @inheritdoc IKeyShareDirectory
    function lastAnchor(uint16 index) external view returns (uint64 seq, bytes32 head, uint64 at) {
        Anchor storage a = _anchors[index];
        return (a.seq, a.head, a.at);
    }

    /// @inheritdoc IKeyShareDirectory
    function approvals(bytes32 digest) external view returns (uint256) {
        return _approvals[digest];
    }

    /// @inheritdoc IKeyShareDirectory
    function hasApproved(bytes32 digest, address governor) external view returns (bool) {
        return _approved[digest][governor];
    }

    /// @inheritdoc IKeyShareDirectory
    function registry() external view returns (address) {
        return address(_registry);
    }

    // ------------------------------------------------------------------ internals

    /// @dev The index of `account` in the current share set, or 0.
    function _indexOf(address account) internal view returns (uint16) {
        HolderRef storage ref = _holderOf[account];
        return ref.version == _version ? ref.index : 0;
    }

    /// @dev Reverts with {KeyShareNotGovernor} unless `account` is an active governor of the registry.
    function _checkGovernor(address account) internal view {
        if (!_registry.isActive(account, IConsortiumRegistry.Role.Governor)) revert KeyShareNotGovernor(account);
    }

    /// @dev Checks a share set against the current version and its own rules, in the order the interface states.
    function _validate(uint64 version, uint16 threshold_, bytes32 groupPublicKey_, Holder[] calldata holders_)
        internal
        view
    {
        uint64 expected = _version + 1;
        if (version != expected) revert KeyShareInvalidVersion(expected, version);
        uint256 n = holders_.length;
        if (n == 0 || n > MAX_HOLDERS) revert KeyShareInvalidHolderCount(n, MAX_HOLDERS);
        if (threshold_ == 0 || threshold_ > n) revert KeyShareInvalidThreshold(threshold_, n);
        if (groupPublicKey_ == bytes32(0)) revert KeyShareZeroGroupKey();
        uint16 previousIndex = 0;
        for (uint256 i = 0; i < n; ++i) {
            previousIndex = _checkHolder(holders_, i, previousIndex);
        }
    }

    /// @dev Checks holder `i` (index above `previousIndex`, public key, account distinct from the earlier holders',
    /// URL) and returns its index.
    function _checkHolder(Holder[] calldata holders_, uint256 i, uint16 previousIndex) internal pure returns (uint16) {
        Holder calldata h = holders_[i];
        uint16 index = h.index;
        if (index <= previousIndex) revert KeyShareInvalidIndex(i, index);
        if (h.publicKey == bytes32(0)) revert KeyShareZeroPublicKey(i);
        address account = h.account;
        if (account == address(0)) revert KeyShareZeroAccount(i);
        // Pairwise, bounded by MAX_HOLDERS (at most 120 comparisons per set).
        for (uint256 j = 0; j < i; ++j) {
            if (holders_[j].account == account) revert KeyShareDuplicateAccount(i, account);
        }
        uint256 urlLength = bytes(h.url).length;
        if (urlLength == 0 || urlLength > MAX_URL_LENGTH) revert KeyShareInvalidUrl(i, urlLength);
        return index;
    }

    /// @dev Records the caller's approval of `digest` and returns the approvals so far. Emits {ShareSetApproved}.
    function _approve(bytes32 digest, uint64 version) internal returns (uint256 count) {
        if (_approved[digest][msg.sender]) revert KeyShareAlreadyApproved(digest, msg.sender);
        _approved[digest][msg.sender] = true;
        count = _approvals[digest] + 1;
        _approvals[digest] = count;
        emit ShareSetApproved(digest, version, msg.sender, count);
    }

    /// @dev Makes a validated share set the current one, overwriting the previous holder list in place (at most
    /// MAX_HOLDERS writes and MAX_HOLDERS pops). Emits {ShareSetActivated}.
    function _activate(
        uint64 version,
        uint16 threshold_,
        bytes32 groupPublicKey_,
        Holder[] calldata holders_,
        bytes32 digest
    ) internal {
        _version = version;
        _threshold = threshold_;
        _groupPublicKey = groupPublicKey_;
        uint256 n = holders_.length;
        uint256 previous = _holders.length;
        for (uint256 i = 0; i < n; ++i) {
            Holder calldata h = holders_[i];
            StoredHolder storage stored = i < previous ? _holders[i] : _holders.push();
            stored.index = h.index;
            stored.account = h.account;
            stored.publicKey = h.publicKey;
            stored.url = h.url;
            _holderOf[h.account] = HolderRef(version, h.index);
        }
        for (uint256 i = n; i < previous; ++i) {
            _holders.pop();
        }
        emit ShareSetActivated(version, threshold_, groupPublicKey_, digest);
    }
}
