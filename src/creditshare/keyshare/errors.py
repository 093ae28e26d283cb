"""Why a key-share holder refuses a request, and why a gateway could not get a subject key.

Each holder-side error carries the HTTP status and machine-readable code the holder answers with.
"""

from __future__ import annotations

from creditshare.core.exceptions import CreditShareError


class KeyshareError(CreditShareError):
    """Root of the key-share errors."""

    status = 400
    code = "keyshare_error"


class BadSignature(KeyshareError):
    """The request is not signed, or not by the member it names, or not for this holder and body."""

    status = 401
    code = "bad_signature"


class StaleRequest(KeyshareError):
    """The request's time is too far from the holder's clock (a replay or a wrong clock)."""

    status = 401
    code = "stale_request"


class NotActiveMember(KeyshareError):
    """The signer is not an active lender in the registry (never admitted, suspended or removed)."""

    status = 403
    code = "not_active_member"


class ReplayedRequest(KeyshareError):
    """A request with this id was already answered."""

    status = 409
    code = "replayed_request"


class InquiryRequired(KeyshareError):
    """A `query` evaluation must name the inquiry it belongs to."""

    status = 422
    code = "inquiry_required"


class InvalidElement(KeyshareError):
    """A blinded element is not a canonical, non-identity ristretto255 point."""

    status = 422
    code = "invalid_element"


class QuotaExceeded(KeyshareError):
    """The member has used its evaluations for this minute or day; `retry_after` is seconds until it may retry."""

    status = 429
    code = "quota_exceeded"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class KeyshareUnavailable(CreditShareError):
    """Fewer than t holders answered correctly: no subject key can be made (the gateway answers 503
    `keyshare_unavailable` and stores nothing)."""

    def __init__(self, message: str, *, quota: bool = False, not_member: bool = False) -> None:
        super().__init__(message)
        self.quota = quota  # a holder's quota for this member was among the reasons
        self.not_member = not_member  # every holder refused this gateway's lender as not an active member
