"""Oblivious PRF for subject keys v2: RFC 9497, suite ristretto255-SHA512, single-key and threshold (t-of-n).

Why: a subject key that is HMAC under a secret every member holds can be reversed offline by any member (the ID
space is small). With an OPRF the key k lives only as Shamir shares at key-share holders; a gateway obtains
PRF_k(id) by blinding the ID, asking t holders, verifying each answer and unblinding — no holder sees the ID, no
member can evaluate alone, and every evaluation is an online request that can be counted and refused.

What is here (pure computation, no I/O):

* `group` — ristretto255 over libsodium (`pysodium`), HashToGroup/HashToScalar (RFC 9380 expand_message_xmd with
  SHA-512), canonical (de)serialization that rejects the identity and non-canonical encodings.
* `protocol` — RFC 9497 §2.2 (DLEQ proofs, batched: GenerateProof, VerifyProof, ComputeComposites[Fast]),
  §3.2 (GenerateKeyPair, DeriveKeyPair), §3.3.1-3.3.2 (Blind, BlindEvaluate, Finalize, Evaluate) for the OPRF
  (0x00) and VOPRF (0x01) modes.
* `threshold` — Shamir sharing over the group order, Lagrange coefficients at 0, per-share DLEQ proofs (context
  string extended with the share index, see that module), combination in the exponent; threshold output ==
  `evaluate(k, input, Mode.VOPRF)`.

Secrets in memory: Python cannot zero memory — `bytes` are immutable, copied freely, and freed without wiping, so
no function here can promise that a key, share, blind or input is erased. The nearest thing is done: secrets are
never kept beyond the call that needs them (the dealer drops the key and polynomial once the shares exist; a
`Blinded` lives for one round), never appear in `repr` or in error messages, and the arithmetic on them runs in
libsodium's constant-time code. Keep processes that hold shares small, without swap or core dumps.
"""

from __future__ import annotations

from creditshare.core.oprf.errors import (
    DeriveKeyPairError,
    InvalidElementError,
    InvalidInputError,
    InvalidScalarError,
    InvalidShareError,
    NotEnoughSharesError,
    OprfError,
    ProofVerificationError,
    ShareVerificationError,
)
from creditshare.core.oprf.protocol import (
    SUITE_ID,
    Blinded,
    Evaluation,
    KeyPair,
    Mode,
    Proof,
    blind,
    blind_evaluate,
    blind_evaluate_batch,
    compute_composites,
    compute_composites_fast,
    context_string,
    derive_key_pair,
    evaluate,
    finalize,
    finalize_batch,
    generate_key_pair,
    generate_proof,
    verify_evaluation,
    verify_proof,
)
from creditshare.core.oprf.threshold import (
    PartialEvaluation,
    Share,
    VerifiedPartial,
    combine,
    combine_elements,
    deal,
    finalize_verified,
    lagrange_coefficients,
    partial_evaluate,
    share_context,
    split,
    threshold_finalize,
    verify_partial,
)

__all__ = [
    "SUITE_ID",
    "Blinded",
    "DeriveKeyPairError",
    "Evaluation",
    "InvalidElementError",
    "InvalidInputError",
    "InvalidScalarError",
    "InvalidShareError",
    "KeyPair",
    "Mode",
    "NotEnoughSharesError",
    "OprfError",
    "PartialEvaluation",
    "Proof",
    "ProofVerificationError",
    "Share",
    "ShareVerificationError",
    "VerifiedPartial",
    "blind",
    "blind_evaluate",
    "blind_evaluate_batch",
    "combine",
    "combine_elements",
    "compute_composites",
    "compute_composites_fast",
    "context_string",
    "deal",
    "derive_key_pair",
    "evaluate",
    "finalize",
    "finalize_batch",
    "finalize_verified",
    "generate_key_pair",
    "generate_proof",
    "lagrange_coefficients",
    "partial_evaluate",
    "share_context",
    "split",
    "threshold_finalize",
    "verify_evaluation",
    "verify_partial",
    "verify_proof",
]
