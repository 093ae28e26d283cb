"""Threshold evaluation of the RFC 9497 VOPRF: the key k is Shamir-shared t-of-n and never whole anywhere.

The PRF is linear in the key: k·B = Σ λ_i·(k_i·B) for any t distinct shares k_i = f(i) of a degree t-1 polynomial
with f(0) = k, λ_i the Lagrange coefficients at 0. So each holder i answers Z_i = k_i·B (B the blinded element)
with a DLEQ proof against its share public key pk_i = k_i·G, the client verifies each answer on its own, combines
"in the exponent" and unblinds; the output equals `evaluate(k, input, Mode.VOPRF)` of the RFC, bit for bit.

Share proofs are RFC 9497 §2.2 proofs (GenerateProof(k_i, G, pk_i, blindedElements, partialElements)) under the
context string of the VOPRF mode extended with the share index:

    shareContext(i) = "OPRFV1-" ‖ 0x01 ‖ "-ristretto255-SHA512" ‖ "-KeyShare-" ‖ I2OSP(i, 2)

used wherever the RFC uses contextString inside the proof (the "Seed-" DST of the composites and the
"HashToScalar-" DST of the composite weights and the challenge). pk_i already enters the seed and the challenge, so
a proof made with another share fails against pk_i; the index additionally separates share proofs from whole-key
VOPRF proofs and pins the proof to the index whose Lagrange coefficient the client will apply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from creditshare.core.oprf import group as g
from creditshare.core.oprf.errors import (
    InvalidElementError,
    InvalidShareError,
    NotEnoughSharesError,
    ShareVerificationError,
)
from creditshare.core.oprf.protocol import (
    Blinded,
    Mode,
    Proof,
    _finalize_hash,
    context_string,
    generate_proof,
    verify_proof,
)

MAX_SHARES = 65535  # the index is framed with I2OSP(i, 2) in the share context


def _check_index(index: int) -> int:
    if isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= MAX_SHARES:
        raise InvalidShareError(f"share index must be an integer in 1..{MAX_SHARES}")
    return index


@dataclass(frozen=True, slots=True)
class Share:
    """One holder's share k_i = f(i) of the OPRF key and its public key pk_i = k_i·G (what governance registers).
    The secret is out of repr and equality; pk_i determines it."""

    index: int
    secret: bytes = field(repr=False, compare=False)
    public_key: bytes

    def __post_init__(self) -> None:
        _check_index(self.index)
        g.deserialize_scalar(self.secret, nonzero=True)
        g.deserialize_element(self.public_key)


@dataclass(frozen=True, slots=True)
class PartialEvaluation:
    """A holder's answer to a batch: Z_i,j = k_i·B_j for every blinded element B_j, and one proof for them all."""

    index: int
    elements: tuple[bytes, ...]
    proof: Proof

    def __post_init__(self) -> None:
        _check_index(self.index)


@dataclass(frozen=True, slots=True)
class VerifiedPartial:
    """A partial answer whose proof verified, bound to the blinded elements it was verified over. Only
    `verify_partial` makes these, so `combine` cannot be handed an unchecked answer by mistake."""

    index: int
    elements: tuple[bytes, ...]
    blinded_elements: tuple[bytes, ...]


def share_context(index: int) -> bytes:
    """The context string of share `index`'s proofs (see the module docstring)."""
    return context_string(Mode.VOPRF) + b"-KeyShare-" + g.i2osp(_check_index(index), 2)


# --- dealing -------------------------------------------------------------------------------------------------


def split(secret: bytes, t: int, n: int) -> list[Share]:
    """Shamir-share `secret` t-of-n over the group order: f(x) = secret + a_1·x + … + a_{t-1}·x^{t-1} with random
    a_j; share i = f(i) for i = 1..n. Any t shares determine f(0); t-1 reveal nothing about it."""
    if not (isinstance(t, int) and isinstance(n, int) and 1 <= t <= n <= MAX_SHARES):
        raise InvalidShareError(f"need 1 <= t <= n <= {MAX_SHARES}, got t={t}, n={n}")
    coefficients = [g.deserialize_scalar(secret, nonzero=True)] + [g.random_scalar() for _ in range(t - 1)]
    shares = []
    for index in range(1, n + 1):
        x = g.scalar_from_int(index)
        value = coefficients[-1]
        for coefficient in reversed(coefficients[:-1]):  # Horner, in libsodium's constant-time scalar arithmetic
            value = g.scalar_add(g.scalar_mul(value, x), coefficient)
        shares.append(Share(index, value, g.base_mul(value)))
    del coefficients  # the polynomial determines the key: drop it as soon as the shares exist
    return shares


def deal(t: int, n: int) -> tuple[bytes, list[Share]]:
    """A trusted dealer's ceremony: a fresh random key, its public key k·G and its t-of-n shares. The key itself
    is not returned and not kept (see the package docstring on what "not kept" can mean in Python)."""
    k = g.random_scalar()
    public_key = g.base_mul(k)
    shares = split(k, t, n)
    del k
    return public_key, shares


# --- combination in the exponent -----------------------------------------------------------------------------


def lagrange_coefficients(indexes: Sequence[int]) -> dict[int, bytes]:
    """λ_i = Π_{j≠i} j / (j − i) mod order, the coefficients at 0 for this set of distinct indexes (public)."""
    points = [_check_index(i) for i in indexes]
    if len(set(points)) != len(points) or not points:
        raise InvalidShareError("share indexes must be distinct and non-empty")
    coefficients = {}
    for i in points:
        numerator, denominator = 1, 1
        for j in points:
            if j != i:
                numerator = numerator * j % g.ORDER
                denominator = denominator * (j - i) % g.ORDER
        coefficients[i] = g.scalar_from_int(numerator * pow(denominator, -1, g.ORDER))
    return coefficients


def combine_elements(points: Mapping[int, bytes]) -> bytes:
    """Σ λ_i·P_i over the given indexes: the whole-key result from per-share results. Applied to verified partial
    evaluations it gives k·B; applied to share public keys it gives the group public key k·G (any t of them agree,
    which is how a registry can check a set of share keys). It checks nothing else: with fewer than t points the
    result is simply some other element."""
    coefficients = lagrange_coefficients(list(points))
    return g.linear_combination([coefficients[i] for i in points], [points[i] for i in points])


# --- the holder's side ---------------------------------------------------------------------------------------


def partial_evaluate(
    share: Share, blinded_elements: Sequence[bytes], *, proof_randomness: bytes | None = None
) -> PartialEvaluation:
    """A holder's batch evaluation: every blinded element validated (canonical, not the identity) and multiplied
    by k_i, plus one batched proof under `share_context(i)` (RFC 9497 BlindEvaluate with a share as the key)."""
    if not blinded_elements:
        raise ValueError("nothing to evaluate")
    checked = [g.deserialize_element(element) for element in blinded_elements]
    evaluated = [g.element_mul(share.secret, element) for element in checked]
    proof = generate_proof(
        share.secret,
        g.GENERATOR,
        share.public_key,
        checked,
        evaluated,
        context=share_context(share.index),
        proof_randomness=proof_randomness,
    )
    return PartialEvaluation(share.index, tuple(evaluated), proof)


# --- the client's side ---------------------------------------------------------------------------------------


def verify_partial(partial: PartialEvaluation, public_key: bytes, blinded_elements: Sequence[bytes]) -> VerifiedPartial:
    """Check one holder's answer against its registered share public key. Raises `ShareVerificationError` naming
    the holder if anything about its answer is wrong; the caller's own inputs (`public_key`, `blinded_elements`)
    raise `InvalidElementError` instead, since no holder is to blame for those."""
    pk = g.deserialize_element(public_key)
    blinded = tuple(g.deserialize_element(element) for element in blinded_elements)
    if not blinded:
        raise ValueError("nothing to verify")
    if len(partial.elements) != len(blinded):
        raise ShareVerificationError([partial.index], "answer does not have one element per blinded element")
    try:
        evaluated = [g.deserialize_element(element) for element in partial.elements]
    except InvalidElementError:
        raise ShareVerificationError([partial.index], "answer contains an invalid element") from None
    if not verify_proof(g.GENERATOR, pk, blinded, evaluated, partial.proof, context=share_context(partial.index)):
        raise ShareVerificationError([partial.index])
    return VerifiedPartial(partial.index, tuple(evaluated), blinded)


def _select(verified: Sequence[VerifiedPartial], threshold: int) -> list[VerifiedPartial]:
    """The `threshold` lowest distinct indexes among partials verified over one list of blinded elements."""
    if not isinstance(threshold, int) or threshold < 1:
        raise InvalidShareError("the threshold must be at least 1")
    if len({partial.blinded_elements for partial in verified}) > 1:
        raise InvalidShareError("partial answers were verified over different blinded elements")
    by_index = {partial.index: partial for partial in verified}  # two verified answers of one index are equal
    if len(by_index) < threshold:
        raise NotEnoughSharesError(len(by_index), threshold)
    return [by_index[i] for i in sorted(by_index)[:threshold]]


def combine(verified: Sequence[VerifiedPartial], threshold: int) -> list[bytes]:
    """Combine t verified partial answers in the exponent: the evaluated elements k·B_j, one per blinded element,
    ready for `finalize`. Uses the t lowest indexes if more are given."""
    chosen = _select(verified, threshold)
    coefficients = lagrange_coefficients([partial.index for partial in chosen])
    weights = [coefficients[partial.index] for partial in chosen]
    return [
        g.linear_combination(weights, [partial.elements[j] for partial in chosen])
        for j in range(len(chosen[0].blinded_elements))
    ]


def threshold_finalize(
    blinded: Sequence[Blinded],
    partials: Sequence[PartialEvaluation],
    public_keys: Mapping[int, bytes],
    threshold: int,
) -> list[bytes]:
    """The client's whole second half: verify every partial answer (raising one `ShareVerificationError` that names
    every failing or unknown holder), then `finalize_verified` (which checks the batch itself)."""
    elements = [b.element for b in blinded]
    verified: list[VerifiedPartial] = []
    failed: list[int] = []
    for partial in partials:
        if partial.index not in public_keys:
            failed.append(partial.index)
            continue
        try:
            verified.append(verify_partial(partial, public_keys[partial.index], elements))
        except ShareVerificationError:
            failed.append(partial.index)
    if failed:
        raise ShareVerificationError(failed, "partial evaluation does not verify or its holder is unknown")
    return finalize_verified(blinded, verified, threshold)


def finalize_verified(blinded: Sequence[Blinded], verified: Sequence[VerifiedPartial], threshold: int) -> list[bytes]:
    """Combine t partial answers already verified over `blinded`'s elements (by `verify_partial`, e.g. as each
    holder answered) and finalize; outputs in the order of `blinded`.

    The unblinding is folded into the combination — N_j = Σ_i (λ_i·blind_j⁻¹)·Z_i,j — which saves one scalar
    multiplication per element and gives exactly `finalize(blinded[j], combine(...)[j])`.
    """
    if not blinded or any(b.mode is not Mode.VOPRF for b in blinded):
        raise ValueError("threshold evaluation takes a non-empty batch blinded in VOPRF mode")
    if any(partial.blinded_elements != tuple(b.element for b in blinded) for partial in verified):
        raise InvalidShareError("a partial answer was verified over other blinded elements")
    chosen = _select(verified, threshold)
    coefficients = lagrange_coefficients([partial.index for partial in chosen])
    outputs = []
    for j, b in enumerate(blinded):
        unblind = g.scalar_invert(b.blind)
        weights = [g.scalar_mul(coefficients[partial.index], unblind) for partial in chosen]
        unblinded = g.linear_combination(weights, [partial.elements[j] for partial in chosen])
        outputs.append(_finalize_hash(b.input, unblinded))
    return outputs
