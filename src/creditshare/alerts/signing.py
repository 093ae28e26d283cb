"""Standard Webhooks signatures (https://www.standardwebhooks.com/): `webhook-id`, `webhook-timestamp` and
`webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` under a `whsec_<base64>` secret.

About twenty lines, so written here rather than pulled in; the tests reproduce the specification's published
example, which is what tells that any receiver's library accepts what we send.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from creditshare.core.exceptions import CreditShareError

SECRET_PREFIX = "whsec_"
#: How far a receiver should accept a timestamp from its own clock (the specification's suggestion).
TOLERANCE_SECONDS = 5 * 60


class InvalidSignature(CreditShareError):
    """Raised when a webhook's signature or timestamp does not verify."""


def new_secret() -> str:
    """A fresh signing secret: 24 random bytes, `whsec_`-prefixed base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except ValueError as exc:
        raise InvalidSignature("the signing secret is not whsec_ followed by base64") from exc


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one message."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()


def headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of one delivery attempt."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
        "content-type": "application/json",
    }


def verify(secret: str, msg_id: str, timestamp: int, body: bytes, signature_header: str, now: int) -> None:
    """What a receiver does: raise `InvalidSignature` unless one of the header's space-separated `v1,` signatures
    matches and the timestamp is within `TOLERANCE_SECONDS` of `now`."""
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise InvalidSignature(f"timestamp {timestamp} is too far from now ({now})")
    expected = sign(secret, msg_id, timestamp, body).encode()
    if not any(hmac.compare_digest(expected, part.encode()) for part in signature_header.split()):
        raise InvalidSignature("no signature matches")
