// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IConsortiumRegistry
 * @notice Members of the creditshare consortium and the M-of-N governance that admits, changes and removes them.
 * @dev Declares every type, error and event of the registry so that clients decode them from one ABI.
 */
interface IConsortiumRegistry {
    /// @notice What a member may do. `Lender` records credit events and inquiries, `Auditor` only reads,
    /// `Governor` proposes and approves governance actions.
    enum Role {
        None,
        Lender,
        Auditor,
        Governor
    }

    /// @notice Lifecycle of a member. `Removed` is final: a removed address can never be admitted again.
    enum MemberStatus {
        None,
        Active,
        Suspended,
        Removed
    }

    /// @notice Governance actions a proposal can carry.
    enum Action {
        None,
        Admit,
        ChangeRole,
        Suspend,
        Reinstate,
        Remove,
        SetThreshold,
        Pause,
        Unpause
    }

    /// @notice A consortium member.
    /// @param role What the member may do.
    /// @param status Whether the member is active, suspended or removed.
    /// @param since Block timestamp of the last role or status change.
    /// @param name Display name shown in credit reports (e.g. the lender's registered name).
    struct Member {
        Role role;
        MemberStatus status;
        uint64 since;
        string name;
    }

    /// @notice A delegate signer: an address that records on a lender's behalf, in one of the lender's lanes.
    /// @param lender The lender (zero: never a signer).
    /// @param lane Its lane, 1 ..= MAX_LANES.
    /// @param active False once removed; a removed signer never records again and is never re-enlisted.
    struct Signer {
        address lender;
        uint8 lane;
        bool active;
    }

    /// @notice A governance proposal. It is bound to the state it was created in: once the governance epoch, the
    /// pause epoch (Pause/Unpause proposals) or the target's version (member actions) has moved on, it is stale and
    /// can no longer be approved, so every executed action had `threshold` approvals given after the last change
    /// relevant to it.
    /// @param action The action executed once `approvals` reaches the threshold.
    /// @param role The role for `Admit` and `ChangeRole`.
    /// @param executed Whether the action has been executed.
    /// @param approvals Number of distinct governors that approved.
    /// @param expiresAt Block timestamp after which the proposal can no longer be approved.
    /// @param epoch Governance epoch at creation; the proposal is stale once the epoch moves on.
    /// @param pauseEpoch Pause epoch at creation; a Pause or Unpause proposal is stale once it moves on.
    /// @param target The member the action applies to (zero for threshold and pause actions).
    /// @param targetVersion The target's version at creation; the proposal is stale once it moves on (always 0
    /// for the zero address).
    /// @param proposer The governor that created the proposal.
    /// @param value The new threshold for `SetThreshold`.
    /// @param name The display name for `Admit`.
    struct Proposal {
        Action action;
        Role role;
        bool executed;
        uint16 approvals;
        uint64 expiresAt;
        uint64 epoch;
        uint64 pauseEpoch;
        address target;
        uint64 targetVersion;
        address proposer;
        uint256 value;
        string name;
    }

    // ------------------------------------------------------------------ errors

    /// @notice Thrown when `account` is not an active governor but tried to propose or approve.
    /// @param account The caller.
    error RegistryNotGovernor(address account);

    /// @notice Thrown when the zero address is given as a member.
    error RegistryZeroAddress();

    /// @notice Thrown when a threshold would be zero or exceed the number of active governors.
    /// @param threshold The threshold that would result.
    /// @param activeGovernors The number of active governors that would result.
    error RegistryInvalidThreshold(uint256 threshold, uint256 activeGovernors);

    /// @notice Thrown when the proposal lifetime given at deployment is zero or longer than 365 days.
    /// @param lifetime The lifetime given, in seconds.
    error RegistryInvalidLifetime(uint256 lifetime);

    /// @notice Thrown when the governor and name lists given at deployment differ in length or are empty.
    /// @param governors Number of governor addresses.
    /// @param names Number of names.
    error RegistryInvalidBootstrap(uint256 governors, uint256 names);

    /// @notice Thrown when an action needs a role and `role` is `None`. (A value outside the enum reverts
    /// without data while the call's arguments are decoded.)
    /// @param role The role given.
    error RegistryInvalidRole(Role role);

    /// @notice Thrown when a proposal sets an argument its action does not use (e.g. a name on a Suspend), so
    /// that what governors approve is exactly what executes.
    /// @param action The action.
    error RegistryUnusedArgument(Action action);

    /// @notice Thrown when setting the threshold to its current value.
    /// @param threshold The current threshold.
    error RegistryThresholdUnchanged(uint256 threshold);

    /// @notice Thrown when a proposal names action `None`.
    error RegistryInvalidAction();

    /// @notice Thrown when a display name is empty or longer than 64 bytes.
    error RegistryInvalidName();

    /// @notice Thrown when admitting an address that is or was a member.
    /// @param account The address.
    /// @param status Its current status.
    error RegistryMemberExists(address account, MemberStatus status);

    /// @notice Thrown when an action does not apply to a member in its current status
    /// (e.g. suspending a suspended member, reinstating an active one, anything on a removed one).
    /// @param account The member.
    /// @param status Its current status.
    error RegistryInvalidStatus(address account, MemberStatus status);

    /// @notice Thrown when changing a member to the role it already has.
    /// @param account The member.
    /// @param role Its current role.
    error RegistryRoleUnchanged(address account, Role role);

    /// @notice Thrown when pausing a paused consortium or unpausing a running one.
    /// @param paused The current pause state.
    error RegistryPauseUnchanged(bool paused);

    /// @notice Thrown when a proposal id was never created.
    /// @param proposalId The id.
    error RegistryUnknownProposal(uint256 proposalId);

    /// @notice Thrown when approving a proposal after its expiry.
    /// @param proposalId The id.
    /// @param expiresAt Its expiry timestamp.
    error RegistryProposalExpired(uint256 proposalId, uint64 expiresAt);

    /// @notice Thrown when approving a proposal that has already been executed.
    /// @param proposalId The id.
    error RegistryProposalAlreadyExecuted(uint256 proposalId);

    /// @notice Thrown when approving a proposal created before the governor set or threshold changed.
    /// @param proposalId The id.
    /// @param proposalEpoch The epoch the proposal was created in.
    /// @param currentEpoch The current epoch.
    error RegistryProposalStale(uint256 proposalId, uint64 proposalEpoch, uint64 currentEpoch);

    /// @notice Thrown when approving a Pause or Unpause proposal created before the consortium was last paused or
    /// unpaused (an old vote must not re-apply a pause state that governance has since changed).
    /// @param proposalId The id.
    /// @param proposalPauseEpoch The pause epoch the proposal was created in.
    /// @param currentPauseEpoch The current pause epoch.
    error RegistryProposalStalePause(uint256 proposalId, uint64 proposalPauseEpoch, uint64 currentPauseEpoch);

    /// @notice Thrown when approving a member action created before its target member last changed (admitted,
    /// role changed, suspended, reinstated or removed).
    /// @param proposalId The id.
    /// @param target The member.
    /// @param proposalVersion The member's version when the proposal was created.
    /// @param currentVersion The member's current version.
    error RegistryProposalStaleTarget(
        uint256 proposalId, address target, uint64 proposalVersion, uint64 currentVersion
    );

    /// @notice Thrown when a governor approves the same proposal twice.
    /// @param proposalId The id.
    /// @param governor The governor.
    error RegistryAlreadyApproved(uint256 proposalId, address governor);

    /// @notice Thrown when a caller that must be an active lender is not.
    /// @param account The caller.
    error RegistryNotActiveLender(address account);

    /// @notice Thrown when an address cannot become a delegate signer: it is zero, was ever a member, or was ever a
    /// signer (a signer key serves one lender lane once, so its past records can only ever mean that lender).
    /// @param signer The address.
    error RegistrySignerUnavailable(address signer);

    /// @notice Thrown when governance would admit an address that is (or was) a delegate signer.
    /// @param account The address.
    error RegistryAccountIsSigner(address account);

    /// @notice Thrown when a lane is outside 1 ..= MAX_LANES (lane 0 is the lender's own address).
    /// @param lane The lane.
    error RegistryInvalidLane(uint256 lane);

    /// @notice Thrown when a lender's lane already has an active signer.
    /// @param lender The lender.
    /// @param lane The lane.
    /// @param signer Its current signer.
    error RegistryLaneTaken(address lender, uint256 lane, address signer);

    /// @notice Thrown when the signer's proof of consent does not recover to the signer.
    /// @param signer The signer the lender named.
    error RegistryInvalidSignerProof(address signer);

    /// @notice Thrown when a signer is removed by someone other than its lender or an active governor, or is not an
    /// active signer.
    /// @param caller The caller.
    /// @param signer The signer.
    error RegistryCannotRemoveSigner(address caller, address signer);

    // ------------------------------------------------------------------ events

    /// @notice Emitted when a governor creates a proposal.
    /// @param proposalId The new proposal's id (sequential from 1).
    /// @param proposer The governor.
    /// @param target The member the action applies to, or zero.
    /// @param action The action.
    /// @param role The role for `Admit` / `ChangeRole`.
    /// @param value The threshold for `SetThreshold`.
    /// @param name The display name for `Admit`.
    /// @param expiresAt When the proposal expires.
    event ProposalCreated(
        uint256 indexed proposalId,
        address indexed proposer,
        address indexed target,
        Action action,
        Role role,
        uint256 value,
        string name,
        uint64 expiresAt
    );

    /// @notice Emitted when a governor approves a proposal (the proposer approves on creation).
    /// @param proposalId The proposal.
    /// @param governor The approving governor.
    /// @param approvals Approvals so far, this one included.
    /// @param threshold Approvals needed to execute.
    event ProposalApproved(uint256 indexed proposalId, address indexed governor, uint256 approvals, uint256 threshold);

    /// @notice Emitted when a proposal reached its threshold and its action was executed.
    /// @param proposalId The proposal.
    /// @param action The executed action.
    event ProposalExecuted(uint256 indexed proposalId, Action action);

    /// @notice Emitted when a member is admitted (at deployment for the initial governors, or by proposal).
    /// @param account The member's address.
    /// @param role Its role.
    /// @param name Its display name.
    event MemberAdmitted(address indexed account, Role role, string name);

    /// @notice Emitted when a member's role changes.
    /// @param account The member.
    /// @param previousRole The old role.
    /// @param newRole The new role.
    event MemberRoleChanged(address indexed account, Role previousRole, Role newRole);

    /// @notice Emitted when a member is suspended, reinstated or removed.
    /// @param account The member.
    /// @param previousStatus The old status.
    /// @param newStatus The new status.
    event MemberStatusChanged(address indexed account, MemberStatus previousStatus, MemberStatus newStatus);

    /// @notice Emitted when the approval threshold changes.
    /// @param previousThreshold The old threshold.
    /// @param newThreshold The new threshold.
    event ThresholdChanged(uint256 previousThreshold, uint256 newThreshold);

    /// @notice Emitted when the governance epoch advances, making every open proposal stale.
    /// @param epoch The new epoch.
    event GovernanceEpochAdvanced(uint64 epoch);

    /// @notice Emitted when governance pauses the consortium's ledger writes.
    /// @param proposalId The executed proposal.
    event Paused(uint256 indexed proposalId);

    /// @notice Emitted when governance resumes the consortium's ledger writes.
    /// @param proposalId The executed proposal.
    event Unpaused(uint256 indexed proposalId);

    /// @notice Emitted when a lender enlists a delegate signer for one of its lanes.
    /// @param lender The lender the signer records for.
    /// @param signer The delegate signer's address.
    /// @param lane The lane (1 ..= MAX_LANES); the signer's batches carry sequence numbers of this lane.
    event SignerAdded(address indexed lender, address indexed signer, uint8 lane);

    /// @notice Emitted when a delegate signer is removed (by its lender or a governor); its lane is free again.
    /// @param lender The lender it recorded for.
    /// @param signer The signer.
    /// @param lane Its lane.
    /// @param by Who removed it.
    event SignerRemoved(address indexed lender, address indexed signer, uint8 lane, address by);

    // ------------------------------------------------------------------ functions

    /**
     * @notice Creates a proposal and records the caller's approval; executes at once if that meets the threshold.
     * @dev The action is validated against the current state on creation and again on execution.
     *
     * Requirements:
     * - the caller is an active governor;
     * - the action is valid now (see the errors).
     *
     * Emits {ProposalCreated}, {ProposalApproved} and, when executed, {ProposalExecuted} plus the action's event.
     * @param action The action.
     * @param target The member for member actions, zero otherwise.
     * @param role The role for `Admit` and `ChangeRole`, `None` otherwise.
     * @param value The new threshold for `SetThreshold`, 0 otherwise.
     * @param name The display name for `Admit`, empty otherwise.
     * @return proposalId The new proposal's id.
     */
    function propose(Action action, address target, Role role, uint256 value, string calldata name)
        external
        returns (uint256 proposalId);

    /**
     * @notice Approves a proposal; executes it when this approval meets the threshold.
     * @dev Staleness is checked on every approval, so the approval that executes proves that the state the
     * proposal depends on has not changed since it was created: all its approvals were given after the last
     * relevant change. Checks in this order: unknown, executed, expired, governance epoch ({RegistryProposalStale}),
     * pause epoch for Pause/Unpause ({RegistryProposalStalePause}), target version ({RegistryProposalStaleTarget}),
     * double approval.
     *
     * Requirements:
     * - the caller is an active governor that has not approved this proposal;
     * - the proposal exists, is not executed, not expired and not stale.
     *
     * Emits {ProposalApproved} and, when executed, {ProposalExecuted} plus the action's event.
     * @param proposalId The proposal.
     */
    function approve(uint256 proposalId) external;

    /// @notice Returns the member record of `account` (all zero if it never was a member).
    /// @param account The address.
    /// @return The member record.
    function member(address account) external view returns (Member memory);

    /// @notice Returns whether `account` is an active member with `role`.
    /// @param account The address.
    /// @param role The role.
    /// @return True if active with that role.
    function isActive(address account, Role role) external view returns (bool);

    /// @notice Returns a proposal.
    /// @param proposalId The id.
    /// @return The proposal (all zero for an unknown id).
    function proposal(uint256 proposalId) external view returns (Proposal memory);

    /// @notice Returns whether `governor` approved `proposalId`.
    /// @param proposalId The id.
    /// @param governor The governor.
    /// @return True if approved.
    function hasApproved(uint256 proposalId, address governor) external view returns (bool);

    /// @notice Number of proposals created so far; ids run from 1 to this number.
    /// @return The count.
    function proposalCount() external view returns (uint256);

    /// @notice Approvals a proposal needs to execute.
    /// @return The threshold.
    function threshold() external view returns (uint256);

    /// @notice Number of active governors.
    /// @return The count.
    function activeGovernors() external view returns (uint256);

    /// @notice Current governance epoch; advances when the active governor set or the threshold changes.
    /// @return The epoch.
    function governanceEpoch() external view returns (uint64);

    /// @notice Current pause epoch; advances with every pause and unpause (one per {Paused} / {Unpaused} event).
    /// @return The pause epoch.
    function pauseEpoch() external view returns (uint64);

    /// @notice Current version of `account`; advances with every change to that member (one per {MemberAdmitted},
    /// {MemberRoleChanged} and {MemberStatusChanged} event naming it). Zero for an address never admitted.
    /// @param account The address.
    /// @return The version.
    function memberVersion(address account) external view returns (uint64);

    /// @notice Seconds a proposal stays open.
    /// @return The lifetime.
    function proposalLifetime() external view returns (uint64);

    /// @notice Whether ledger writes are paused.
    /// @return True if paused.
    function paused() external view returns (bool);

    /**
     * @notice Enlists `signer` as a delegate signer in the caller's lane `lane`: its ledger writes count as the
     * caller's, with their own sequence numbers (see {ICreditLedger-recordBatch}), so one lender can keep several
     * keys' worth of transactions pending.
     * @dev Safe without governance because a signer can only ever record for the lender that enlisted it, the
     * signer must consent (a front-runner cannot take a key another lender is enlisting, nor enlist a key it does not
     * hold), no member can be a signer nor a signer a member, and lanes are bounded (MAX_LANES).
     *
     * Requirements:
     * - the caller is an active lender;
     * - `signer` was never a member nor a signer;
     * - `lane` is 1 ..= MAX_LANES and has no active signer;
     * - `proof` is the signer's 65-byte signature (EIP-191, `personal_sign`) over {signerConsentDigest}.
     *
     * Emits {SignerAdded}.
     * @param signer The delegate signer's address.
     * @param lane The caller's lane it takes.
     * @param proof The signer's consent.
     */
    function addSigner(address signer, uint8 lane, bytes calldata proof) external;

    /**
     * @notice Removes a delegate signer; its pending transactions revert from the next block, and its lane is free.
     * @dev The lender may remove its own signers whatever its own status (a suspended lender must still be able to
     * retire a leaked key); any active governor may remove any signer.
     *
     * Emits {SignerRemoved}.
     * @param signer The signer.
     */
    function removeSigner(address signer) external;

    /// @notice The delegate-signer record of `account` (all zero if it never was one).
    /// @param account The address.
    /// @return The record.
    function signerOf(address account) external view returns (Signer memory);

    /// @notice The active signer of `lender`'s lane `lane`, or zero.
    /// @param lender The lender.
    /// @param lane The lane.
    /// @return The signer.
    function laneSigner(address lender, uint8 lane) external view returns (address);

    /// @notice For whom and in which lane `account` may record now: an active lender records for itself in lane 0;
    /// an active signer of an active lender records for that lender in its lane; anyone else gets (0, 0).
    /// @param account The would-be recorder (the ledger passes `msg.sender`).
    /// @return lender The lender its records count for, or zero.
    /// @return lane The lane of its sequence numbers.
    function recorderOf(address account) external view returns (address lender, uint8 lane);

    /// @notice What a signer signs (EIP-191) to consent to recording for `lender` in `lane` of this registry.
    /// @param lender The lender.
    /// @param signer The signer.
    /// @param lane The lane.
    /// @return The digest (before the EIP-191 prefix).
    function signerConsentDigest(address lender, address signer, uint8 lane) external view returns (bytes32);
}
