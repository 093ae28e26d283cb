"""Borrower identity: validate and normalise ID numbers, and derive the keys that stand for them on chain.

No ID number ever leaves the gateway. On chain a borrower is a *subject key*: HMAC-SHA256 under the consortium
secret of (id type, normalised id). An unkeyed hash would not do: an 18-digit resident ID has far fewer than
2^40 plausible values, so anyone could hash them all. Every member gateway holds the same secret, so every
member derives the same key for the same borrower. Test vectors: docs/identity.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import operator
import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from creditshare.core.clock import today_cst
from creditshare.core.exceptions import CreditShareError
from creditshare.core.secrets import ConsortiumSecret


class InvalidIdentity(CreditShareError):
    """Raised when an ID number is malformed or its check character is wrong."""

    def __init__(self, message: str, code: str = "invalid_id") -> None:
        super().__init__(message)
        self.code = code


class IdType(StrEnum):
    """Kinds of borrower identifiers."""

    RESIDENT_ID = "resident_id"  # 居民身份证号码, GB 11643-1999
    USCC = "uscc"  # 统一社会信用代码, GB 32100-2015 (business borrowers)
    OTHER = "other"  # passports, permits...: trimmed, uppercased, type-prefixed


_RESIDENT_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_CHECK = "10X98765432"  # index = weighted sum mod 11 (ISO 7064 MOD 11-2)
_RESIDENT_RE = re.compile(r"[1-9][0-9]{16}[0-9X]")

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_RE = re.compile(r"[1-9A-GY][0-9A-HJ-NP-RTUW-Y][0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}")

_OTHER_RE = re.compile(r"[A-Z0-9][A-Z0-9 \-/.]{0,62}[A-Z0-9]|[A-Z0-9]")

_NAMES = {IdType.RESIDENT_ID: "resident id", IdType.USCC: "unified social credit code", IdType.OTHER: "other id"}


def resident_check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits (ASCII `0-9` only; `ValueError` otherwise)."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("the check character is computed over exactly 17 ASCII digits")
    return _RESIDENT_CHECK[sum(map(operator.mul, map(int, first17), _RESIDENT_WEIGHTS)) % 11]


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters (of the code's alphabet; `ValueError`
    otherwise)."""
    if len(first17) != 17 or not all(c in _USCC_CHARS for c in first17):
        raise ValueError("the check character is computed over exactly 17 characters of 0-9 and A-Y")
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def normalise(id_type: IdType | str, raw: str, *, today: dt.date | None = None) -> str:
    """Validate `raw` as an ID of `id_type` and return its normal form; raises `InvalidIdentity`.

    After NFKC (which folds full-width digits and letters to ASCII) only ASCII may remain: a digit of another
    script (Arabic-Indic `١`, Devanagari `१`...) is not folded, and `int()` would read it as the same digit, so the
    same person could be keyed under two subject keys. A birth date is checked against `today` (default: today
    in China Standard Time, as for submissions).

    No message repeats the ID, a part of it or its birth date: messages end up in logs and import error files."""
    try:
        kind = IdType(id_type)
    except ValueError:
        raise InvalidIdentity(
            f"unknown id_type; expected one of {', '.join(t.value for t in IdType)}", code="invalid_id_type"
        ) from None
    folded = unicodedata.normalize("NFKC", raw)
    if not folded.isascii():
        raise InvalidIdentity(f"{_NAMES[kind]} may hold only ASCII once NFKC-normalised (no digits of other scripts)")
    value = folded.strip().upper()
    if kind is IdType.RESIDENT_ID:
        return _normalise_resident(value, today or today_cst())
    if kind is IdType.USCC:
        return _normalise_uscc(value)
    value = re.sub(r"\s+", " ", value)
    if not _OTHER_RE.fullmatch(value):
        raise InvalidIdentity("other id must be 1-64 letters, digits, spaces, '-', '/' or '.'")
    return value


def _normalise_resident(value: str, today: dt.date) -> str:
    if not _RESIDENT_RE.fullmatch(value):
        raise InvalidIdentity("resident id must be 17 digits followed by a digit or X")
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidIdentity("the birth date in the resident id is not a real date") from None
    if born.year < 1900 or born > today:
        raise InvalidIdentity("the birth date in the resident id is implausible: too long ago or in the future")
    if value[17] != resident_check_char(value[:17]):
        raise InvalidIdentity(
            "resident id: the check character does not match the first 17 digits", "invalid_check_character"
        )
    return value


def _normalise_uscc(value: str) -> str:
    if not _USCC_RE.fullmatch(value):
        raise InvalidIdentity("unified social credit code must be 18 characters of 0-9 and A-Y without I, O, S, V, Z")
    if value[17] != uscc_check_char(value[:17]):
        raise InvalidIdentity(
            "unified social credit code: the check character does not match the first 17 characters",
            "invalid_check_character",
        )
    return value


def subject_key(secret: ConsortiumSecret, id_type: IdType | str, normalised_id: str) -> bytes:
    """HMAC-SHA256(secret, "subject:v<version>:<id type>:<normalised id>")."""
    message = f"subject:v{secret.version}:{IdType(id_type).value}:{normalised_id}".encode()
    return hmac.digest(secret.key, message, "sha256")


def loan_key(secret: ConsortiumSecret, lender: str, loan_number: str) -> bytes:
    """HMAC-SHA256(secret, "loan:v<version>:<lender address, lowercase>:<loan number>")."""
    message = f"loan:v{secret.version}:{lender.lower()}:{loan_number.strip()}".encode()
    return hmac.digest(secret.key, message, "sha256")


# --- v2: subject keys from the threshold OPRF (creditshare.keyshare) -------------------------------------------


class KeyPurpose(StrEnum):
    """Why a gateway needs a subject key; key-share holders log and count it. `query` names its inquiry."""

    SUBMIT = "submit"  # the lender's own customer, for a record it submits
    QUERY = "query"  # a credit report (with consent), recorded on chain as an inquiry
    VERIFY = "verify"  # checking a disclosed record against the chain


def oprf_input(id_type: IdType | str, normalised_id: str) -> bytes:
    """What a v2 subject key is the OPRF of: "<id type>:<normalised id>" (leaves the gateway only blinded)."""
    return f"{IdType(id_type).value}:{normalised_id}".encode()


def subject_key_v2(oprf_output: bytes) -> bytes:
    """A v2 subject key: SHA-256("creditshare:subject:v2:" ‖ OPRF_k(oprf_input)). The OPRF output is already
    pseudorandom; the hash gives the ledger its 32 bytes and keeps the output itself (which keys the loan key)
    off the chain."""
    if len(oprf_output) != 64:
        raise ValueError("an OPRF output of ristretto255-SHA512 is 64 bytes")
    return hashlib.sha256(b"creditshare:subject:v2:" + oprf_output).digest()


def loan_key_v2(oprf_output: bytes, lender: str, loan_number: str) -> bytes:
    """A v2 loan key: HMAC-SHA256(OPRF output of the borrower, "loan:v2:<lender, lowercase>:<loan number>"). Whoever
    can get the borrower's OPRF output (any member, online, counted by the holders) can verify a disclosed record;
    nobody can link loan numbers to a subject offline."""
    return hmac.digest(oprf_output, f"loan:v2:{lender.lower()}:{loan_number.strip()}".encode(), "sha256")


IdPair = tuple[str, str]  # (id type value, normalised id)


class RecordKeys(Protocol):
    """The on-chain keys of records about a set of borrowers: subject key and loan key."""

    @property
    def version(self) -> int: ...

    def keys(self, id_type: IdType | str, normalised_id: str, lender: str, loan_number: str) -> tuple[bytes, bytes]:
        """(subject key, loan key) of one record."""
        ...

    def subject(self, id_type: IdType | str, normalised_id: str) -> bytes:
        """The subject key of one borrower."""
        ...


@dataclass(frozen=True)
class HmacKeys:
    """v1 keys: HMAC under the consortium secret every member holds (kept for data recorded before v2)."""

    secret: ConsortiumSecret
    version: int = 1

    def keys(self, id_type: IdType | str, normalised_id: str, lender: str, loan_number: str) -> tuple[bytes, bytes]:
        return subject_key(self.secret, id_type, normalised_id), loan_key(self.secret, lender, loan_number)

    def subject(self, id_type: IdType | str, normalised_id: str) -> bytes:
        return subject_key(self.secret, id_type, normalised_id)


@dataclass(frozen=True)
class OprfKeys:
    """v2 keys of borrowers whose OPRF outputs were obtained beforehand (one round trip for a whole request)."""

    outputs: Mapping[IdPair, bytes]
    version: int = 2

    def _output(self, id_type: IdType | str, normalised_id: str) -> bytes:
        try:
            return self.outputs[(IdType(id_type).value, normalised_id)]
        except KeyError:
            raise LookupError("no OPRF output was obtained for this borrower") from None

    def keys(self, id_type: IdType | str, normalised_id: str, lender: str, loan_number: str) -> tuple[bytes, bytes]:
        output = self._output(id_type, normalised_id)
        return subject_key_v2(output), loan_key_v2(output, lender, loan_number)

    def subject(self, id_type: IdType | str, normalised_id: str) -> bytes:
        return subject_key_v2(self._output(id_type, normalised_id))


class SubjectKeySource(Protocol):
    """Where a gateway gets `RecordKeys` for the borrowers of a request: v1 computes them locally, v2 asks the
    key-share holders (raising `KeyshareUnavailable` when fewer than t answer)."""

    @property
    def version(self) -> int: ...

    def record_keys(self, ids: Collection[IdPair], purpose: KeyPurpose, inquiry: bytes | None = None) -> RecordKeys: ...


@dataclass(frozen=True)
class HmacSource:
    """v1: every key is computed locally from the consortium secret."""

    secret: ConsortiumSecret
    version: int = 1

    def record_keys(self, ids: Collection[IdPair], purpose: KeyPurpose, inquiry: bytes | None = None) -> HmacKeys:
        return HmacKeys(self.secret)
