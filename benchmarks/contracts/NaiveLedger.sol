// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsortiumRegistry} from "../../contracts/interfaces/IConsortiumRegistry.sol";

/**
 * @title NaiveLedger
 * @notice Benchmark baseline only (compiled by benchmarks/gas.py at run time; not shipped, never deployed for
 * real): the obvious design of one transaction per credit event, each event stored in contract storage.
 * @dev What the baseline pays per event, so that the comparison with {CreditLedger} is like for like:
 * - the 21,000 gas of a transaction of its own;
 * - the same membership check as {CreditLedger}: `paused()` and `isActive(msg.sender, Lender)` on the same
 *   {ConsortiumRegistry}, on every write (membership check INCLUDED);
 * - the same validation (non-zero keys, credit-event type 1-6);
 * - the event struct pushed to an array: five fresh storage slots (three keys; lender | type | day | days past
 *   due; amount | overdue amount) plus the array length;
 * - one LOG4 event, like {CreditLedger}.
 * It keeps no `recordHash => index` mapping; a real one-tx-per-event ledger would likely want one (another
 * fresh slot, ~22.1k gas), so this baseline is on the cheap side.
 */
contract NaiveLedger {
    /// @notice One stored credit event (5 storage slots).
    struct StoredEvent {
        bytes32 subjectKey;
        bytes32 loanKey;
        bytes32 recordHash;
        address lender;
        uint8 eventType;
        uint32 occurredDay;
        uint16 daysPastDue;
        uint64 amountFen;
        uint64 overdueFen;
    }

    uint8 internal constant _LOAN_OPENED = 1;
    uint8 internal constant _WRITTEN_OFF = 6;

    IConsortiumRegistry private immutable _registry;
    StoredEvent[] private _events;

    /// @notice Emitted for each stored event.
    event CreditEventStored(
        bytes32 indexed subjectKey, address indexed lender, bytes32 indexed recordHash, uint256 id
    );

    error NaivePaused();
    error NaiveNotActiveLender(address account);
    error NaiveZeroKey();
    error NaiveUnknownType(uint8 eventType);

    /// @param registry_ The consortium registry (the same one {CreditLedger} reads).
    constructor(IConsortiumRegistry registry_) {
        _registry = registry_;
    }

    /// @notice Stores one credit event and emits {CreditEventStored}.
    /// @return id The event's index in storage.
    function recordEvent(
        bytes32 subjectKey,
        bytes32 loanKey,
        bytes32 recordHash,
        uint8 eventType,
        uint32 occurredDay,
        uint64 amountFen,
        uint64 overdueFen,
        uint16 daysPastDue
    ) external returns (uint256 id) {
        if (_registry.paused()) revert NaivePaused();
        if (!_registry.isActive(msg.sender, IConsortiumRegistry.Role.Lender)) revert NaiveNotActiveLender(msg.sender);
        if (subjectKey == 0 || loanKey == 0 || recordHash == 0) revert NaiveZeroKey();
        if (eventType < _LOAN_OPENED || eventType > _WRITTEN_OFF) revert NaiveUnknownType(eventType);
        id = _events.length;
        _events.push(
            StoredEvent({
                subjectKey: subjectKey,
                loanKey: loanKey,
                recordHash: recordHash,
                lender: msg.sender,
                eventType: eventType,
                occurredDay: occurredDay,
                daysPastDue: daysPastDue,
                amountFen: amountFen,
                overdueFen: overdueFen
            })
        );
        emit CreditEventStored(subjectKey, msg.sender, recordHash, id);
    }

    /// @notice Number of stored events.
    function eventCount() external view returns (uint256) {
        return _events.length;
    }

    /// @notice A stored event.
    function eventAt(uint256 id) external view returns (StoredEvent memory) {
        return _events[id];
    }
}
