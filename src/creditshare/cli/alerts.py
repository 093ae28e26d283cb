"""`creditshare alerts list | dead-letters | redeliver` and `creditshare webhooks add | list | remove | test`:
post-loan alerts and where they are delivered."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from creditshare.alerts.webhooks import WebhookError
from creditshare.cli._shared import console, open_gateway, synced_gateway
from creditshare.core.config import Settings
from creditshare.core.exceptions import ConfigError

alerts_app = typer.Typer(help="Post-loan alerts (贷后预警) of this lender.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Webhook endpoints alerts are delivered to.", no_args_is_help=True)


@alerts_app.command("list")
def alerts_list(
    after: Annotated[int, typer.Option(help="Only alerts after this cursor.")] = 0,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
) -> None:
    """This lender's alerts (indexes the chain first), oldest first."""
    gateway = synced_gateway()
    try:
        page = gateway.alerts.page(after, limit)
    finally:
        gateway.stop()
    table = Table(title=f"{len(page.alerts)} alerts (next cursor {page.next_cursor})")
    for column in ("id", "kind", "reference", "other lender", "date", "block", "dispute / deadline"):
        table.add_column(column)
    for a in page.alerts:
        extra = f"{a['dispute_id']} / {a['deadline'][:10]}" if a["dispute_id"] else ""
        other = a["other_lender_name"] or a["other_lender"]
        table.add_row(
            str(a["id"]), a["kind"], a["reference"] or "", other, a["occurred_on"], str(a["block_number"]), extra
        )
    console.print(table)


@alerts_app.command("dead-letters")
def alerts_dead_letters() -> None:
    """Webhook deliveries given up after the retry window."""
    gateway = open_gateway(Settings.from_env())
    try:
        dead = gateway.webhooks.dead_letters()
    finally:
        gateway.stop()
    table = Table(title=f"{len(dead)} dead letters")
    for column in ("delivery", "alert", "kind", "endpoint", "attempts", "last error"):
        table.add_column(column)
    for d in dead:
        table.add_row(str(d.delivery_id), str(d.alert_id), d.kind, d.url, str(d.attempts), d.last_error or "")
    console.print(table)


@alerts_app.command("redeliver")
def alerts_redeliver(
    delivery: Annotated[list[int] | None, typer.Argument(help="Dead letters to re-deliver (default: all).")] = None,
) -> None:
    """Queue dead letters again with a fresh retry window (`creditshare serve` delivers them)."""
    gateway = open_gateway(Settings.from_env())
    try:
        count = gateway.webhooks.redeliver(delivery or None)
    finally:
        gateway.stop()
    if delivery and count < len(delivery):
        raise ConfigError(f"only {count} of {len(delivery)} deliveries were dead letters; see `alerts dead-letters`")
    console.print(f"{count} deliveries queued again")


@webhooks_app.command("add")
def webhooks_add(
    url: Annotated[str, typer.Argument(help="The receiver's http(s) URL.")],
) -> None:
    """Add an endpoint; prints its signing secret once (Standard Webhooks `whsec_…`)."""
    gateway = open_gateway(Settings.from_env())
    try:
        endpoint_id, secret = gateway.webhooks.add(url)
    except WebhookError as exc:
        raise ConfigError(f"{exc.code}: {exc}") from None
    finally:
        gateway.stop()
    console.print(f"webhook {endpoint_id} added for {url}")
    console.print(f"signing secret (shown once): {secret}")


@webhooks_app.command("list")
def webhooks_list() -> None:
    """Endpoints and their pending and dead deliveries."""
    gateway = open_gateway(Settings.from_env())
    try:
        endpoints = gateway.webhooks.endpoints()
    finally:
        gateway.stop()
    table = Table(title=f"{len(endpoints)} webhook endpoints")
    for column in ("id", "url", "added", "pending", "dead"):
        table.add_column(column)
    for e in endpoints:
        table.add_row(str(e.id), e.url, f"{e.created_at:%Y-%m-%d %H:%M}", str(e.pending), str(e.dead))
    console.print(table)


@webhooks_app.command("remove")
def webhooks_remove(endpoint_id: Annotated[int, typer.Argument(help="The endpoint's id.")]) -> None:
    """Stop delivering to an endpoint."""
    gateway = open_gateway(Settings.from_env())
    try:
        gateway.webhooks.remove(endpoint_id)
    except WebhookError as exc:
        raise ConfigError(f"{exc.code}: {exc}") from None
    finally:
        gateway.stop()
    console.print(f"webhook {endpoint_id} removed")


@webhooks_app.command("test")
def webhooks_test(endpoint_id: Annotated[int, typer.Argument(help="The endpoint's id.")]) -> None:
    """Send a signed ping to an endpoint now."""
    gateway = open_gateway(Settings.from_env())
    try:
        attempt = gateway.webhooks.test(endpoint_id)
    except WebhookError as exc:
        raise ConfigError(f"{exc.code}: {exc}") from None
    finally:
        gateway.stop()
    if not attempt.delivered:
        raise ConfigError(f"the endpoint did not accept the ping: {attempt.error}")
    console.print(f"webhook {endpoint_id} answered the ping with a 2xx")
