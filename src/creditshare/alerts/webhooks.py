"""Webhook endpoints and their dead letters: adding an endpoint (which returns its signing secret once),
listing and removing them, listing deliveries given up and re-delivering them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from creditshare.alerts import signing
from creditshare.alerts.delivery import Attempt, Deliverer, endpoint_cipher_aad, post
from creditshare.core.clock import aware, utcnow
from creditshare.core.crypto import RecordCipher
from creditshare.core.db import transaction
from creditshare.core.db.tables import Alert, WebhookDelivery, WebhookEndpoint
from creditshare.core.exceptions import CreditShareError


class WebhookError(CreditShareError):
    """Raised for a bad endpoint URL or an unknown endpoint or delivery; `code` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Endpoint:
    id: int
    url: str
    created_at: dt.datetime
    pending: int
    dead: int


@dataclass(frozen=True)
class DeadLetter:
    delivery_id: int
    alert_id: int
    kind: str
    url: str
    attempts: int
    last_error: str | None


def check_url(url: str) -> str:
    """An endpoint URL must be http(s) with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("invalid_url", f"{url!r} is not an http(s) URL with a host")
    return url


class WebhookBook:
    """This lender's webhook endpoints; secrets are stored sealed, bound to their URL."""

    def __init__(self, factory: sessionmaker[Session], cipher: RecordCipher, deliverer: Deliverer) -> None:
        self._factory = factory
        self._cipher = cipher
        self._deliverer = deliverer

    def add(self, url: str, secret: str | None = None) -> tuple[int, str]:
        """Add an endpoint; returns its id and signing secret (shown this once). New alerts go to it; earlier
        ones do not."""
        secret = secret or signing.new_secret()
        signing.sign(secret, "check", 0, b"")  # a malformed given secret fails here
        sealed = self._cipher.seal(secret.encode(), endpoint_cipher_aad(check_url(url))).hex()
        with transaction(self._factory) as session:
            row = WebhookEndpoint(url=url, secret=sealed)
            session.add(row)
            session.flush()
            return row.id, secret

    def endpoints(self) -> list[Endpoint]:
        with self._factory() as session:
            endpoints = session.scalars(
                select(WebhookEndpoint).where(WebhookEndpoint.removed_at.is_(None)).order_by(WebhookEndpoint.id)
            ).all()
            counts: dict[tuple[int, str], int] = {}
            for endpoint_id, state in session.execute(select(WebhookDelivery.endpoint_id, WebhookDelivery.state)):
                counts[(endpoint_id, state)] = counts.get((endpoint_id, state), 0) + 1
            return [
                Endpoint(
                    e.id, e.url, aware(e.created_at), counts.get((e.id, "pending"), 0), counts.get((e.id, "dead"), 0)
                )
                for e in endpoints
            ]

    def remove(self, endpoint_id: int) -> None:
        """Stop delivering to an endpoint (its pending deliveries are dropped; dead letters stay listed)."""
        with transaction(self._factory) as session:
            row = self._endpoint(session, endpoint_id)
            row.removed_at = utcnow()
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.state == "pending")
                .values(state="dropped")
            )

    def test(self, endpoint_id: int) -> Attempt:
        """Send one signed `ping` to an endpoint now and say how it went."""
        with self._factory() as session:
            row = self._endpoint(session, endpoint_id)
            url, secret = row.url, self._deliverer.open_secret(row.url, row.secret)
        body = b'{"type":"ping","data":{}}'
        with httpx.Client() as client:
            return post(client, url, secret, f"ping_{int(utcnow().timestamp())}", body, self._deliverer.policy.timeout)

    def dead_letters(self) -> list[DeadLetter]:
        with self._factory() as session:
            rows = session.execute(
                select(WebhookDelivery, Alert.kind, WebhookEndpoint.url)
                .join(Alert, Alert.id == WebhookDelivery.alert_id)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(WebhookDelivery.state == "dead")
                .order_by(WebhookDelivery.id)
            ).all()
            return [DeadLetter(d.id, d.alert_id, kind, url, d.attempts, d.last_error) for d, kind, url in rows]

    def redeliver(self, delivery_ids: list[int] | None = None) -> int:
        """Put dead letters (these, or all) back in the queue with a fresh retry window; returns how many."""
        now = utcnow()
        with transaction(self._factory) as session:
            query = update(WebhookDelivery).where(WebhookDelivery.state == "dead")
            if delivery_ids is not None:
                query = query.where(WebhookDelivery.id.in_(delivery_ids))
            result = session.execute(
                query.values(state="pending", attempts=0, window_start=now, next_attempt_at=now, last_error=None)
            )
            count = int(result.rowcount or 0)  # type: ignore[attr-defined]
        self._deliverer.wake.set()
        return count

    @staticmethod
    def _endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
        row = session.get(WebhookEndpoint, endpoint_id)
        if row is None or row.removed_at is not None:
            raise WebhookError("unknown_endpoint", f"no webhook endpoint {endpoint_id}")
        return row
