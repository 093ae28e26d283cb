"""Running real gateways in tests: the product's own local launcher (creditshare.localnet)."""

from creditshare.core.secrets import DEV_CONSORTIUM_SECRET_HEX as TEST_SECRET_HEX
from creditshare.devtools.localnet import DEV_PASSWORD as PASSWORD
from creditshare.devtools.localnet import GatewayEnv, GatewayProcess, wait_until

__all__ = ["PASSWORD", "TEST_SECRET_HEX", "GatewayEnv", "GatewayProcess", "wait_until"]
