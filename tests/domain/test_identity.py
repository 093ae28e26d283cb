"""Identity normalisation and keyed subject keys."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditshare.core.secrets import ConsortiumSecret
from creditshare.domain.identity import (
    IdType,
    InvalidIdentity,
    loan_key,
    normalise,
    resident_check_char,
    subject_key,
    uscc_check_char,
)

SECRET = ConsortiumSecret(1, bytes(range(32)))
TODAY = dt.date(2026, 11, 29)

# Published examples: GB 11643-1999's own sample number, and well-known valid USCCs.
VALID_RESIDENT = ["11010519491231002X", "440524198001010013", "110101199003074477"]
VALID_USCC = ["91350100M000100Y43", "91110000600037341L"]


@pytest.mark.parametrize("value", VALID_RESIDENT)
def test_resident_id_valid_examples_accepted(value: str) -> None:
    assert normalise(IdType.RESIDENT_ID, value, today=TODAY) == value


def test_resident_id_lowercase_x_and_spaces_normalised() -> None:
    assert normalise("resident_id", " 11010519491231002x ", today=TODAY) == "11010519491231002X"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("110105194912310021", "check character is 1 but should be X"),
        ("11010519491231002", "17 digits"),
        ("1101051949123100211", "17 digits"),
        ("010105194912310021", "17 digits"),
        ("11010519491331002X", "impossible birth date"),
        ("110105207001010010", "implausible birth date"),
        ("11010519491231002Y", "17 digits"),
    ],
)
def test_resident_id_invalid_rejected_with_reason(value: str, fragment: str) -> None:
    with pytest.raises(InvalidIdentity) as info:
        normalise(IdType.RESIDENT_ID, value, today=TODAY)
    assert fragment in str(info.value)
    assert info.value.code == "invalid_id"


@pytest.mark.parametrize("value", VALID_USCC)
def test_uscc_valid_examples_accepted(value: str) -> None:
    assert normalise(IdType.USCC, value.lower()) == value


@pytest.mark.parametrize("value", ["91350100M000100Y44", "91350100M000100I43", "9135010", "S1350100M000100Y43"])
def test_uscc_invalid_rejected(value: str) -> None:
    with pytest.raises(InvalidIdentity):
        normalise(IdType.USCC, value)


def test_other_id_trimmed_uppercased_whitespace_collapsed() -> None:
    assert normalise(IdType.OTHER, "  e1234  5678 ") == "E1234 5678"


@pytest.mark.parametrize("value", ["", "   ", "a" * 65, "abc$", "-abc"])
def test_other_id_invalid_rejected(value: str) -> None:
    with pytest.raises(InvalidIdentity):
        normalise(IdType.OTHER, value)


def test_unknown_id_type_has_own_code() -> None:
    with pytest.raises(InvalidIdentity) as info:
        normalise("passport", "E123")
    assert info.value.code == "invalid_id_type"


birth_dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY)


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    region = draw(st.integers(100000, 899999))
    born = draw(birth_dates)
    serial = draw(st.integers(0, 999))
    first17 = f"{region}{born:%Y%m%d}{serial:03d}"
    return first17 + resident_check_char(first17)


@given(resident_ids(), st.integers(0, 17), st.integers(1, 9))
def test_resident_id_any_single_substitution_detected(value: str, position: int, delta: int) -> None:
    assert normalise(IdType.RESIDENT_ID, value, today=TODAY) == value
    alphabet = "0123456789X" if position == 17 else "0123456789"
    original = alphabet.index(value[position])
    changed = value[:position] + alphabet[(original + delta) % len(alphabet)] + value[position + 1 :]
    if changed != value:
        with pytest.raises(InvalidIdentity):
            normalise(IdType.RESIDENT_ID, changed, today=TODAY)


_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@given(st.text(alphabet="0123456789", min_size=7, max_size=7), st.text(alphabet=_USCC_CHARS, min_size=9, max_size=9))
def test_uscc_generated_codes_round_trip(region_and_cat: str, org: str) -> None:
    first17 = "9" + region_and_cat[0] + region_and_cat[1:7] + org
    code = first17 + uscc_check_char(first17)
    assert normalise(IdType.USCC, code) == code


def test_subject_key_is_keyed_deterministic_and_type_separated() -> None:
    a = subject_key(SECRET, IdType.RESIDENT_ID, "11010519491231002X")
    assert a == subject_key(SECRET, "resident_id", "11010519491231002X")
    assert len(a) == 32
    assert a != subject_key(ConsortiumSecret(1, bytes(32)), IdType.RESIDENT_ID, "11010519491231002X")
    assert a != subject_key(ConsortiumSecret(2, bytes(range(32))), IdType.RESIDENT_ID, "11010519491231002X")
    assert a != subject_key(SECRET, IdType.OTHER, "11010519491231002X")


VECTORS = [  # docs/identity.md publishes these; every member's gateway must reproduce them
    (IdType.RESIDENT_ID, "11010519491231002X", "794a20187da228f6f5bf89ce422e75c68a1982e7d6a389bccb2a0318cd16e80c"),
    (IdType.USCC, "91350100M000100Y43", "5bdd62a828171c55a301d515c2e5331816b07232ecefeee94eadd59d6cfcd35e"),
    (IdType.OTHER, "E1234 5678", "4f920d25b61166717ec38ef8434193748c569eadfafa0377a42bfe420432cf3e"),
]


@pytest.mark.parametrize(("id_type", "value", "expected"), VECTORS)
def test_subject_key_published_vectors(id_type: IdType, value: str, expected: str) -> None:
    assert subject_key(SECRET, id_type, value).hex() == expected
    # independent recomputation from the documented formula
    message = f"subject:v1:{id_type.value}:{value}".encode()
    assert hmac.new(bytes(range(32)), message, hashlib.sha256).hexdigest() == expected


def test_loan_key_depends_on_lender_and_number() -> None:
    k = loan_key(SECRET, "0xAbC0000000000000000000000000000000000001", "L-1")
    assert k == loan_key(SECRET, "0xabc0000000000000000000000000000000000001", " L-1 ")
    assert k != loan_key(SECRET, "0xabc0000000000000000000000000000000000002", "L-1")
    assert k != loan_key(SECRET, "0xabc0000000000000000000000000000000000001", "L-2")


def test_secret_repr_hides_key() -> None:
    assert "0001" not in repr(SECRET) and "32 bytes" in repr(SECRET)
