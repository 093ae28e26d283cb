// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ICreditLedger} from "../../contracts/interfaces/ICreditLedger.sol";

/// @notice What the ledger must do with one item, written from the interface's documentation (ICreditLedger) and
/// the gateway's rules (domain/records.py), independently of CreditLedger's own code: the exact revert data, or
/// empty when the item must be recorded. Checks in byte order, the first failing one wins.
library ItemModel {
    uint256 internal constant EARLIEST_DAY = 7305; // 1990-01-01
    uint256 internal constant MAX_FEN = 10 ** 15;
    uint256 internal constant MAX_DAYS_PAST_DUE = 36_500;

    uint8 internal constant LOAN_OPENED = 1;
    uint8 internal constant REPAYMENT = 2;
    uint8 internal constant OVERDUE = 3;
    uint8 internal constant DEFAULT = 4;
    uint8 internal constant SETTLED = 5;
    uint8 internal constant WRITTEN_OFF = 6;
    uint8 internal constant INQUIRY = 16;

    struct Fields {
        uint8 itemType;
        uint32 day;
        uint64 amount;
        uint64 overdue;
        uint16 daysPastDue;
        uint256 padding; // bytes 23-31
    }

    function fields(uint256 data) internal pure returns (Fields memory f) {
        f.itemType = uint8(data >> 248);
        f.day = uint32(data >> 216);
        f.amount = uint64(data >> 152);
        f.overdue = uint64(data >> 88);
        f.daysPastDue = uint16(data >> 72);
        f.padding = data & ((1 << 72) - 1);
    }

    function pack(Fields memory f) internal pure returns (uint256) {
        return (uint256(f.itemType) << 248) | (uint256(f.day) << 216) | (uint256(f.amount) << 152)
            | (uint256(f.overdue) << 88) | (uint256(f.daysPastDue) << 72) | f.padding;
    }

    /// @dev Whether the amounts are what the type allows (ICreditLedger.LedgerInvalidAmounts), rule by rule.
    function amountsAllowed(Fields memory f) internal pure returns (bool) {
        if (f.amount > MAX_FEN || f.overdue > MAX_FEN || f.daysPastDue > MAX_DAYS_PAST_DUE) return false;
        uint8 t = f.itemType;
        if (t == LOAN_OPENED) {
            // A new loan: a principal, nothing overdue.
            return f.amount > 0 && f.overdue == 0 && f.daysPastDue == 0;
        }
        if (t == SETTLED) {
            // Nothing outstanding, nothing overdue.
            return f.amount == 0 && f.overdue == 0 && f.daysPastDue == 0;
        }
        if (t == WRITTEN_OFF) return true; // a write-off may show more overdue than outstanding
        if (f.overdue > f.amount) return false; // Repayment, Overdue, Default
        if (t == OVERDUE) return f.overdue > 0 && f.daysPastDue > 0;
        return true;
    }

    /// @notice The revert data the ledger must return for item `index`, or empty if it must record it.
    function expectedRevert(uint256 index, bytes32[4] memory item, bool inquiryAllowed, uint256 latestDay)
        internal
        pure
        returns (bytes memory)
    {
        if (item[0] == 0 || item[1] == 0 || item[2] == 0) {
            return abi.encodeWithSelector(ICreditLedger.LedgerZeroKey.selector, index);
        }
        uint256 data = uint256(item[3]);
        Fields memory f = fields(data);
        if (f.itemType >= LOAN_OPENED && f.itemType <= WRITTEN_OFF) {
            if (f.day < EARLIEST_DAY || f.day > latestDay) {
                return abi.encodeWithSelector(
                    ICreditLedger.LedgerInvalidDay.selector, index, f.day, uint32(EARLIEST_DAY), uint32(latestDay)
                );
            }
            if (!amountsAllowed(f)) {
                return abi.encodeWithSelector(
                    ICreditLedger.LedgerInvalidAmounts.selector, index, f.itemType, f.amount, f.overdue, f.daysPastDue
                );
            }
            if (f.padding != 0) {
                return abi.encodeWithSelector(ICreditLedger.LedgerNonZeroPadding.selector, index, data);
            }
            return "";
        }
        if (f.itemType == INQUIRY && inquiryAllowed) {
            uint8 purpose = uint8(data >> 240);
            if (purpose < 1 || purpose > 6) {
                return abi.encodeWithSelector(ICreditLedger.LedgerInvalidPurpose.selector, index, purpose);
            }
            if (data & ((1 << 240) - 1) != 0) {
                return abi.encodeWithSelector(ICreditLedger.LedgerNonZeroPadding.selector, index, data);
            }
            return "";
        }
        return abi.encodeWithSelector(ICreditLedger.LedgerUnknownItemType.selector, index, f.itemType);
    }

    /// @notice An item built from fuzzer input that is valid often enough to exercise both outcomes: a known type
    /// (or any byte), fields that fit the type, then, half of the time, one field moved to a value near a limit or
    /// anywhere (which may or may not break a rule), and sometimes a zero key.
    function shaped(uint256 seed, uint256 latestDay) internal pure returns (bytes32[4] memory item) {
        uint256 r = uint256(keccak256(abi.encode(seed)));
        item[0] = bytes32(seed | 1);
        item[1] = keccak256(abi.encode(seed, 1));
        item[2] = keccak256(abi.encode(seed, 2));
        if (r % 64 == 0) item[r % 3] = 0;
        uint8[8] memory types = [LOAN_OPENED, REPAYMENT, OVERDUE, DEFAULT, SETTLED, WRITTEN_OFF, INQUIRY, 0];
        Fields memory f;
        f.itemType = types[(r >> 8) % 8];
        if (f.itemType == 0) f.itemType = uint8(r >> 16);
        if (f.itemType == INQUIRY) {
            uint256 edge = (r >> 32) % 4; // 0, 7 (one past the last code), 255 or any byte
            uint256 purpose = (r >> 24) % 4 != 0
                ? 1 + (r >> 32) % 6
                : edge == 0 ? 0 : edge == 1 ? 7 : edge == 2 ? 255 : uint8(r >> 34);
            uint256 padding =
                (r >> 40) % 4 != 0 ? 0 : (r >> 42) % 2 == 0 ? (r >> 48) & ((1 << 240) - 1) : 1 << ((r >> 48) % 240);
            item[3] = bytes32((uint256(INQUIRY) << 248) | (purpose << 240) | padding);
            return item;
        }
        // Fields that fit the type.
        f.day = uint32(EARLIEST_DAY + (r >> 24) % (latestDay - EARLIEST_DAY + 1));
        uint256 amount = (r >> 64) % 2 == 0 ? (r >> 65) % 1_000_000 : (r >> 65) % (MAX_FEN + 1);
        uint256 overdue = amount == 0 ? 0 : (r >> 120) % (amount + 1);
        uint256 daysPastDue = (r >> 180) % (MAX_DAYS_PAST_DUE + 1);
        if (f.itemType == LOAN_OPENED) (amount, overdue, daysPastDue) = (amount + 1, 0, 0);
        if (f.itemType == OVERDUE) (amount, overdue, daysPastDue) = (amount + 1, overdue + 1, daysPastDue | 1);
        if (f.itemType == SETTLED) (amount, overdue, daysPastDue) = (0, 0, 0);
        if (f.itemType == WRITTEN_OFF && (r >> 200) % 2 == 0) overdue = (r >> 120) % (MAX_FEN + 1);
        f.amount = uint64(amount);
        f.overdue = uint64(overdue);
        f.daysPastDue = uint16(daysPastDue);
        // Half of the time, move one field.
        uint256 v = r >> 208;
        uint256 which = (r >> 204) % 10;
        if (which == 0) {
            f.day = uint32(v);
        } else if (which == 1) {
            f.day = uint32(EARLIEST_DAY - 1 + v % 3);
        } else if (which == 2) {
            f.day = uint32(latestDay - 1 + v % 3);
        } else if (which == 3) {
            f.amount = near(v, f.amount);
        } else if (which == 4) {
            f.overdue = near(v, f.amount);
        } else if (which == 5) {
            f.daysPastDue = uint16(v % 3 == 0 ? v >> 2 : v % 3 == 1 ? MAX_DAYS_PAST_DUE + v % 3 - 1 : 0);
        } else if (which == 6) {
            f.padding = v % 2 == 0 ? (v >> 1) & ((1 << 72) - 1) : 1 << ((v >> 1) % 72);
        }
        item[3] = bytes32(pack(f));
    }

    /// @dev An amount that is 0, near `around` or near MAX_FEN, small, or any uint64.
    function near(uint256 r, uint64 around) private pure returns (uint64) {
        uint256 pick = r % 8;
        if (pick == 0) return 0;
        if (pick == 1) return uint64(MAX_FEN - 1 + (r >> 3) % 3);
        if (pick == 2) return uint64(r >> 8);
        if (pick == 3 && around > 0) {
            unchecked {
                return around - 1 + uint64((r >> 3) % 3); // may wrap: any uint64 is fair input
            }
        }
        return uint64((r >> 3) % 1_000_000);
    }
}
