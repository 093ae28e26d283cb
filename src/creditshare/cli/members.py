"""`creditshare members ...`: consortium members and M-of-N governance votes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated

import typer
from rich.table import Table
from web3.contract import Contract

from creditshare.chain import governance
from creditshare.chain.governance import Action
from creditshare.chain.rpc import translate_errors
from creditshare.chain.transactor import Transactor
from creditshare.cli._shared import (
    DevAccountOpt,
    YesOpt,
    address_column,
    console,
    open_registry,
    pick_signer,
)
from creditshare.core.config import Settings

members_app = typer.Typer(help="Consortium members and M-of-N governance votes.", no_args_is_help=True)


ACTIONS = [a.name.lower().replace("_", "-") for a in governance.ACTION_ARGS]


def print_proposals(proposals: list[governance.Proposal], title: str = "proposals") -> None:
    table = Table("id", "action", address_column("target"), "details", "approvals", "state", "expires", title=title)
    colours = {"open": "cyan", "executed": "green", "expired": "red", "stale": "yellow"}
    for p in proposals:
        details = {
            Action.ADMIT: f"{p.role.name.lower()} {p.name!r}",
            Action.CHANGE_ROLE: f"to {p.role.name.lower()}",
            Action.SET_THRESHOLD: f"threshold {p.value}",
        }.get(p.action, "")
        table.add_row(
            str(p.proposal_id),
            p.action.name.lower().replace("_", "-"),
            "" if p.target == governance.ZERO_ADDRESS else p.target,
            details,
            f"{p.approvals}/{p.threshold}",
            f"[{colours[p.state.value]}]{p.state.value}[/]",
            f"{dt.datetime.fromtimestamp(p.expires_at, dt.UTC):%Y-%m-%d %H:%M} UTC",
        )
    console.print(table)


def govern(
    action: str,
    dev_account: int | None,
    yes: bool,
    send: Callable[[Contract, Transactor], governance.ProposalOutcome],
) -> None:
    """Confirm, sign and send one governance transaction, then show the proposal's state."""
    settings = Settings.from_env()
    signer = pick_signer(settings, dev_account)
    w3, registry, _ = open_registry(settings)
    if not yes and not typer.confirm(f"{action}, signed by {signer.address}?"):
        raise typer.Abort()
    outcome = send(registry, Transactor(w3, signer))
    verdict = "executed" if outcome.executed else "recorded"
    console.print(
        f"proposal {outcome.proposal_id}: approval {verdict} in {outcome.tx_hash}", highlight=False, soft_wrap=True
    )
    print_proposals([governance.proposal(registry, outcome.proposal_id)], title="proposal")


@members_app.command("list")
def members_list(
    proposals: Annotated[int, typer.Option(help="Also show this many latest proposals.")] = 10,
) -> None:
    """Every member with role and status (from the registry's logs and state), then the latest proposals."""
    settings = Settings.from_env()
    w3, registry, deployment = open_registry(settings)
    table = Table(address_column("address"), "name", "role", "status", "since (UTC)", title="members")
    colours = {"active": "green", "suspended": "yellow", "removed": "red"}
    for address in governance.member_addresses(w3, registry, deployment.block, settings.node_profile.max_logs_range):
        m = governance.member(registry, address)
        status = m.status.name.lower()
        table.add_row(
            m.address,
            m.name,
            m.role.name.lower(),
            f"[{colours.get(status, 'white')}]{status}[/]",
            f"{dt.datetime.fromtimestamp(m.since, dt.UTC):%Y-%m-%d %H:%M}",
        )
    console.print(table)
    with translate_errors():
        threshold, governors = registry.functions.threshold().call(), registry.functions.activeGovernors().call()
        paused = registry.functions.paused().call()
    console.print(f"threshold {threshold} of {governors} active governors; ledger {'PAUSED' if paused else 'running'}")
    if proposals > 0:
        print_proposals(governance.recent_proposals(registry, proposals))


@members_app.command("propose")
def members_propose(
    action: Annotated[str, typer.Argument(help=f"One of: {', '.join(ACTIONS)}.")],
    address: Annotated[str | None, typer.Option(help="The member the action applies to.")] = None,
    role: Annotated[str | None, typer.Option(help="admit / change-role: lender, auditor or governor.")] = None,
    name: Annotated[str | None, typer.Option(help="admit: the member's display name (shown in reports).")] = None,
    threshold: Annotated[int | None, typer.Option(help="set-threshold: the new number of approvals.")] = None,
    dev_account: DevAccountOpt = None,
    yes: YesOpt = False,
) -> None:
    """Propose a governance action (this governor's approval counts); it executes once enough governors approve."""
    request = governance.proposal_request(action, address=address, role=role, name=name, threshold=threshold)
    given = [f"--{k} {v}" for k, v in (("address", address), ("role", role), ("name", name), ("threshold", threshold))]
    summary = " ".join(
        [f"Propose {request.action.name.lower().replace('_', '-')}", *(g for g in given if " None" not in g)]
    )
    govern(summary, dev_account, yes, lambda registry, tx: governance.propose_request(registry, tx, request))


@members_app.command("approve")
def members_approve(
    proposal_id: Annotated[int, typer.Argument(help="Proposal id (see `members list`).")],
    dev_account: DevAccountOpt = None,
    yes: YesOpt = False,
) -> None:
    """Approve a proposal; the approval that reaches the threshold executes it."""
    govern(f"Approve proposal {proposal_id}", dev_account, yes, lambda r, tx: governance.approve(r, tx, proposal_id))


@members_app.command("execute")
def members_execute(
    proposal_id: Annotated[int, typer.Argument(help="Proposal id (see `members list`).")],
    dev_account: DevAccountOpt = None,
    yes: YesOpt = False,
) -> None:
    """Execute a proposal now: the registry executes in the approval that reaches the threshold, so this sends
    this governor's approval only if it is the last one missing, and otherwise says what is missing."""
    govern(f"Execute proposal {proposal_id}", dev_account, yes, lambda r, tx: governance.execute(r, tx, proposal_id))


@members_app.command("suspend")
def members_suspend(
    address: Annotated[str, typer.Argument(help="The member to suspend.")],
    dev_account: DevAccountOpt = None,
    yes: YesOpt = False,
) -> None:
    """Propose suspending a member (a suspended lender cannot record; its past records still count)."""
    members_propose("suspend", address=address, dev_account=dev_account, yes=yes)


@members_app.command("reinstate")
def members_reinstate(
    address: Annotated[str, typer.Argument(help="The suspended member to reinstate.")],
    dev_account: DevAccountOpt = None,
    yes: YesOpt = False,
) -> None:
    """Propose reinstating a suspended member."""
    members_propose("reinstate", address=address, dev_account=dev_account, yes=yes)
