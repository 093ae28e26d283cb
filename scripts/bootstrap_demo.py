"""Bootstrap the demo consortium on a dev chain: deploy (unless the deployment file's contracts are on this
chain), admit the three demo lenders by real proposal + approval votes, print the members.

    brownie run scripts/bootstrap_demo.py --network ganache-cli
    brownie run scripts/bootstrap_demo.py --network creditshare-local   # the chain of `creditshare chain up`

The same steps as `creditshare demo` (creditshare.devtools.demo), without the gateways. Exits non-zero unless the three
lenders end up active.
"""

from __future__ import annotations

import sys

from creditshare.chain import governance
from creditshare.chain.governance import MemberStatus, Role
from creditshare.devtools import brownie_support, demo


def main() -> None:
    w3 = brownie_support.chain_web3()
    accounts = brownie_support.dev_signers(w3, 6)  # governors 0-2, lenders 3-5 (creditshare.devtools.demo)
    path = brownie_support.deployment_path()
    deployment, fresh = demo.ensure_deployment(w3, path)
    print(
        f"{'deployed' if fresh else 'reusing'} the consortium: registry {deployment.registry}, "
        f"ledger {deployment.ledger} (chain {deployment.chain_id}, file {path})"
    )
    for name in demo.admit_lenders(w3, deployment):
        print(f"admitted {name} (proposal + second governor's approval)")
    registry = brownie_support.deployed_registry(w3)
    members = [governance.member(registry, a.address) for a in accounts]
    for m in members:
        print(f"  {m.address}  {m.role.name.lower():<8}  {m.status.name.lower():<6}  {m.name}")
    lenders = {m.name for m in members if (m.role, m.status) == (Role.LENDER, MemberStatus.ACTIVE)}
    if lenders != set(demo.LENDERS):
        sys.exit(f"bootstrap: active lenders are {sorted(lenders)}, expected {sorted(demo.LENDERS)}")
