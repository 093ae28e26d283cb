"""What a gateway and a key-share holder say to each other: the evaluation request and answer, and the signature
that authenticates the calling member.

A request is signed with the member's lender key (EIP-191 `personal_sign`) over the holder's index, the time and
the SHA-256 of the exact body bytes, so a holder can check the caller against the registry without any shared
secret, and a captured request is useless to anyone else (another body, holder or time fails the signature, and
the holder refuses a request id it has already logged).
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Literal

from eth_account import Account
from eth_account.messages import encode_defunct
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

#: Headers of a signed evaluation request.
MEMBER_HEADER = "X-Creditshare-Member"
TIME_HEADER = "X-Creditshare-Time"
SIGNATURE_HEADER = "X-Creditshare-Signature"
#: Seconds a signed request stays acceptable either side of the holder's clock.
MAX_CLOCK_SKEW = 60
#: Most blinded elements one request may carry.
MAX_BATCH = 256

Hex32 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class EvaluateRequest(BaseModel):
    """One batch of blinded points to multiply by the holder's share, and why the caller needs them: `submit` (its
    own customers' records), `query` (a report, naming the inquiry it will record: its consent hash; several
    concurrent reports name one inquiry per element in `inquiries`) or `verify` (checking a disclosed record)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: Hex32 = Field(description="Random 32-byte id; a holder answers each id once")
    purpose: Literal["submit", "query", "verify"]
    inquiry: Hex32 | None = Field(None, description="For `query`: the inquiry id the report will record on chain")
    inquiries: list[Hex32] | None = Field(
        None,
        min_length=1,
        max_length=MAX_BATCH,
        description="For `query` on behalf of several reports (instead of `inquiry`): each element's inquiry, in order",
    )
    elements: list[Hex32] = Field(min_length=1, max_length=MAX_BATCH, description="Blinded ristretto255 points")

    @model_validator(mode="after")
    def _inquiries_fit(self) -> EvaluateRequest:
        if self.inquiries is not None:
            if self.purpose != "query" or self.inquiry is not None:
                raise ValueError("`inquiries` is for `query` requests, instead of `inquiry`")
            if len(self.inquiries) != len(self.elements):
                raise ValueError("`inquiries` needs one inquiry per element")
        return self

    def element_inquiries(self) -> list[bytes | None]:
        """The inquiry each element is evaluated for (None outside `query`)."""
        if self.inquiries is not None:
            return [bytes.fromhex(i) for i in self.inquiries]
        return [bytes.fromhex(self.inquiry) if self.inquiry else None] * len(self.elements)


class EvaluateResponse(BaseModel):
    """The holder's share applied to every element, one DLEQ proof for the batch, and where it was logged."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: int = Field(ge=1, description="The share index (its Lagrange point)")
    elements: list[Hex32]
    proof: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{128}$")]
    log_seq: int = Field(ge=1, description="Sequence number of this evaluation's (first) entry in the holder's log")


class LogHead(BaseModel):
    """The newest entry of a holder's evaluation log and the last head anchored on chain."""

    index: int
    seq: int
    head: Hex32
    anchored_seq: int
    anchored_head: Hex32 | None


def signed_message(holder_index: int, timestamp: int, body: bytes) -> bytes:
    """What the calling member signs: the holder, the time and the body's digest."""
    return f"creditshare-keyshare/v1\n{holder_index}\n{timestamp}\n{hashlib.sha256(body).hexdigest()}".encode()


def sign_request(private_key: bytes, holder_index: int, timestamp: int, body: bytes) -> str:
    """The signature header value for `body` sent to holder `holder_index` at `timestamp`."""
    signed = Account.sign_message(encode_defunct(primitive=signed_message(holder_index, timestamp, body)), private_key)
    return "0x" + bytes(signed.signature).hex()


_SIGNATURE = re.compile(r"^0x[0-9a-fA-F]{130}$")


def recover_signer(signature: str, holder_index: int, timestamp: int, body: bytes) -> str | None:
    """The address that signed this request, or None when the signature is malformed."""
    if not _SIGNATURE.match(signature):
        return None
    try:
        return str(
            Account.recover_message(
                encode_defunct(primitive=signed_message(holder_index, timestamp, body)), signature=signature
            )
        )
    except Exception:  # eth_keys raises several types for a bad (r, s, v); all mean "not a signature"
        return None
