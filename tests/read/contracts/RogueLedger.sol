// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title RogueLedger
/// @notice Test stand-in for a buggy or hostile ledger: emits any log it is given, with any topics and data. The
/// index tests deploy it in the ledger's place to feed a follower what the real ledger would refuse to emit.
contract RogueLedger {
    /// @notice Emits one log with `topics` (at most four) and `data`.
    /// @param topics The log's topics, topic 0 first.
    /// @param data The log's data.
    function emitLog(bytes32[] calldata topics, bytes calldata data) external {
        bytes memory body = data;
        uint256 n = topics.length;
        require(n <= 4, "at most four topics");
        bytes32 t0 = n > 0 ? topics[0] : bytes32(0);
        bytes32 t1 = n > 1 ? topics[1] : bytes32(0);
        bytes32 t2 = n > 2 ? topics[2] : bytes32(0);
        bytes32 t3 = n > 3 ? topics[3] : bytes32(0);
        assembly ("memory-safe") {
            let p := add(body, 0x20)
            let len := mload(body)
            switch n
            case 0 { log0(p, len) }
            case 1 { log1(p, len, t0) }
            case 2 { log2(p, len, t0, t1) }
            case 3 { log3(p, len, t0, t1, t2) }
            default { log4(p, len, t0, t1, t2, t3) }
        }
    }
}
