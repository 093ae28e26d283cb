"""Running real gateways in tests: the product's own local launcher (creditshare.localnet), with key-share holders
for the gateway's consortium (subject keys v2) started and published on first use."""

from dataclasses import dataclass

from creditshare.core.secrets import DEV_CONSORTIUM_SECRET_HEX as TEST_SECRET_HEX
from creditshare.devtools import localnet
from creditshare.devtools.localnet import DEV_PASSWORD as PASSWORD
from creditshare.devtools.localnet import GatewayProcess, wait_until
from tests.support.holders import ensure_keyshares


@dataclass
class GatewayEnv(localnet.GatewayEnv):
    """`localnet.GatewayEnv`, with the consortium's key-share holders running and published."""

    def __post_init__(self) -> None:
        super().__post_init__()
        ensure_keyshares(self.deployment)
        # The suite runs a chain, three holders, gateways and their callers on two cores; a holder queued behind
        # another gateway's batch of 100 may take longer than production's 2 s. The tests are about what the
        # gateways do with the holders' answers (tests/keyshare covers timeouts and failover, with their own).
        self.extra.setdefault("CREDITSHARE_KEYSHARE_TIMEOUT", "10")


__all__ = ["PASSWORD", "TEST_SECRET_HEX", "GatewayEnv", "GatewayProcess", "wait_until"]
