"""API clients of a gateway: keys stored only as SHA-256 hashes, each with a set of scopes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from creditshare.core.clock import utcnow
from creditshare.core.db.tables import ApiClient
from creditshare.core.exceptions import CreditShareError

KEY_PREFIX = "csk_"


class Scope(StrEnum):
    """What a client may do."""

    SUBMIT = "submit"  # POST /v1/events, GET /v1/events/{id}
    QUERY = "query"  # POST /v1/reports
    VERIFY = "verify"  # POST /v1/verify
    ADMIN = "admin"  # operational endpoints
    BORROWER_SERVICE = "borrower_service"  # POST /v1/borrower/*: a person's own report and objections
    DISPUTES = "disputes"  # /v1/disputes: open (for a person), list and resolve disputes
    ALERTS = "alerts"  # /v1/alerts and /v1/watchlist: post-loan alerts

    @classmethod
    def parse(cls, text: str) -> frozenset[Scope]:
        """Parse "submit,query" into scopes; raises `ClientError` on an unknown name."""
        names = [s.strip() for s in text.replace(" ", ",").split(",") if s.strip()]
        try:
            return frozenset(cls(n) for n in names)
        except ValueError:
            known = ", ".join(s.value for s in cls)
            raise ClientError(f"unknown scope in {text!r}; known scopes: {known}") from None


class ClientError(CreditShareError):
    """Raised when a client cannot be created, found or revoked."""


@dataclass(frozen=True)
class Caller:
    """An authenticated API client."""

    id: int
    name: str
    scopes: frozenset[Scope]


def hash_key(key: str) -> bytes:
    """Keys are 256-bit random tokens, so a plain SHA-256 is a sound one-way store (no stretching needed)."""
    return hashlib.sha256(key.encode()).digest()


def create_client(session: Session, name: str, scopes: frozenset[Scope]) -> tuple[ApiClient, str]:
    """Create a client and return it with its key — the only time the key is ever visible."""
    if not scopes:
        raise ClientError("give at least one scope")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    client = ApiClient(
        name=name,
        key_prefix=key[:10],
        key_hash=hash_key(key),
        scopes=",".join(sorted(s.value for s in scopes)),
    )
    session.add(client)
    try:
        session.flush()
    except IntegrityError:
        raise ClientError(f"a client named {name!r} already exists") from None
    return client, key


def authenticate(session: Session, key: str) -> Caller | None:
    """The caller owning `key`, or None if the key is unknown or revoked."""
    client = session.scalar(select(ApiClient).where(ApiClient.key_hash == hash_key(key)))
    if client is None or client.revoked_at is not None:
        return None
    return Caller(client.id, client.name, Scope.parse(client.scopes))


def list_clients(session: Session) -> list[ApiClient]:
    return list(session.scalars(select(ApiClient).order_by(ApiClient.id)))


def revoke_client(session: Session, name: str) -> ApiClient:
    client = session.scalar(select(ApiClient).where(ApiClient.name == name))
    if client is None:
        raise ClientError(f"no client named {name!r}")
    if client.revoked_at is None:
        client.revoked_at = utcnow()
    return client
