"""`creditshare demo`: the main job (README command 1)."""

from __future__ import annotations

import signal
from typing import Annotated, Any

import typer

from creditshare.chain.rpc import connect
from creditshare.cli._shared import (
    console,
    print_deployment,
    start_devchain,
    wait_for_interrupt,
)
from creditshare.core.config import Settings
from creditshare.devtools.localnet import GatewayProcess, HolderProcess


def demo(
    reset: Annotated[
        bool, typer.Option(help="Start over: an empty chain, new gateway data and history (not the last ones).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before --reset.")] = False,
    gateways: Annotated[bool, typer.Option(help="Start a gateway per demo lender.")] = True,
    first_port: Annotated[
        int, typer.Option(help="Port of the first lender's gateway (then +1, +2); key-share holders on +100..+102.")
    ] = 8001,
    borrowers: Annotated[
        int, typer.Option(min=1, help="Borrowers in the synthetic history (first run or after --reset only).")
    ] = 3000,
) -> None:
    """The main job: a local chain, the consortium deployed, three lenders admitted by governance votes, a
    gateway for each and a synthetic credit history loaded and indexed. Reuses the previous state (HOME) unless
    --reset; Ctrl-C stops everything."""
    import time

    from creditshare.devtools import demo as demo_net

    settings = Settings.from_env()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a kill during bootstrap still stops the children
    chain = start_devchain(settings, reset=reset, yes=yes)
    lenders: list[demo_net.DemoLender] = []
    holders: list[HolderProcess] = []
    try:
        w3 = connect(chain.rpc_url)
        deployment, fresh = demo_net.ensure_deployment(w3, settings.deployment_path)
        console.print("deployed the consortium" if fresh else f"reusing the deployment in {settings.deployment_path}")
        stale = demo_net.forget_gateways(settings.home) if fresh else []
        if stale:
            console.print(f"removed the gateway data of an earlier chain: {', '.join(str(p) for p in stale)}")
        print_deployment(deployment, settings.deployment_path)
        for name in demo_net.admit_lenders(w3, deployment):
            console.print(f"admitted {name} (proposal + second governor's approval)")
        if gateways:
            holder_envs, dealt = demo_net.prepare_holders(
                settings.home, w3, chain.rpc_url, deployment, first_port + demo_net.HOLDER_PORT_OFFSET
            )
            with console.status("starting the key-share holders"):
                for holder_env in holder_envs:
                    holders.append(HolderProcess(holder_env))  # appended first: a Ctrl-C while starting stops it
                    holders[-1].start()
            console.print(
                f"key-share holders {demo_net.THRESHOLD}-of-{len(holder_envs)} on "
                + ", ".join(h.url for h in holder_envs)
                + (" (new shares dealt and published by two governors)" if dealt else "")
            )
            lenders = demo_net.prepare_gateways(settings.home, chain.rpc_url, deployment, first_port)
            with console.status("starting the lenders' gateways"):
                for lender in lenders:
                    lender.process = GatewayProcess(lender.env)  # assigned first: a Ctrl-C while starting stops it
                    lender.process.start()
            history = demo_net.plan_history(settings.home, borrowers)
            started = time.monotonic()
            with console.status("loading the synthetic history") as status:
                loaded = demo_net.load_history(lenders, history, progress=status.update)
            if loaded.reused:
                console.print(f"synthetic history already loaded, 0 new records submitted: {history.stats.describe()}")
                if history.stats.borrowers != borrowers:
                    console.print(f"(--borrowers {borrowers} applies after `creditshare demo --reset`)")
            else:
                console.print(
                    f"loaded the synthetic history as of {history.as_of}: {history.stats.describe()}; "
                    f"{loaded.submitted:,} new records submitted ({loaded.duplicates:,} were already there)"
                )
            with console.status("waiting for the chain and the indexes") as status:
                block = demo_net.wait_until_indexed(
                    lenders, w3, timeout=120 + history.records / 50, progress=status.update
                )
            console.print(
                f"every gateway has confirmed its records and indexed block {block} "
                f"({time.monotonic() - started:.1f} s)"
            )
            with console.status("post-loan: an overdue at the second lender, a dispute through the first"):
                story = demo_net.post_loan_story(lenders, w3)
            print_tour(lenders, demo_net.tour_record(lenders[0]), history.examples, story)
        console.print(f"chain: [bold]{chain.rpc_url}[/]; Ctrl-C stops everything")
        wait_for_interrupt()
    finally:
        for lender in lenders:
            if lender.process:
                lender.process.stop()
        for holder in holders:
            holder.stop()
        chain.stop()
        console.print("stopped")


def print_tour(lenders: list[Any], record: dict[str, object], examples: dict[str, str], story: Any = None) -> None:
    """Each gateway with its console login and API key, one item per line so that nothing is cut at 80 columns
    (a table cut the keys short), then the tour: the console first, then the same through the API."""
    import json

    from creditshare.devtools import demo as demo_net

    for lender in lenders:
        console.print(f"\n[bold]{lender.name}[/]", highlight=False)
        console.print(f"  gateway  {lender.env.url}", highlight=False, soft_wrap=True)
        console.print(
            f"  console  {lender.console_url}  user: underwriter (or auditor), password: {lender.console_password}",
            highlight=False,
            soft_wrap=True,
        )
        console.print(f"  API key  {lender.api_key}", highlight=False, soft_wrap=True)
        console.print(f"           (also in {lender.key_file})", highlight=False, soft_wrap=True)
    b = lenders[1]
    console.print(
        f"\n[bold]Start here[/]: open {b.console_url}, sign in as underwriter with {b.name}'s password above, and "
        f"query resident ID {demo_net.MULTI_BORROWER}: a borrower with loans at all three lenders.",
        highlight=False,
        soft_wrap=True,
    )
    a = lenders[0]
    compact = lambda value: json.dumps(value, separators=(",", ":"))  # noqa: E731 - no quote needs escaping
    report = {
        "id_type": "resident_id",
        "id_number": demo_net.MULTI_BORROWER,
        "purpose": "loan_application",
        "consent_ref": "TOUR-CONSENT-1",
    }
    verify = {"lender": a.env.lender.address, "record": record}
    console.print("\n[bold]Try it[/] (copy-paste):", highlight=False)
    for title, url, key, body in (
        ("submit an event at " + a.name, a.env.url + "/v1/events", a.api_key, record),
        (
            f"credit report at {b.name}: loans at all three lenders (multi-lending)",
            b.env.url + "/v1/reports",
            b.api_key,
            report,
        ),
        (
            f"verify the submitted record at {b.name} (match: true after a second or two, once it is on chain)",
            b.env.url + "/v1/verify",
            b.api_key,
            verify,
        ),
    ):
        console.print(f"# {title}", highlight=False)
        console.print(
            f"curl -s -X POST {url} -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' "
            f"-d '{compact(body)}'",
            highlight=False,
            soft_wrap=True,
        )
    if examples:
        others = ", ".join(f"{number} ({label})" for label, number in examples.items())
        console.print(f"# other applicants to try in the report: {others}", highlight=False, soft_wrap=True)
    if story is not None:
        console.print(
            f"# post-loan alerts at {a.name}: its borrower {demo_net.MULTI_BORROWER} went overdue at {b.name}",
            highlight=False,
            soft_wrap=True,
        )
        console.print(
            f"curl -s {a.env.url}/v1/alerts -H 'Authorization: Bearer {a.api_key}'", highlight=False, soft_wrap=True
        )
        console.print(
            f"# disputes at {b.name}: the borrower disputed that overdue through {a.name} (dispute {story.dispute_id}, "
            "answer due in 20 days)",
            highlight=False,
            soft_wrap=True,
        )
        console.print(
            f"curl -s '{b.env.url}/v1/disputes?role=against_me' -H 'Authorization: Bearer {b.api_key}'",
            highlight=False,
            soft_wrap=True,
        )
