"""`creditshare compile` and `creditshare deploy`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from creditshare.chain.deploy import DEFAULT_PROPOSAL_LIFETIME, deploy_consortium
from creditshare.chain.rpc import connect
from creditshare.chain.transactor import Transactor
from creditshare.cli._shared import (
    console,
    print_deployment,
)
from creditshare.core.config import Settings
from creditshare.core.exceptions import ConfigError
from creditshare.core.keystore import load_signer
from creditshare.devtools import compiler
from creditshare.devtools.checkout import project_root
from creditshare.devtools.devchain import dev_accounts


def compile_cmd(
    check: Annotated[bool, typer.Option(help="Only check that the shipped artifacts match a fresh compile.")] = False,
) -> None:
    """Compile contracts/ into the artifacts shipped in src/creditshare/artifacts (needs `make setup`)."""
    if check:
        stale = compiler.check_artifacts()
        if stale:
            raise ConfigError(f"artifacts out of date for {', '.join(stale)}; run `creditshare compile`")
        console.print("artifacts match the sources")
        return
    for path in compiler.build_artifacts():
        console.print(f"wrote {path.relative_to(project_root())}")


def deploy(
    rpc_url: Annotated[str | None, typer.Option(help="Chain RPC URL (default: CREDITSHARE_RPC_URL).")] = None,
    governor: Annotated[list[str] | None, typer.Option(help="Initial governor address (repeat).")] = None,
    name: Annotated[list[str] | None, typer.Option(help="Display name per governor (repeat, same order).")] = None,
    threshold: Annotated[int, typer.Option(help="Approvals a proposal needs.")] = 2,
    lifetime: Annotated[int, typer.Option(help="Seconds a proposal stays open.")] = DEFAULT_PROPOSAL_LIFETIME,
    dev: Annotated[bool, typer.Option(help="Sign with dev account 0 and use dev accounts 0-2 as governors.")] = False,
    out: Annotated[Path | None, typer.Option(help="Deployment file (default: HOME/deployment.json).")] = None,
) -> None:
    """Deploy the registry and the ledger and write the deployment file."""
    settings = Settings.from_env(rpc_url=rpc_url, deployment_file=out)
    if dev and settings.production:
        raise ConfigError("--dev makes the public dev accounts governors: refused in production")
    w3 = connect(settings.rpc_url)
    if dev:
        signer = dev_accounts(1)[0]
        governors = governor or [a.address for a in dev_accounts(3)]
    else:
        signer = load_signer(settings, ", or pass --dev")
        if not governor:
            raise ConfigError("give the initial governors with --governor ADDRESS (repeat)")
        governors = governor
    names = name or [f"Governor {i + 1}" for i in range(len(governors))]
    if len(names) != len(governors):
        raise ConfigError(f"{len(governors)} governors but {len(names)} names; give one --name per --governor")
    deployment = deploy_consortium(Transactor(w3, signer), governors, names, threshold, lifetime)
    deployment.save(settings.deployment_path)
    print_deployment(deployment, settings.deployment_path)
