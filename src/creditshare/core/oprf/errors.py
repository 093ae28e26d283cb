"""Errors of the OPRF core: one class per way an evaluation can be refused, all under `OprfError`.

They map onto RFC 9497's named errors (DeserializeError/InputValidationError, InvalidInputError, VerifyError,
DeriveKeyPairError) so a reader of the RFC finds the same decision points here; the threshold ones are ours.
Messages never contain inputs, blinds or key material: they reach logs and API answers.
"""

from __future__ import annotations

from collections.abc import Iterable

from creditshare.core.exceptions import CreditShareError


class OprfError(CreditShareError):
    """Raised when an OPRF operation is refused; the root of this module's errors, catch it to handle them all."""


class InvalidElementError(OprfError):
    """Raised when bytes meant as a ristretto255 element are not 32 bytes, not a canonical encoding, or encode the
    identity (RFC 9497 §4.1 DeserializeElement). Elements received over the wire are always checked: an identity
    or a non-canonical alias would let a peer learn about a key or make two encodings of one point."""


class InvalidScalarError(OprfError):
    """Raised when bytes meant as a scalar are not 32 bytes, not below the group order (RFC 9497 §4.1
    DeserializeScalar), or zero where zero would be unsafe (a secret key, a blind, a share)."""


class InvalidInputError(OprfError):
    """Raised when a private input cannot be evaluated: longer than 65,535 bytes (it is length-prefixed with two
    bytes) or hashed to the identity element (RFC 9497 §3.3.1 InvalidInputError; probability negligible)."""


class DeriveKeyPairError(OprfError):
    """Raised when DeriveKeyPair (RFC 9497 §3.2.1) finds no non-zero scalar in 256 tries (never in practice)."""


class ProofVerificationError(OprfError):
    """Raised when a server's answer fails verification: its DLEQ proof does not verify against the expected public
    key, the proof is missing, or it returns a different number of elements than were sent (RFC 9497 VerifyError).
    The answer must then be discarded whole: no element of it is trustworthy."""


class ShareVerificationError(ProofVerificationError):
    """Raised when the partial answers of one or more key-share holders fail verification (a wrong element, a proof
    made with another share, a proof over other blinded elements, an unknown share index). `indexes` names every
    failing holder so the caller can skip exactly those and ask others."""

    def __init__(self, indexes: Iterable[int], reason: str = "partial evaluation does not verify") -> None:
        self.indexes: tuple[int, ...] = tuple(sorted(set(indexes)))
        super().__init__(f"{reason}: share index {', '.join(map(str, self.indexes))}")


class InvalidShareError(OprfError):
    """Raised when shares or threshold parameters are malformed: an index outside 1..65535, two shares with one
    index, a threshold outside 1..n, or partial answers verified over different blinded elements."""


class NotEnoughSharesError(OprfError):
    """Raised when fewer than the threshold of distinct, verified shares or partial answers are available: below
    the threshold the key is information-theoretically hidden and no combination yields the PRF."""

    def __init__(self, have: int, need: int) -> None:
        self.have = have
        self.need = need
        super().__init__(f"{have} distinct share(s) available, the threshold is {need}")
