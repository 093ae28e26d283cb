// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";

/**
 * @title ConsortiumRegistry
 * @notice Who belongs to the creditshare consortium, in which role, and the M-of-N governance that changes it.
 * @dev Design choices:
 * - One role per address. A company that both lends and governs uses two addresses.
 * - Every change goes through a proposal approved by `threshold` distinct active governors; the proposer's
 *   approval is counted on creation, so with a threshold above one no governor can act alone.
 * - The invariant `1 <= threshold <= activeGovernors` holds after every transaction: an action that would break
 *   it reverts with {RegistryInvalidThreshold}.
 * - Approvals are counted, not re-checked at execution. Instead a proposal is bound to the state it was created
 *   in, by three counters that only grow, and is stale once one of them has moved on:
 *   - the governance epoch: any change to the active governor set or to the threshold, so that a vote of a
 *     governor who has since been suspended or removed can never count;
 *   - the pause epoch (Pause and Unpause proposals): every pause or unpause, so that two old votes on an Unpause
 *     cannot lift a later emergency pause with one fresh vote;
 *   - the target member's version (member actions): every change to that member, so that old votes to reinstate
 *     or promote a member cannot be replayed after the member was changed again.
 *   Staleness is checked on every approval, including the one that executes, so every executed action had
 *   `threshold` approvals given after the last change relevant to it. This costs one comparison per counter per
 *   vote and needs no loop over open proposals.
 * - `Removed` is final; `Suspended` can be reinstated. Ledger writes check `recorderOf` on every call, so a
 *   suspension takes effect from the next block, for the lender's delegate signers too.
 * - A lender enlists its own delegate signers ({addSigner}) without governance: a signer only ever records for the
 *   lender that enlisted it, must consent by signature, is never a member, and lanes are bounded. One lookup
 *   ({recorderOf}) answers the ledger's question "for whom does this caller record, in which lane".
 */
contract ConsortiumRegistry is IConsortiumRegistry {
    uint256 private constant _MAX_NAME_LENGTH = 64;
    uint256 private constant _MAX_LIFETIME = 365 days;
    /// @notice Most delegate-signer lanes per lender (lanes 1 ..= MAX_LANES; lane 0 is the lender itself).
    uint8 public constant MAX_LANES = 16;

    mapping(address account => Member) private _members;
    mapping(uint256 proposalId => Proposal) private _proposals;
    mapping(uint256 proposalId => mapping(address governor => bool)) private _approved;
    mapping(address account => uint64 version) private _memberVersions;
    mapping(address account => Signer) private _signers;
    mapping(address lender => mapping(uint8 lane => address signer)) private _laneSigners;

    uint256 private _proposalCount;
    uint64 private immutable _proposalLifetime;
    uint64 private _epoch;
    uint64 private _pauseEpoch;
    uint32 private _threshold;
    uint32 private _activeGovernors;
    bool private _paused;

    /// @dev Reverts with {RegistryNotGovernor} unless the caller is an active governor.
    modifier onlyGovernor() {
        _checkGovernor(msg.sender);
        _;
    }

    /**
     * @notice Bootstraps the consortium with its initial governors.
     * @param governors Addresses of the initial governors (distinct, non-zero).
     * @param names Their display names.
     * @param initialThreshold Approvals a proposal needs (1 ..= governors.length).
     * @param lifetime Seconds a proposal stays open.
     */
    constructor(address[] memory governors, string[] memory names, uint256 initialThreshold, uint64 lifetime) {
        if (governors.length == 0 || governors.length != names.length) {
            revert RegistryInvalidBootstrap(governors.length, names.length);
        }
        if (lifetime == 0 || lifetime > _MAX_LIFETIME) revert RegistryInvalidLifetime(lifetime);
        _proposalLifetime = lifetime;
        for (uint256 i = 0; i < governors.length; ++i) {
            _admit(governors[i], Role.Governor, names[i]);
        }
        _setThreshold(initialThreshold);
    }

    // ------------------------------------------------------------------ governance

    /// @inheritdoc IConsortiumRegistry
    function propose(Action action, address target, Role role, uint256 value, string calldata name)
        external
        onlyGovernor
        returns (uint256 proposalId)
    {
        _validate(action, target, role, value, name);
        proposalId = ++_proposalCount;
        uint64 expiresAt = uint64(block.timestamp) + _proposalLifetime;
        Proposal storage p = _proposals[proposalId];
        p.action = action;
        p.role = role;
        p.expiresAt = expiresAt;
        p.epoch = _epoch;
        p.pauseEpoch = _pauseEpoch;
        p.target = target;
        p.targetVersion = _memberVersions[target];
        p.proposer = msg.sender;
        p.value = value;
        p.name = name;
        emit ProposalCreated(proposalId, msg.sender, target, action, role, value, name, expiresAt);
        _approve(proposalId, p);
    }

    /// @inheritdoc IConsortiumRegistry
    function approve(uint256 proposalId) external onlyGovernor {
        Proposal storage p = _proposals[proposalId];
        if (p.action == Action.None) revert RegistryUnknownProposal(proposalId);
        if (p.executed) revert RegistryProposalAlreadyExecuted(proposalId);
        if (block.timestamp > p.expiresAt) revert RegistryProposalExpired(proposalId, p.expiresAt);
        _checkFresh(proposalId, p);
        _approve(proposalId, p);
    }

    // ------------------------------------------------------------------ delegate signers

    /// @inheritdoc IConsortiumRegistry
    function addSigner(address signer, uint8 lane, bytes calldata proof) external {
        _checkSignerAvailable(msg.sender, signer, lane);
        _checkSignerProof(msg.sender, signer, lane, proof);
        _signers[signer] = Signer({lender: msg.sender, lane: lane, active: true});
        _laneSigners[msg.sender][lane] = signer;
        emit SignerAdded(msg.sender, signer, lane);
    }

    /// @inheritdoc IConsortiumRegistry
    function removeSigner(address signer) external {
        Signer storage s = _signers[signer];
        address lender = s.lender;
        if (!s.active || (msg.sender != lender && !_isActive(msg.sender, Role.Governor))) {
            revert RegistryCannotRemoveSigner(msg.sender, signer);
        }
        uint8 lane = s.lane;
        s.active = false;
        delete _laneSigners[lender][lane];
        emit SignerRemoved(lender, signer, lane, msg.sender);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IConsortiumRegistry
    function signerOf(address account) external view returns (Signer memory) {
        return _signers[account];
    }

    /// @inheritdoc IConsortiumRegistry
    function laneSigner(address lender, uint8 lane) external view returns (address) {
        return _laneSigners[lender][lane];
    }

    /// @inheritdoc IConsortiumRegistry
    function recorderOf(address account) external view returns (address lender, uint8 lane) {
        if (_isActive(account, Role.Lender)) return (account, 0);
        Signer memory s = _signers[account];
        if (s.active && _isActive(s.lender, Role.Lender)) return (s.lender, s.lane);
        return (address(0), 0);
    }

    /// @inheritdoc IConsortiumRegistry
    function signerConsentDigest(address lender, address signer, uint8 lane) public view returns (bytes32) {
        return keccak256(abi.encode("creditshare.signer.v1", block.chainid, address(this), lender, signer, lane));
    }

    /// @inheritdoc IConsortiumRegistry
    function member(address account) external view returns (Member memory) {
        return _members[account];
    }

    /// @inheritdoc IConsortiumRegistry
    function isActive(address account, Role role) external view returns (bool) {
        return _isActive(account, role);
    }

    /// @inheritdoc IConsortiumRegistry
    function proposal(uint256 proposalId) external view returns (Proposal memory) {
        return _proposals[proposalId];
    }

    /// @inheritdoc IConsortiumRegistry
    function hasApproved(uint256 proposalId, address governor) external view returns (bool) {
        return _approved[proposalId][governor];
    }

    /// @inheritdoc IConsortiumRegistry
    function proposalCount() external view returns (uint256) {
        return _proposalCount;
    }

    /// @inheritdoc IConsortiumRegistry
    function threshold() external view returns (uint256) {
        return _threshold;
    }

    /// @inheritdoc IConsortiumRegistry
    function activeGovernors() external view returns (uint256) {
        return _activeGovernors;
    }

    /// @inheritdoc IConsortiumRegistry
    function governanceEpoch() external view returns (uint64) {
        return _epoch;
    }

    /// @inheritdoc IConsortiumRegistry
    function pauseEpoch() external view returns (uint64) {
        return _pauseEpoch;
    }

    /// @inheritdoc IConsortiumRegistry
    function memberVersion(address account) external view returns (uint64) {
        return _memberVersions[account];
    }

    /// @inheritdoc IConsortiumRegistry
    function proposalLifetime() external view returns (uint64) {
        return _proposalLifetime;
    }

    /// @inheritdoc IConsortiumRegistry
    function paused() external view returns (bool) {
        return _paused;
    }

    // ------------------------------------------------------------------ internals

    /// @dev Whether `account` is an active member with `role`.
    function _isActive(address account, Role role) internal view returns (bool) {
        Member storage m = _members[account];
        return m.status == MemberStatus.Active && m.role == role;
    }

    /// @dev Reverts unless `lender` is an active lender, `signer` was never a member nor a signer, and `lane` is
    /// free.
    function _checkSignerAvailable(address lender, address signer, uint8 lane) internal view {
        if (!_isActive(lender, Role.Lender)) revert RegistryNotActiveLender(lender);
        if (signer == address(0) || _memberVersions[signer] != 0 || _signers[signer].lender != address(0)) {
            revert RegistrySignerUnavailable(signer);
        }
        if (lane == 0 || lane > MAX_LANES) revert RegistryInvalidLane(lane);
        address current = _laneSigners[lender][lane];
        if (current != address(0)) revert RegistryLaneTaken(lender, lane, current);
    }

    /// @dev Reverts with {RegistryInvalidSignerProof} unless `proof` is `signer`'s EIP-191 signature over
    /// {signerConsentDigest}, with a low `s` (no malleable twin).
    function _checkSignerProof(address lender, address signer, uint8 lane, bytes calldata proof) internal view {
        if (proof.length != 65) revert RegistryInvalidSignerProof(signer);
        bytes32 digest = keccak256(
            abi.encodePacked("\x19Ethereum Signed Message:\n32", signerConsentDigest(lender, signer, lane))
        );
        bytes32 r = bytes32(proof[0:32]);
        bytes32 s = bytes32(proof[32:64]);
        uint8 v = uint8(proof[64]);
        if (uint256(s) > 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0) {
            revert RegistryInvalidSignerProof(signer);
        }
        if (ecrecover(digest, v, r, s) != signer) revert RegistryInvalidSignerProof(signer);
    }

    /// @dev Reverts with {RegistryNotGovernor} unless `account` is an active governor.
    function _checkGovernor(address account) internal view {
        if (!_isActive(account, Role.Governor)) revert RegistryNotGovernor(account);
    }

    /// @dev Reverts with {RegistryProposalStale}, {RegistryProposalStalePause} or {RegistryProposalStaleTarget}
    /// when the state the proposal depends on has changed since it was created.
    function _checkFresh(uint256 proposalId, Proposal storage p) internal view {
        if (p.epoch != _epoch) revert RegistryProposalStale(proposalId, p.epoch, _epoch);
        Action action = p.action;
        if ((action == Action.Pause || action == Action.Unpause) && p.pauseEpoch != _pauseEpoch) {
            revert RegistryProposalStalePause(proposalId, p.pauseEpoch, _pauseEpoch);
        }
        address target = p.target;
        uint64 version = _memberVersions[target];
        if (p.targetVersion != version) {
            revert RegistryProposalStaleTarget(proposalId, target, p.targetVersion, version);
        }
    }

    /// @dev Records the caller's approval and executes the proposal once the threshold is met.
    function _approve(uint256 proposalId, Proposal storage p) internal {
        if (_approved[proposalId][msg.sender]) revert RegistryAlreadyApproved(proposalId, msg.sender);
        _approved[proposalId][msg.sender] = true;
        uint16 approvals = p.approvals + 1;
        p.approvals = approvals;
        emit ProposalApproved(proposalId, msg.sender, approvals, _threshold);
        if (approvals >= _threshold) {
            p.executed = true;
            emit ProposalExecuted(proposalId, p.action);
            _execute(proposalId, p);
        }
    }

    /// @dev Checks that an action is well-formed and applicable to the current state, without changing it.
    /// Arguments the action does not use must be zero, so the proposal shows exactly what will execute.
    function _validate(Action action, address target, Role role, uint256 value, string calldata name)
        internal
        view
    {
        bool usesTarget = action >= Action.Admit && action <= Action.Remove;
        bool usesRole = action == Action.Admit || action == Action.ChangeRole;
        if (
            (!usesTarget && target != address(0)) || (!usesRole && role != Role.None)
                || (action != Action.SetThreshold && value != 0) || (action != Action.Admit && bytes(name).length != 0)
        ) revert RegistryUnusedArgument(action);

        if (action == Action.Admit) {
            if (target == address(0)) revert RegistryZeroAddress();
            MemberStatus status = _members[target].status;
            if (status != MemberStatus.None) revert RegistryMemberExists(target, status);
            if (_signers[target].lender != address(0)) revert RegistryAccountIsSigner(target);
            _checkRole(role);
            _checkName(name);
        } else if (action == Action.ChangeRole) {
            _checkRole(role);
            Member storage m = _members[target];
            _checkStatus(target, m.status, MemberStatus.Active, MemberStatus.Suspended);
            if (m.role == role) revert RegistryRoleUnchanged(target, role);
            if (m.role == Role.Governor) _checkGovernorLeaving(target);
        } else if (action == Action.Suspend) {
            _checkStatus(target, _members[target].status, MemberStatus.Active, MemberStatus.Active);
            _checkGovernorLeaving(target);
        } else if (action == Action.Reinstate) {
            _checkStatus(target, _members[target].status, MemberStatus.Suspended, MemberStatus.Suspended);
        } else if (action == Action.Remove) {
            _checkStatus(target, _members[target].status, MemberStatus.Active, MemberStatus.Suspended);
            _checkGovernorLeaving(target);
        } else if (action == Action.SetThreshold) {
            if (value == 0 || value > _activeGovernors) revert RegistryInvalidThreshold(value, _activeGovernors);
            if (value == _threshold) revert RegistryThresholdUnchanged(value);
        } else if (action == Action.Pause) {
            if (_paused) revert RegistryPauseUnchanged(true);
        } else if (action == Action.Unpause) {
            if (!_paused) revert RegistryPauseUnchanged(false);
        } else {
            revert RegistryInvalidAction();
        }
    }

    /// @dev At proposal time: reverts with {RegistryInvalidThreshold} if `account` is an active governor whose
    /// departure would leave fewer active governors than the threshold (such a proposal could never execute).
    function _checkGovernorLeaving(address account) internal view {
        Member storage m = _members[account];
        if (m.role == Role.Governor && m.status == MemberStatus.Active && _activeGovernors - 1 < _threshold) {
            revert RegistryInvalidThreshold(_threshold, _activeGovernors - 1);
        }
    }

    /// @dev Applies an approved proposal; re-validates because the state may have changed since creation.
    function _execute(uint256 proposalId, Proposal storage p) internal {
        Action action = p.action;
        address target = p.target;
        if (action == Action.Admit) {
            _admit(target, p.role, p.name);
        } else if (action == Action.ChangeRole) {
            _changeRole(target, p.role);
        } else if (action == Action.Suspend) {
            _setStatus(target, MemberStatus.Suspended);
        } else if (action == Action.Reinstate) {
            _setStatus(target, MemberStatus.Active);
        } else if (action == Action.Remove) {
            _setStatus(target, MemberStatus.Removed);
        } else if (action == Action.SetThreshold) {
            _setThreshold(p.value);
        } else {
            _setPaused(proposalId, action == Action.Pause);
        }
    }

    /// @dev Adds a new active member. Emits {MemberAdmitted}.
    function _admit(address account, Role role, string memory name) internal {
        if (account == address(0)) revert RegistryZeroAddress();
        Member storage m = _members[account];
        if (m.status != MemberStatus.None) revert RegistryMemberExists(account, m.status);
        if (_signers[account].lender != address(0)) revert RegistryAccountIsSigner(account);
        _checkRole(role);
        _checkName(name);
        m.role = role;
        m.status = MemberStatus.Active;
        m.since = uint64(block.timestamp);
        m.name = name;
        _advanceMemberVersion(account);
        emit MemberAdmitted(account, role, name);
        if (role == Role.Governor) _adjustGovernors(true);
    }

    /// @dev Changes the role of an active or suspended member. Emits {MemberRoleChanged}.
    function _changeRole(address account, Role role) internal {
        _checkRole(role);
        Member storage m = _members[account];
        MemberStatus status = m.status;
        _checkStatus(account, status, MemberStatus.Active, MemberStatus.Suspended);
        Role previous = m.role;
        if (previous == role) revert RegistryRoleUnchanged(account, role);
        m.role = role;
        m.since = uint64(block.timestamp);
        _advanceMemberVersion(account);
        emit MemberRoleChanged(account, previous, role);
        if (status == MemberStatus.Active) {
            if (previous == Role.Governor) _adjustGovernors(false);
            else if (role == Role.Governor) _adjustGovernors(true);
        }
    }

    /// @dev Moves a member to `next` (Suspended, Active or Removed). Emits {MemberStatusChanged}.
    function _setStatus(address account, MemberStatus next) internal {
        Member storage m = _members[account];
        MemberStatus previous = m.status;
        if (next == MemberStatus.Suspended) {
            _checkStatus(account, previous, MemberStatus.Active, MemberStatus.Active);
        } else if (next == MemberStatus.Active) {
            _checkStatus(account, previous, MemberStatus.Suspended, MemberStatus.Suspended);
        } else {
            _checkStatus(account, previous, MemberStatus.Active, MemberStatus.Suspended);
        }
        Role role = m.role;
        m.status = next;
        m.since = uint64(block.timestamp);
        _advanceMemberVersion(account);
        emit MemberStatusChanged(account, previous, next);
        if (role == Role.Governor) {
            bool wasActive = previous == MemberStatus.Active;
            bool isNowActive = next == MemberStatus.Active;
            if (wasActive != isNowActive) _adjustGovernors(isNowActive);
        }
    }

    /// @dev Sets the threshold within `1 ..= activeGovernors`. Emits {ThresholdChanged}.
    function _setThreshold(uint256 newThreshold) internal {
        if (newThreshold == 0 || newThreshold > _activeGovernors) {
            revert RegistryInvalidThreshold(newThreshold, _activeGovernors);
        }
        uint256 previous = _threshold;
        _threshold = uint32(newThreshold);
        emit ThresholdChanged(previous, newThreshold);
        _advanceEpoch();
    }

    /// @dev Pauses or resumes ledger writes and advances the pause epoch, making every open Pause and Unpause
    /// proposal stale. Emits {Paused} or {Unpaused}.
    function _setPaused(uint256 proposalId, bool pause) internal {
        if (_paused == pause) revert RegistryPauseUnchanged(_paused);
        _paused = pause;
        ++_pauseEpoch;
        if (pause) emit Paused(proposalId);
        else emit Unpaused(proposalId);
    }

    /// @dev Counts a governor in or out, keeping `threshold <= activeGovernors`, and advances the epoch.
    function _adjustGovernors(bool added) internal {
        uint32 count = added ? _activeGovernors + 1 : _activeGovernors - 1;
        // During construction the threshold is still zero; it is set (and checked) right after.
        if (count < _threshold) revert RegistryInvalidThreshold(_threshold, count);
        _activeGovernors = count;
        _advanceEpoch();
    }

    /// @dev Makes every open proposal on `account` stale. The caller emits the member event that goes with it
    /// ({MemberAdmitted}, {MemberRoleChanged} or {MemberStatusChanged}), one per advance.
    function _advanceMemberVersion(address account) internal {
        ++_memberVersions[account];
    }

    /// @dev Makes every open proposal stale. Emits {GovernanceEpochAdvanced}.
    function _advanceEpoch() internal {
        uint64 epoch = _epoch + 1;
        _epoch = epoch;
        emit GovernanceEpochAdvanced(epoch);
    }

    /// @dev Reverts with {RegistryInvalidRole} unless `role` is Lender, Auditor or Governor.
    function _checkRole(Role role) internal pure {
        if (role == Role.None) revert RegistryInvalidRole(role);
    }

    /// @dev Reverts with {RegistryInvalidName} unless `name` is 1..64 bytes.
    function _checkName(string memory name) internal pure {
        uint256 length = bytes(name).length;
        if (length == 0 || length > _MAX_NAME_LENGTH) revert RegistryInvalidName();
    }

    /// @dev Reverts with {RegistryInvalidStatus} unless `status` is `a` or `b`.
    function _checkStatus(address account, MemberStatus status, MemberStatus a, MemberStatus b) internal pure {
        if (status != a && status != b) revert RegistryInvalidStatus(account, status);
    }
}
