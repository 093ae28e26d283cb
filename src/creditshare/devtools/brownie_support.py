"""What `brownie run scripts/...` needs to drive the creditshare library (docs/brownie.md, "Operator scripts").

The scripts hold no logic of their own. Brownie picks the network (`--network`); this module turns that choice
into what the library takes: a creditshare `Web3` for the same endpoint (so the POA middleware and the error
translation are the CLI's), `eth_account` LocalAccounts for `Transactor`, the deployment file, and the operator's
positional arguments as `governance.propose` arguments. The scripts then call `creditshare.deploy`,
`creditshare.governance` and `creditshare.demo`.

Only scripts run by Brownie import this module: importing `brownie` loads the project's brownie-config.yaml.
"""

from __future__ import annotations

import os
from getpass import getpass
from pathlib import Path

from brownie import network
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from creditshare.chain.artifacts import REGISTRY, load_artifact
from creditshare.chain.deploy import Deployment
from creditshare.chain.governance import ACTION_ARGS, GovernanceError, ProposalRequest, action_named, proposal_request
from creditshare.chain.rpc import connect, contract_at, translate_errors
from creditshare.core.config import Settings
from creditshare.core.exceptions import ConfigError
from creditshare.core.keystore import load_keystore
from creditshare.devtools.devchain import dev_accounts

#: Which account signs: `dev:N` (dev account N, on a chain that holds the dev accounts), the id of a Brownie
#: keystore (`brownie accounts new ID`) or a keystore file's path; its password is asked for. Unset: dev account 0.
ACCOUNT_ENV = "CREDITSHARE_BROWNIE_ACCOUNT"


def chain_web3() -> Web3:
    """A creditshare `Web3` for the node of Brownie's active network (its URL with `$VARS` already expanded)."""
    if not network.is_connected():
        raise ConfigError("no active Brownie network; run the script with `brownie run ... --network ID`")
    url = getattr(network.web3.provider, "endpoint_uri", None)
    if not isinstance(url, str) or not url.startswith("http"):
        raise ConfigError(f"network {network.show_active()} is not an HTTP(S) JSON-RPC endpoint ({url})")
    return connect(url)


def deployment_path() -> Path:
    """The deployment file the scripts write and read: the library's (`CREDITSHARE_DEPLOYMENT_FILE`, else
    `CREDITSHARE_HOME`/deployment.json), except on a chain Brownie launched itself. That chain ends with the
    script, so its deployment goes to build/creditshare/ and never replaces the file of a chain that lives on."""
    if network.rpc.is_child():
        return Path("build") / "creditshare" / f"deployment-{network.show_active()}.json"
    return Settings.from_env().deployment_path


def deployed_registry(w3: Web3) -> Contract:
    """The registry of the deployment in `deployment_path()`, checked to be on this chain."""
    deployment = Deployment.load(deployment_path())
    deployment.check(w3)
    return contract_at(w3, load_artifact(REGISTRY), deployment.registry)


def dev_signers(w3: Web3, count: int) -> list[LocalAccount]:
    """creditshare's first `count` dev accounts (`devchain.dev_accounts`), checked to be the node's own funded
    accounts: true on Brownie's `ganache-cli` network (brownie-config.yaml sets the same mnemonic) and on the chain
    of `creditshare chain up`, never on a consortium node."""
    signers = dev_accounts(count)
    with translate_errors():
        held = {Web3.to_checksum_address(a) for a in w3.eth.accounts}
    missing = [s.address for s in signers if s.address not in held]
    if missing:
        raise ConfigError(
            f"network {network.show_active()} does not hold creditshare's dev account {missing[0]}: dev accounts "
            f"sign only on a local dev chain; set {ACCOUNT_ENV} to a Brownie keystore id instead"
        )
    return signers


def signer(w3: Web3) -> LocalAccount:
    """The account the operator chose with `CREDITSHARE_BROWNIE_ACCOUNT` (see `ACCOUNT_ENV`)."""
    choice = os.environ.get(ACCOUNT_ENV, "").strip()
    if not choice or choice.startswith("dev:"):
        index = choice.removeprefix("dev:") or "0"
        if not index.isdigit():
            raise ConfigError(f"{ACCOUNT_ENV}={choice}: expected dev:N with N a dev account number")
        return dev_signers(w3, int(index) + 1)[int(index)]
    # Decrypted here rather than by `accounts.load`, which returns the node's keyless account object instead when
    # the node also holds that address (a dev chain).
    path = Path(choice).expanduser()
    if not path.is_file():
        path = Path.home() / ".brownie" / "accounts" / f"{choice}.json"  # where `brownie accounts new ID` saves
    return load_keystore(path, getpass(f'Enter password for "{choice}": '))


def governors_from_args(specs: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Governor addresses and display names from `ADDRESS` or `ADDRESS=Display name` arguments."""
    addresses: list[str] = []
    names: list[str] = []
    for i, spec in enumerate(specs):
        address, _, name = spec.partition("=")
        if not Web3.is_address(address.strip()):
            raise ConfigError(f"governor {spec!r}: expected ADDRESS or ADDRESS=Display name")
        addresses.append(Web3.to_checksum_address(address.strip()))
        names.append(name.strip() or f"Governor {i + 1}")
    return addresses, names


#: The positional arguments each action takes after its name (`governance.ACTION_ARGS`, upper-cased).
PROPOSAL_USAGE = {action: " ".join(a.upper() for a in args) for action, args in ACTION_ARGS.items()}


def proposal_from_args(action_name: str, *params: str) -> ProposalRequest:
    """Parse `admit 0xADDR lender "Name"`, `set_threshold 3`, `pause`… positionally, in `ACTION_ARGS` order, and
    validate them with `governance.proposal_request` (as the CLI does)."""
    try:
        names = ACTION_ARGS[action_named(action_name)]
    except GovernanceError as exc:
        raise ConfigError(str(exc)) from None
    if len(params) != len(names):
        usage = " ".join(n.upper() for n in names) or "no arguments"
        raise ConfigError(f"{action_name} takes {usage}; got {len(params)} argument(s)")
    try:
        return proposal_request(action_name, **dict(zip(names, params, strict=True)))
    except GovernanceError as exc:
        raise ConfigError(str(exc)) from None
