"""Deploy the consortium (ConsortiumRegistry, then CreditLedger and KeyShareDirectory bound to it) and write the
deployment file.

    brownie run scripts/deploy.py --network ganache-cli
    brownie run scripts/deploy.py main 2 0xA1...=Bank-A 0xB2...=Bank-B 0xC3... --network creditshare-besu

Arguments of `main`: the approvals a proposal needs (default 2), then the initial governors as `ADDRESS` or
`ADDRESS=Display name` (default on a dev chain: dev accounts 0-2). The deployer is chosen with
CREDITSHARE_BROWNIE_ACCOUNT (default on a dev chain: dev account 0). Same library call as `creditshare deploy`.
"""

from __future__ import annotations

from creditshare.chain.deploy import Deployment, deploy_consortium
from creditshare.chain.transactor import Transactor
from creditshare.core.exceptions import ConfigError
from creditshare.devtools import brownie_support


def main(threshold: str = "2", *governors: str) -> Deployment:
    if not threshold.isdigit():
        raise ConfigError(f"the threshold is a number of approvals, not {threshold!r} (main THRESHOLD ADDRESS...)")
    w3 = brownie_support.chain_web3()
    deployer = brownie_support.signer(w3)
    addresses, names = brownie_support.governors_from_args(
        governors or tuple(a.address for a in brownie_support.dev_signers(w3, 3))
    )
    deployment = deploy_consortium(Transactor(w3, deployer), addresses, names, int(threshold))
    path = brownie_support.deployment_path()
    deployment.save(path)
    print(f"chain id            {deployment.chain_id}")
    print(f"ConsortiumRegistry  {deployment.registry}")
    print(f"CreditLedger        {deployment.ledger}")
    print(f"KeyShareDirectory   {deployment.keyshares}")
    print(f"deployed in block   {deployment.block}")
    print(f"governors           {', '.join(f'{a} ({n})' for a, n in zip(addresses, names, strict=True))}")
    print(f"threshold           {threshold} of {len(addresses)}")
    print(f"deployment file     {path}")
    return deployment
