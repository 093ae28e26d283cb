"""The prime-order group of suite ristretto255-SHA512 (RFC 9497 §4.1) over libsodium, through `pysodium`.

Elements and scalars are plain `bytes` of 32 — the RFC's serialized forms — so what crosses a wire, a database or
a function boundary is always the canonical encoding. Every operation on secret values (scalar products, sums,
inverses, scalar multiplication) goes through libsodium's constant-time functions; Python integers touch only
public values (share indexes, Lagrange coefficients, range checks).

libsodium 1.0.18 ignores the top bit of a ristretto255 encoding when it decodes, so `E` and `E | 0x80<<248` decode
to the same point; RFC 9496 requires rejecting the second one. `deserialize_element` checks that bit itself.
"""

from __future__ import annotations

import hashlib
import hmac

import pysodium

from creditshare.core.oprf.errors import InvalidElementError, InvalidScalarError

ELEMENT_BYTES = 32  # Ne
SCALAR_BYTES = 32  # Ns
HASH_BYTES = 64  # Nh, SHA-512
# Group.Order(): 2^252 + 27742317777372353535851937790883648493 (RFC 9496 §4, RFC 9497 §4.1).
ORDER = 2**252 + 27742317777372353535851937790883648493
IDENTITY = bytes(ELEMENT_BYTES)  # the canonical encoding of the identity is all zeros (RFC 9496 §4.3.2)
# Generator(): the ristretto255 base point's canonical encoding (RFC 9496 §4.4).
GENERATOR = bytes.fromhex("e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76")

_SHA512_BLOCK = 128  # s_in_bytes of expand_message_xmd for SHA-512 (RFC 9380 §5.3.1)


def i2osp(value: int, length: int) -> bytes:
    """I2OSP (RFC 8017 §4.1): big-endian, fixed length; refuses values that do not fit rather than truncating."""
    if value < 0 or value >= 1 << (8 * length):
        raise ValueError(f"{value} does not fit in {length} byte(s)")
    return value.to_bytes(length, "big")


def expand_message_xmd(msg: bytes, dst: bytes, len_in_bytes: int) -> bytes:
    """expand_message_xmd with SHA-512 (RFC 9380 §5.3.1), the uniform-bytes step under both hash functions."""
    ell = -(-len_in_bytes // HASH_BYTES)
    if ell > 255 or len_in_bytes > 65535 or len(dst) > 255:
        raise ValueError("expand_message_xmd: requested length or DST too long")
    dst_prime = dst + i2osp(len(dst), 1)
    msg_prime = bytes(_SHA512_BLOCK) + msg + i2osp(len_in_bytes, 2) + b"\x00" + dst_prime
    b_0 = hashlib.sha512(msg_prime).digest()
    b_i = hashlib.sha512(b_0 + b"\x01" + dst_prime).digest()
    uniform = [b_i]
    for i in range(2, ell + 1):
        b_i = hashlib.sha512(bytes(x ^ y for x, y in zip(b_0, b_i, strict=True)) + i2osp(i, 1) + dst_prime).digest()
        uniform.append(b_i)
    return b"".join(uniform)[:len_in_bytes]


def hash_to_group(msg: bytes, dst: bytes) -> bytes:
    """HashToGroup: hash_to_ristretto255 (RFC 9380 §6.8.1), i.e. the ristretto255 one-way map (libsodium's
    `crypto_core_ristretto255_from_hash`) over 64 uniform bytes from expand_message_xmd(SHA-512)."""
    return bytes(pysodium.crypto_core_ristretto255_from_hash(expand_message_xmd(msg, dst, 64)))


def hash_to_scalar(msg: bytes, dst: bytes) -> bytes:
    """HashToScalar (RFC 9497 §4.1): 64 uniform bytes read as a little-endian integer, reduced mod the order."""
    return bytes(pysodium.crypto_core_ristretto255_scalar_reduce(expand_message_xmd(msg, dst, 64)))


# --- scalars -------------------------------------------------------------------------------------------------


def deserialize_scalar(buf: bytes, *, nonzero: bool = False) -> bytes:
    """DeserializeScalar: 32 little-endian bytes below the order (so the top three bits are zero).

    `nonzero` refuses 0 where it would be unsafe: a zero key evaluates every input to the identity, a zero blind
    sends the identity and reveals nothing but breaks the round.
    """
    if not isinstance(buf, bytes | bytearray) or len(buf) != SCALAR_BYTES:
        raise InvalidScalarError(f"a scalar must be {SCALAR_BYTES} bytes")
    if int.from_bytes(buf, "little") >= ORDER:
        raise InvalidScalarError("scalar is not canonical (not below the group order)")
    if nonzero and not any(buf):
        raise InvalidScalarError("scalar must not be zero here")
    return bytes(buf)


def scalar_from_int(value: int) -> bytes:
    """SerializeScalar of a public integer (reduced mod the order): share indexes, Lagrange coefficients."""
    return (value % ORDER).to_bytes(SCALAR_BYTES, "little")


def random_scalar() -> bytes:
    """RandomScalar(): uniform in [1, order-1] from libsodium's CSPRNG (RFC 9497 allows 0; we never return it)."""
    return bytes(pysodium.crypto_core_ristretto255_scalar_random())


def scalar_add(x: bytes, y: bytes) -> bytes:
    return bytes(pysodium.crypto_core_ristretto255_scalar_add(x, y))


def scalar_sub(x: bytes, y: bytes) -> bytes:
    return bytes(pysodium.crypto_core_ristretto255_scalar_sub(x, y))


def scalar_mul(x: bytes, y: bytes) -> bytes:
    return bytes(pysodium.crypto_core_ristretto255_scalar_mul(x, y))


def scalar_invert(x: bytes) -> bytes:
    """ScalarInverse; zero has no inverse."""
    try:
        return bytes(pysodium.crypto_core_ristretto255_scalar_invert(x))
    except ValueError as exc:
        raise InvalidScalarError("zero has no inverse") from exc


# --- elements ------------------------------------------------------------------------------------------------


def deserialize_element(buf: bytes) -> bytes:
    """DeserializeElement (RFC 9497 §4.1): a canonical ristretto255 encoding (RFC 9496 §4.3.1) that is not the
    identity. Apply it to every element that arrives from another party before using it."""
    if not isinstance(buf, bytes | bytearray) or len(buf) != ELEMENT_BYTES:
        raise InvalidElementError(f"an element must be {ELEMENT_BYTES} bytes")
    # libsodium 1.0.18 masks the top bit instead of rejecting it (see the module docstring).
    if buf[31] & 0x80 or not pysodium.crypto_core_ristretto255_is_valid_point(bytes(buf)):
        raise InvalidElementError("not a canonical ristretto255 element encoding")
    if hmac.compare_digest(bytes(buf), IDENTITY):
        raise InvalidElementError("the identity element is not allowed here")
    return bytes(buf)


def element_mul(scalar: bytes, element: bytes) -> bytes:
    """scalar * element. libsodium refuses a product equal to the identity; in a prime-order group that happens only
    for a zero scalar or the identity, which the RFC's composites may legitimately produce, so return it."""
    try:
        return bytes(pysodium.crypto_scalarmult_ristretto255(scalar, element))
    except ValueError as exc:
        if not any(scalar) or element == IDENTITY:
            return IDENTITY
        raise InvalidElementError("scalar multiplication failed: not a valid element") from exc


def base_mul(scalar: bytes) -> bytes:
    """ScalarMultGen(scalar) = scalar * Generator(); zero gives the identity."""
    try:
        return bytes(pysodium.crypto_scalarmult_ristretto255_base(scalar))
    except ValueError:
        return IDENTITY


def element_add(a: bytes, b: bytes) -> bytes:
    """a + b; the identity (all zeros) is accepted as an operand and may be the result."""
    try:
        return bytes(pysodium.crypto_core_ristretto255_add(a, b))
    except ValueError as exc:
        raise InvalidElementError("element addition failed: not a valid element") from exc


def linear_combination(scalars: list[bytes], elements: list[bytes]) -> bytes:
    """Σ scalars[i] * elements[i] — the composites of the DLEQ proofs and the combination in the exponent."""
    total = IDENTITY
    for scalar, element in zip(scalars, elements, strict=True):
        term = element_mul(scalar, element)
        total = term if total == IDENTITY else element_add(total, term)
    return total
