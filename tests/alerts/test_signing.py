"""Standard Webhooks signatures: the specification's published example, and what a receiver must refuse."""

from __future__ import annotations

import pytest

from creditshare.alerts import signing
from creditshare.alerts.delivery import RetryPolicy

# The example published with the Standard Webhooks specification (and its reference libraries' tests).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_reproduces_the_specifications_example() -> None:
    assert signing.sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE
    headers = signing.headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    assert headers["webhook-id"] == SPEC_ID and headers["webhook-timestamp"] == str(SPEC_TIMESTAMP)
    assert headers["webhook-signature"] == SPEC_SIGNATURE
    # A receiver accepts it among other (rotated-out) signatures, as the specification allows.
    signing.verify(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY, "v1,bm9wZQ== " + SPEC_SIGNATURE, SPEC_TIMESTAMP)


@pytest.mark.parametrize(
    ("body", "timestamp", "now", "secret"),
    [
        (SPEC_BODY + b" ", SPEC_TIMESTAMP, SPEC_TIMESTAMP, SPEC_SECRET),  # body changed
        (SPEC_BODY, SPEC_TIMESTAMP + 1, SPEC_TIMESTAMP, SPEC_SECRET),  # timestamp changed
        (SPEC_BODY, SPEC_TIMESTAMP, SPEC_TIMESTAMP + 301, SPEC_SECRET),  # too old
        (SPEC_BODY, SPEC_TIMESTAMP, SPEC_TIMESTAMP, signing.new_secret()),  # another secret
    ],
    ids=["body", "timestamp", "stale", "secret"],
)
def test_verify_refuses_a_changed_message_or_a_stale_one(body: bytes, timestamp: int, now: int, secret: str) -> None:
    with pytest.raises(signing.InvalidSignature):
        signing.verify(secret, SPEC_ID, timestamp, body, SPEC_SIGNATURE, now)


def test_new_secrets_are_whsec_base64_and_distinct() -> None:
    first, second = signing.new_secret(), signing.new_secret()
    assert first.startswith("whsec_") and first != second
    signing.verify(first, "m", 5, b"{}", signing.sign(first, "m", 5, b"{}"), 5)


def test_retry_delays_double_up_to_the_cap() -> None:
    policy = RetryPolicy(first_delay=1, max_delay=60, window=86_400)
    assert [policy.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    # Over 24 hours at these delays a failing receiver is tried about 1,450 times before it is dead-lettered.
    elapsed, attempts = 0.0, 0
    while elapsed < policy.window:
        attempts += 1
        elapsed += policy.delay(attempts)
    assert 1_400 < attempts < 1_500
