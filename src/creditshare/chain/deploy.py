"""Deploy the consortium contracts and read/write the deployment file every other command uses."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from web3 import Web3

from creditshare.chain.artifacts import KEYSHARES, LEDGER, REGISTRY, load_artifact
from creditshare.chain.rpc import translate_errors
from creditshare.chain.transactor import Transactor
from creditshare.core.exceptions import DeploymentError

#: Default proposal lifetime: seven days.
DEFAULT_PROPOSAL_LIFETIME = 7 * 24 * 3600


@dataclass(frozen=True)
class Deployment:
    """Where the consortium's contracts live on one chain.

    `keyshares` is the KeyShareDirectory; deployment files written before it existed have none (None)."""

    chain_id: int
    registry: str
    ledger: str
    block: int
    solc_version: str
    keyshares: str | None = None

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Deployment:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**data)
        except FileNotFoundError as exc:
            raise DeploymentError(f"deployment file {path} not found; run `creditshare deploy` first") from exc
        except (ValueError, TypeError) as exc:
            raise DeploymentError(f"deployment file {path} is malformed: {exc}") from exc

    def check(self, w3: Web3) -> None:
        """Raise `DeploymentError` unless this chain has code at every address and the right chain id."""
        addresses = [a for a in (self.registry, self.ledger, self.keyshares) if a is not None]
        with translate_errors():
            chain_id = w3.eth.chain_id
            missing = [a for a in addresses if not w3.eth.get_code(Web3.to_checksum_address(a))]
        if chain_id != self.chain_id:
            raise DeploymentError(f"deployment is for chain {self.chain_id} but the node is chain {chain_id}")
        if missing:
            raise DeploymentError(f"no contract code at {', '.join(missing)}; wrong address or chain reset")


def deploy_consortium(
    transactor: Transactor,
    governors: list[str],
    names: list[str],
    threshold: int,
    proposal_lifetime: int = DEFAULT_PROPOSAL_LIFETIME,
) -> Deployment:
    """Deploy the registry (bootstrapped with `governors`), and the ledger and the key-share directory bound to it."""
    registry_address, receipt = transactor.deploy(
        load_artifact(REGISTRY),
        [Web3.to_checksum_address(g) for g in governors],
        names,
        threshold,
        proposal_lifetime,
    )
    ledger_address, _ = transactor.deploy(load_artifact(LEDGER), registry_address)
    keyshares_address, _ = transactor.deploy(load_artifact(KEYSHARES), registry_address)
    return Deployment(
        chain_id=transactor.chain_id,
        registry=registry_address,
        ledger=ledger_address,
        block=int(receipt["blockNumber"]),
        solc_version=str(load_artifact(REGISTRY).compiler["version"]),
        keyshares=keyshares_address,
    )
