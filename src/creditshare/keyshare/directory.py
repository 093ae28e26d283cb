"""The share set as the chain has it: what gateways trust (`published_share_set`) and what governance publishes
(`to_chain`). A share set is only ever taken from the `KeyShareDirectory` of the deployment."""

from __future__ import annotations

from web3 import Web3
from web3.contract import Contract

from creditshare.chain.artifacts import KEYSHARES, load_artifact
from creditshare.chain.deploy import Deployment
from creditshare.chain.keyshares import OnChainShareSet, read_share_set
from creditshare.chain.rpc import contract_at
from creditshare.core.exceptions import ConfigError
from creditshare.keyshare.errors import KeyshareUnavailable
from creditshare.keyshare.shares import Holder, ShareSet


def directory(w3: Web3, deployment: Deployment) -> Contract:
    """The deployment's KeyShareDirectory (deployments made before v2 keys have none: redeploy or upgrade)."""
    if deployment.keyshares is None:
        raise KeyshareUnavailable("this deployment has no KeyShareDirectory: subject keys v2 need one")
    return contract_at(w3, load_artifact(KEYSHARES), deployment.keyshares)


def from_chain(on_chain: OnChainShareSet) -> ShareSet:
    """The chain's record of a share set, checked (any t share keys must interpolate to the group key)."""
    holders = tuple(Holder(h.index, h.public_key, h.url, h.account) for h in on_chain.holders)
    return ShareSet(on_chain.version, on_chain.threshold, on_chain.group_public_key, holders)


def to_chain(share_set: ShareSet) -> OnChainShareSet:
    """What governors approve for `share_set`."""
    return OnChainShareSet.of(
        share_set.version,
        share_set.threshold,
        share_set.group_public_key,
        [(h.index, h.public_key, h.account, h.url) for h in share_set.holders],
    )


def published_share_set(w3: Web3, deployment: Deployment) -> ShareSet:
    """The current share set on chain. Raises `KeyshareUnavailable` when none is published or it is malformed."""
    on_chain = read_share_set(directory(w3, deployment))
    if on_chain is None:
        raise KeyshareUnavailable("no key-share set is published on chain yet (`creditshare keyshare publish`)")
    try:
        return from_chain(on_chain)
    except ConfigError as exc:
        raise KeyshareUnavailable(f"the share set on chain is not usable: {exc}") from None
