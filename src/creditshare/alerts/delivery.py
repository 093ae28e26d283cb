"""Delivering alerts to webhooks: every pending delivery that is due is POSTed, signed per Standard Webhooks; a
failure is retried with exponential backoff until the retry window (24 h by default) has passed since the first
attempt, then the delivery is dead-lettered until someone re-delivers it.

Delivery is at least once, with the alert's id as `webhook-id` on every attempt: a gateway that stops between a
receiver's 2xx and recording it sends the same message again after a restart, and the receiver drops the repeat
by its id (what the specification asks receivers to do). Nothing is lost: a delivery stays pending in the
database until a 2xx is recorded.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from creditshare.alerts import signing
from creditshare.alerts.payload import member_names, message_id, webhook_body
from creditshare.core.clock import aware, utcnow
from creditshare.core.crypto import RecordCipher
from creditshare.core.db import transaction
from creditshare.core.db.tables import Alert, WebhookDelivery, WebhookEndpoint
from creditshare.core.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """When to try again: `first_delay` seconds after the first failure, doubling up to `max_delay`, until
    `window` seconds have passed since the delivery's first attempt."""

    first_delay: float = 1.0
    max_delay: float = 3600.0
    window: float = 86_400.0
    timeout: float = 5.0

    def delay(self, attempts: int) -> float:
        """Seconds before attempt `attempts + 1`."""
        return float(min(self.first_delay * 2 ** max(attempts - 1, 0), self.max_delay))


@dataclass(frozen=True)
class _Due:
    delivery_id: int
    attempts: int
    window_start: dt.datetime
    url: str
    secret: str
    alert_id: int
    block_time: int
    body: bytes


@dataclass(frozen=True)
class Attempt:
    """What one POST came to: delivered (a 2xx), or the error."""

    delivered: bool
    error: str | None = None


def endpoint_cipher_aad(endpoint_url: str) -> bytes:
    """The associated data a sealed secret is bound to: its endpoint's URL."""
    return b"creditshare/webhook-secret/v1\x00" + endpoint_url.encode()


def post(client: httpx.Client, url: str, secret: str, msg_id: str, body: bytes, timeout: float) -> Attempt:
    """POST one signed message; a 2xx delivers it."""
    try:
        response = client.post(
            url, content=body, headers=signing.headers(secret, msg_id, int(time.time()), body), timeout=timeout
        )
    except httpx.HTTPError as exc:
        return Attempt(False, f"{type(exc).__name__}: {exc}"[:500])
    if 200 <= response.status_code < 300:
        return Attempt(True)
    return Attempt(False, f"HTTP {response.status_code}")


class Deliverer:
    """Sends due webhook deliveries; `run` is the gateway's delivery thread, `wake` makes it look at once."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        cipher: RecordCipher,
        *,
        policy: RetryPolicy | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        workers: int = 8,
    ) -> None:
        self._factory = factory
        self._cipher = cipher
        self.policy = policy or RetryPolicy()
        self._metrics = metrics
        self._clock = clock
        self.wake = threading.Event()
        self._client = httpx.Client(follow_redirects=False)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._client.close()

    def run(self, stop: threading.Event, interval: float = 0.5) -> None:
        """Deliver until `stop` is set: at once when woken (new alerts), else every `interval` seconds."""
        while not stop.is_set():
            try:
                busy = self.deliver_due()
            except Exception:  # never die silently
                log.exception("webhook delivery: unexpected error")
                busy = 0
            if not busy:
                self.wake.wait(interval)
                self.wake.clear()

    def deliver_due(self, limit: int = 256) -> int:
        """Attempt every due pending delivery (at most `limit`); returns how many were attempted."""
        due = self._due(limit)
        if not due:
            return 0
        attempts = list(
            self._pool.map(
                lambda d: post(self._client, d.url, d.secret, message_id(d.alert_id), d.body, self.policy.timeout),
                due,
            )
        )
        now = self._clock()
        with transaction(self._factory) as session:
            for d, attempt in zip(due, attempts, strict=True):
                self._record(session, d, attempt, now)
        if self._metrics is not None:
            self._metrics.webhook_dead_letters.set(self.dead_count())
        return len(due)

    def dead_count(self) -> int:
        with self._factory() as session:
            return int(session.scalar(select(func.count()).where(WebhookDelivery.state == "dead")) or 0)

    def _due(self, limit: int) -> list[_Due]:
        now = self._clock()
        with self._factory() as session:
            rows = session.execute(
                select(WebhookDelivery, WebhookEndpoint.url, WebhookEndpoint.secret, Alert)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .join(Alert, Alert.id == WebhookDelivery.alert_id)
                .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.id)
                .limit(limit)
            ).all()
            names = member_names(session) if rows else {}
            return [
                _Due(
                    delivery.id,
                    delivery.attempts,
                    delivery.window_start,
                    url,
                    self.open_secret(url, sealed),
                    alert.id,
                    alert.block_time,
                    webhook_body(alert, names),
                )
                for delivery, url, sealed, alert in rows
            ]

    def open_secret(self, url: str, sealed: str) -> str:
        return self._cipher.open(bytes.fromhex(sealed), endpoint_cipher_aad(url)).decode()

    def _record(self, session: Session, due: _Due, attempt: Attempt, now: dt.datetime) -> None:
        row = session.get(WebhookDelivery, due.delivery_id)
        if row is None or row.state != "pending":
            return
        row.attempts += 1
        if attempt.delivered:
            row.state, row.delivered_at, row.last_error = "delivered", now, None
            outcome = "delivered"
            if self._metrics is not None and row.attempts == 1:
                self._metrics.alert_delivery_seconds.observe(max(0.0, now.timestamp() - due.block_time))
        elif (now - aware(due.window_start)).total_seconds() >= self.policy.window:
            row.state, row.last_error = "dead", attempt.error
            outcome = "dead"
        else:
            row.last_error = attempt.error
            row.next_attempt_at = now + dt.timedelta(seconds=self.policy.delay(row.attempts))
            outcome = "failed"
        if self._metrics is not None:
            self._metrics.webhook_attempts.labels(outcome).inc()
