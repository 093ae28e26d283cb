"""What a chain node allows and how it behaves, as named profiles (`ganache`, `anvil`, `besu-qbft`).

The gateway talks only standard JSON-RPC, but engines differ where it matters: Besu caps what one `eth_getLogs`
may cover, its sequenced transaction pool keeps only a few pending transactions per sender, a free-gas network
wants a zero gas price (and a node with a non-zero minimum silently drops such transactions), QBFT headers carry
long `extraData`, and blocks come every few seconds instead of per transaction. A profile holds those numbers; a
setting overrides any one of them (`Settings.node_profile`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

GasPriceMode = Literal["node", "zero"]


@dataclass(frozen=True)
class NodeProfile:
    """A node's limits and habits, as the gateway must respect them."""

    name: str
    #: Widest block range one `eth_getLogs` may cover (Besu: `--rpc-max-logs-range`).
    max_logs_range: int
    #: Most logs one `eth_getLogs` answer may carry (None: no cap). A page this full may have been cut short by
    #: the node, so the reader narrows the range and reads it again instead of trusting it.
    max_logs_results: int | None
    #: Signed transactions one sender may have pending at the node (Besu's sequenced pool: about 4).
    in_flight_per_sender: int
    #: `node`: sign at the node's `eth_gasPrice`; `zero`: always 0 (free-gas networks).
    gas_price: GasPriceMode
    #: Whether block headers carry POA/QBFT `extraData` longer than 32 bytes (web3 needs its middleware then).
    poa_headers: bool
    #: Seconds between blocks (0: a block per transaction).
    block_time: float

    @property
    def fixed_gas_price(self) -> int | None:
        """The gas price to sign at: 0 on a free-gas network, None to ask the node."""
        return 0 if self.gas_price == "zero" else None

    @property
    def stall_seconds(self) -> float:
        """How long the head may stand still before the node counts as stalled: ten block times, at least 30 s."""
        return max(30.0, 10 * self.block_time)

    @property
    def poll_interval(self) -> float:
        """How often to ask such a node for new blocks: a few times per block, never more than 4 times a second."""
        return max(0.25, self.block_time / 4)


#: Ganache and anvil cap no log range; 1,000 blocks keeps each of the index follower's transactions small.
_AUTOMINING = NodeProfile(
    "ganache",
    max_logs_range=1_000,
    max_logs_results=None,
    in_flight_per_sender=4,
    gas_price="node",
    poa_headers=False,
    block_time=0.0,
)

PROFILES: dict[str, NodeProfile] = {
    "ganache": _AUTOMINING,
    "anvil": replace(_AUTOMINING, name="anvil"),
    # Besu QBFT as docs/besu.md runs it: --rpc-max-logs-range=1000 (the default is 5,000 since 23.1.2; 1,000
    # before), the sequenced pool (--profile=ENTERPRISE: ~4 pending per sender), --min-gas-price=0, 2 s blocks.
    # 10,000 logs per answer is what public providers cap at; Besu itself answers in full or with an error.
    "besu-qbft": NodeProfile(
        "besu-qbft",
        max_logs_range=1_000,
        max_logs_results=10_000,
        in_flight_per_sender=4,
        gas_price="zero",
        poa_headers=True,
        block_time=2.0,
    ),
}

ProfileName = Literal["ganache", "anvil", "besu-qbft"]
