"""RFC 9497 OPRF (mode 0x00) and VOPRF (mode 0x01) for suite ristretto255-SHA512, with batched DLEQ proofs.

Function names follow the RFC (section numbers in each docstring) so the code can be read against it line by line;
batching is the RFC's own: one list of blinded elements in, one list of evaluated elements and ONE proof out.
`proof_randomness` and `blind_scalar` exist only so tests can replay the RFC's vectors; never pass them otherwise.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum

from creditshare.core.oprf import group as g
from creditshare.core.oprf.errors import (
    DeriveKeyPairError,
    InvalidInputError,
    InvalidScalarError,
    ProofVerificationError,
)

SUITE_ID = b"ristretto255-SHA512"
MAX_INPUT_BYTES = 65535  # PrivateInput is length-prefixed with two bytes (RFC 9497 §1.2)


class Mode(IntEnum):
    """Protocol variant identifiers (RFC 9497 §3.1). The mode is part of every domain separation tag, so the same
    key and input give different outputs in the two modes."""

    OPRF = 0x00
    VOPRF = 0x01


def context_string(mode: Mode) -> bytes:
    """CreateContextString (RFC 9497 §3.1): "OPRFV1-" ‖ I2OSP(mode, 1) ‖ "-" ‖ "ristretto255-SHA512"."""
    return b"OPRFV1-" + g.i2osp(mode, 1) + b"-" + SUITE_ID


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A server key (skS, pkS = skS·G). The secret is left out of repr and of equality (pkS determines it)."""

    secret_key: bytes = field(repr=False, compare=False)
    public_key: bytes

    def __post_init__(self) -> None:
        g.deserialize_scalar(self.secret_key, nonzero=True)
        g.deserialize_element(self.public_key)

    @classmethod
    def from_secret_key(cls, secret_key: bytes) -> KeyPair:
        sk = g.deserialize_scalar(secret_key, nonzero=True)
        return cls(sk, g.base_mul(sk))


@dataclass(frozen=True, slots=True)
class Blinded:
    """The client's state for one input between Blind and Finalize. `input` and `blind` are secrets (the input is
    an ID number here): keep the object only for the round, never log or store it; only `element` is sent."""

    input: bytes = field(repr=False, compare=False)
    blind: bytes = field(repr=False, compare=False)
    element: bytes
    mode: Mode


@dataclass(frozen=True, slots=True)
class Proof:
    """A (batched) DLEQ proof (c, s) (RFC 9497 §2.2); serialized as SerializeScalar(c) ‖ SerializeScalar(s)."""

    c: bytes
    s: bytes

    def __post_init__(self) -> None:
        g.deserialize_scalar(self.c)
        g.deserialize_scalar(self.s)

    def to_bytes(self) -> bytes:
        return self.c + self.s

    @classmethod
    def from_bytes(cls, data: bytes) -> Proof:
        """Parse 64 bytes from the wire; non-canonical scalars raise `InvalidScalarError`."""
        if len(data) != 2 * g.SCALAR_BYTES:
            raise InvalidScalarError(f"a proof must be {2 * g.SCALAR_BYTES} bytes")
        return cls(bytes(data[: g.SCALAR_BYTES]), bytes(data[g.SCALAR_BYTES :]))


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A server's answer to a batch: one evaluated element per blinded element, in order, and in VOPRF mode one
    proof covering all of them (None in OPRF mode)."""

    elements: tuple[bytes, ...]
    proof: Proof | None = None


# --- key generation (RFC 9497 §3.2) --------------------------------------------------------------------------


def generate_key_pair() -> KeyPair:
    """GenerateKeyPair: a uniformly random non-zero key."""
    return KeyPair.from_secret_key(g.random_scalar())


def derive_key_pair(seed: bytes, info: bytes, mode: Mode) -> KeyPair:
    """DeriveKeyPair (RFC 9497 §3.2.1): deterministic key from a 32-byte secret seed and a public info string."""
    if len(seed) != g.SCALAR_BYTES:
        raise ValueError(f"seed must be {g.SCALAR_BYTES} bytes")
    derive_input = seed + g.i2osp(len(info), 2) + info
    dst = b"DeriveKeyPair" + context_string(mode)
    for counter in range(256):
        sk = g.hash_to_scalar(derive_input + g.i2osp(counter, 1), dst)
        if any(sk):
            return KeyPair(sk, g.base_mul(sk))
    raise DeriveKeyPairError("DeriveKeyPair found no non-zero scalar")


# --- DLEQ proofs (RFC 9497 §2.2) -----------------------------------------------------------------------------


def _framed(*parts: bytes) -> bytes:
    return b"".join(g.i2osp(len(part), 2) + part for part in parts)


def _composite_scalars(b: bytes, c: Sequence[bytes], d: Sequence[bytes], context: bytes) -> list[bytes]:
    """The per-element weights d_i of ComputeComposites, from a seed bound to B and the context string."""
    if not c or len(c) != len(d):
        raise ValueError("C and D must be non-empty lists of equal length")
    seed = hashlib.sha512(_framed(b, b"Seed-" + context)).digest()
    dst = b"HashToScalar-" + context
    return [
        g.hash_to_scalar(g.i2osp(len(seed), 2) + seed + g.i2osp(i, 2) + _framed(ci, di) + b"Composite", dst)
        for i, (ci, di) in enumerate(zip(c, d, strict=True))
    ]


def compute_composites(b: bytes, c: Sequence[bytes], d: Sequence[bytes], *, context: bytes) -> tuple[bytes, bytes]:
    """ComputeComposites (RFC 9497 §2.2.2): M = Σ d_i·C[i], Z = Σ d_i·D[i] — the verifier's side."""
    weights = _composite_scalars(b, c, d, context)
    return g.linear_combination(weights, list(c)), g.linear_combination(weights, list(d))


def compute_composites_fast(
    k: bytes, b: bytes, c: Sequence[bytes], d: Sequence[bytes], *, context: bytes
) -> tuple[bytes, bytes]:
    """ComputeCompositesFast (RFC 9497 §2.2.1): the prover knows k, so Z = k·M instead of Σ d_i·D[i]."""
    m = g.linear_combination(_composite_scalars(b, c, d, context), list(c))
    return m, g.element_mul(k, m)


def _challenge(b: bytes, m: bytes, z: bytes, t2: bytes, t3: bytes, context: bytes) -> bytes:
    return g.hash_to_scalar(_framed(b, m, z, t2, t3) + b"Challenge", b"HashToScalar-" + context)


def generate_proof(
    k: bytes,
    a: bytes,
    b: bytes,
    c: Sequence[bytes],
    d: Sequence[bytes],
    *,
    context: bytes,
    proof_randomness: bytes | None = None,
) -> Proof:
    """GenerateProof (RFC 9497 §2.2.1): one proof that k·A == B and k·C[i] == D[i] for every i."""
    m, z = compute_composites_fast(k, b, c, d, context=context)
    r = g.random_scalar() if proof_randomness is None else g.deserialize_scalar(proof_randomness)
    t2 = g.base_mul(r) if a == g.GENERATOR else g.element_mul(r, a)
    t3 = g.element_mul(r, m)
    challenge = _challenge(b, m, z, t2, t3, context)
    return Proof(challenge, g.scalar_sub(r, g.scalar_mul(challenge, k)))


def verify_proof(a: bytes, b: bytes, c: Sequence[bytes], d: Sequence[bytes], proof: Proof, *, context: bytes) -> bool:
    """VerifyProof (RFC 9497 §2.2.2). The caller has already deserialized (validated) A, B, C and D."""
    m, z = compute_composites(b, c, d, context=context)
    s_a = g.base_mul(proof.s) if a == g.GENERATOR else g.element_mul(proof.s, a)
    t2 = g.element_add(s_a, g.element_mul(proof.c, b))
    t3 = g.element_add(g.element_mul(proof.s, m), g.element_mul(proof.c, z))
    return hmac.compare_digest(_challenge(b, m, z, t2, t3, context), proof.c)


# --- the online protocol (RFC 9497 §3.3.1 OPRF, §3.3.2 VOPRF) ------------------------------------------------


def _input_element(input: bytes, mode: Mode) -> bytes:
    if len(input) > MAX_INPUT_BYTES:
        raise InvalidInputError(f"input longer than {MAX_INPUT_BYTES} bytes")
    element = g.hash_to_group(input, b"HashToGroup-" + context_string(mode))
    if element == g.IDENTITY:
        raise InvalidInputError("input hashes to the identity element")
    return element


def _finalize_hash(input: bytes, unblinded: bytes) -> bytes:
    """The Finalize/Evaluate output hash: SHA-512(len‖input ‖ len‖N ‖ "Finalize")."""
    return hashlib.sha512(_framed(input, unblinded) + b"Finalize").digest()


def blind(input: bytes, mode: Mode, *, blind_scalar: bytes | None = None) -> Blinded:
    """Blind (RFC 9497 §3.3.1): blindedElement = blind·HashToGroup(input), blind random and non-zero."""
    r = g.random_scalar() if blind_scalar is None else g.deserialize_scalar(blind_scalar, nonzero=True)
    return Blinded(input, r, g.element_mul(r, _input_element(input, mode)), mode)


def blind_evaluate(secret_key: bytes, blinded_element: bytes) -> bytes:
    """BlindEvaluate of the OPRF mode (RFC 9497 §3.3.1): skS·blindedElement, after validating the element."""
    sk = g.deserialize_scalar(secret_key, nonzero=True)
    return g.element_mul(sk, g.deserialize_element(blinded_element))


def blind_evaluate_batch(
    key: KeyPair, blinded_elements: Sequence[bytes], mode: Mode, *, proof_randomness: bytes | None = None
) -> Evaluation:
    """BlindEvaluate for a batch (RFC 9497 §3.3.1/§3.3.2): every element is validated and evaluated; in VOPRF mode
    one GenerateProof(skS, G, pkS, blindedElements, evaluatedElements) covers them all."""
    if not blinded_elements:
        raise ValueError("nothing to evaluate")
    checked = [g.deserialize_element(element) for element in blinded_elements]
    evaluated = [g.element_mul(key.secret_key, element) for element in checked]
    if mode is Mode.OPRF:
        return Evaluation(tuple(evaluated))
    proof = generate_proof(
        key.secret_key,
        g.GENERATOR,
        key.public_key,
        checked,
        evaluated,
        context=context_string(Mode.VOPRF),
        proof_randomness=proof_randomness,
    )
    return Evaluation(tuple(evaluated), proof)


def finalize(blinded: Blinded, evaluated_element: bytes) -> bytes:
    """Finalize without a proof (RFC 9497 §3.3.1): unblind and hash. Use it in OPRF mode, or on an element whose
    correctness was established otherwise (a verified VOPRF batch, a combination of verified partials)."""
    n = g.element_mul(g.scalar_invert(blinded.blind), g.deserialize_element(evaluated_element))
    return _finalize_hash(blinded.input, n)


def verify_evaluation(public_key: bytes, blinded_elements: Sequence[bytes], evaluation: Evaluation) -> None:
    """The verification step of VOPRF Finalize (RFC 9497 §3.3.2) for a batch: raises `ProofVerificationError`
    unless `evaluation` carries a proof that every element is pkS's key applied to the matching blinded element."""
    if evaluation.proof is None:
        raise ProofVerificationError("the answer carries no proof")
    if len(evaluation.elements) != len(blinded_elements) or not blinded_elements:
        raise ProofVerificationError("the answer does not have one element per blinded element")
    pk = g.deserialize_element(public_key)
    c = [g.deserialize_element(element) for element in blinded_elements]
    d = [g.deserialize_element(element) for element in evaluation.elements]
    if not verify_proof(g.GENERATOR, pk, c, d, evaluation.proof, context=context_string(Mode.VOPRF)):
        raise ProofVerificationError("the DLEQ proof does not verify")


def finalize_batch(
    blinded: Sequence[Blinded], evaluation: Evaluation, *, public_key: bytes | None = None
) -> list[bytes]:
    """Finalize a batch: in VOPRF mode (public_key given, required) the one proof is verified first; the outputs
    (64 bytes each) are in the order of `blinded`."""
    modes = {b.mode for b in blinded}
    if len(modes) != 1:
        raise ValueError("a batch mixes OPRF and VOPRF inputs")
    if modes == {Mode.VOPRF}:
        if public_key is None:
            raise ValueError("VOPRF mode needs the server's public key to verify the proof")
        verify_evaluation(public_key, [b.element for b in blinded], evaluation)
    elif len(evaluation.elements) != len(blinded):
        raise ProofVerificationError("the answer does not have one element per blinded element")
    return [finalize(b, element) for b, element in zip(blinded, evaluation.elements, strict=True)]


def evaluate(secret_key: bytes, input: bytes, mode: Mode) -> bytes:
    """Evaluate (RFC 9497 §3.3.1): the PRF computed directly by whoever holds both key and input — the reference
    for tests and for the single-key path; in the threshold setting nobody holds the whole key."""
    sk = g.deserialize_scalar(secret_key, nonzero=True)
    return _finalize_hash(input, g.element_mul(sk, _input_element(input, mode)))
