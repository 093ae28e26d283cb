"""Identity normalisation and keyed subject keys."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import sys
import unicodedata

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
        ("110105194912310021", "the check character does not match the first 17 digits"),
        ("11010519491231002", "17 digits"),
        ("1101051949123100211", "17 digits"),
        ("010105194912310021", "17 digits"),
        ("11010519491331002X", "the birth date in the resident id is not a real date"),
        ("110105207001010010", "the birth date in the resident id is implausible"),
        ("11010519491231002Y", "17 digits"),
    ],
)
def test_resident_id_invalid_rejected_with_reason(value: str, fragment: str) -> None:
    with pytest.raises(InvalidIdentity) as info:
        normalise(IdType.RESIDENT_ID, value, today=TODAY)
    assert fragment in str(info.value)
    assert info.value.code == ("invalid_check_character" if "check character" in fragment else "invalid_id")
    assert value[6:14] not in str(info.value) and value[-4:] not in str(info.value)  # never echoes the ID


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


# ------------------------------------------------------------------------------- aliasing and leaks (issue 11)

#: Every numeric character (Unicode categories Nd, Nl, No) that NFKC does not fold to ASCII: Arabic-Indic,
#: Devanagari, Thai, ... digits, which `int()` and a `\\d` pattern read as ordinary digits.
UNFOLDED_NUMERALS = [
    c
    for c in map(chr, range(sys.maxunicode + 1))
    if unicodedata.category(c) in ("Nd", "Nl", "No") and not unicodedata.normalize("NFKC", c).isascii()
]
#: The same, only decimal digits, by value: `ARABIC_INDIC_ONE` and its kin, each read as its ASCII digit by `int()`.
UNFOLDED_DIGITS = {d: [c for c in UNFOLDED_NUMERALS if unicodedata.decimal(c, None) == d] for d in range(10)}
unfolded_numerals = st.sampled_from(UNFOLDED_NUMERALS)


@st.composite
def uscc_codes(draw: st.DrawFn) -> str:
    first17 = (
        "9"
        + draw(st.text(alphabet="0123456789", min_size=7, max_size=7))
        + draw(st.text(alphabet=_USCC_CHARS, min_size=9, max_size=9))
    )
    return first17 + uscc_check_char(first17)


_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
other_ids = st.builds(
    lambda first, middle, last: first + middle + last,
    st.sampled_from(_ALNUM),
    st.text(alphabet=_ALNUM + "-/.", max_size=20),
    st.sampled_from(_ALNUM),
)


def valid_ids() -> st.SearchStrategy[tuple[IdType, str]]:
    return st.one_of(
        resident_ids().map(lambda v: (IdType.RESIDENT_ID, v)),
        uscc_codes().map(lambda v: (IdType.USCC, v)),
        other_ids.map(lambda v: (IdType.OTHER, v)),
    )


def test_arabic_indic_digits_are_not_a_second_person() -> None:
    aliased = "1١٠١٠٥١٩٤٩١٢٣١٠٠٢X"  # 11010519491231002X in Arabic-Indic digits after the first
    with pytest.raises(InvalidIdentity) as info:
        normalise(IdType.RESIDENT_ID, aliased, today=TODAY)
    assert info.value.code == "invalid_id"


def test_full_width_digits_still_fold_to_the_same_person() -> None:
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in "11010519491231002X")
    assert normalise(IdType.RESIDENT_ID, full_width, today=TODAY) == "11010519491231002X"


@pytest.mark.parametrize("position", [0, 2, 7, 17])
def test_uscc_with_a_non_ascii_digit_is_invalid_id_not_a_crash(position: int) -> None:
    value = VALID_USCC[0]
    changed = value[:position] + "٣" + value[position + 1 :]
    with pytest.raises(InvalidIdentity) as info:
        normalise(IdType.USCC, changed)
    assert info.value.code == "invalid_id"


@given(valid_ids(), st.data())
def test_a_digit_of_another_script_in_place_of_an_ascii_one_is_refused(
    id_and_value: tuple[IdType, str], data: st.DataObject
) -> None:
    id_type, value = id_and_value
    assert normalise(id_type, value, today=TODAY) == value
    positions = [i for i, c in enumerate(value) if c.isdigit()]
    if not positions:
        return
    position = data.draw(st.sampled_from(positions))
    twin = data.draw(st.sampled_from(UNFOLDED_DIGITS[int(value[position])]))  # the same digit, another script
    with pytest.raises(InvalidIdentity) as info:
        normalise(id_type, value[:position] + twin + value[position + 1 :], today=TODAY)
    assert info.value.code == "invalid_id"


@given(valid_ids(), unfolded_numerals, st.data())
def test_a_non_ascii_numeral_anywhere_is_refused(
    id_and_value: tuple[IdType, str], numeral: str, data: st.DataObject
) -> None:
    id_type, value = id_and_value
    position = data.draw(st.integers(0, len(value)))
    replace = data.draw(st.booleans()) and position < len(value)
    changed = value[:position] + numeral + value[position + int(replace) :]
    with pytest.raises(InvalidIdentity) as info:
        normalise(id_type, changed, today=TODAY)
    assert info.value.code == "invalid_id"


def assert_does_not_echo(message: str, raw: str) -> None:
    """`message` holds no number of three or more digits and no 4-character piece of the ID that has a digit."""
    assert not re.search(r"[0-9]{3}", message), message
    folded = unicodedata.normalize("NFKC", raw).strip().upper()
    pieces = {folded[i : i + 4] for i in range(len(folded) - 3)}
    leaked = sorted(p for p in pieces if re.search(r"[0-9]", p) and p in message.upper())
    assert not leaked, (message, leaked)


resident_shaped = st.text(alphabet="0123456789X", min_size=16, max_size=19)
uscc_shaped = st.text(alphabet=_USCC_CHARS, min_size=17, max_size=19)


@given(
    st.sampled_from(list(IdType)),
    st.one_of(resident_shaped, uscc_shaped, resident_ids(), uscc_codes(), st.text(max_size=70)),
    st.integers(0, 17),
    st.sampled_from("0123456789X"),
)
def test_no_message_contains_the_ids_digits_or_birth_date(id_type: IdType, raw: str, position: int, c: str) -> None:
    if len(raw) == 18:
        raw = raw[:position] + c + raw[position + 1 :]  # often a wrong check character, a bad date...
    try:
        normalise(id_type, raw, today=TODAY)
    except InvalidIdentity as exc:
        assert_does_not_echo(str(exc), raw)


@pytest.mark.parametrize(
    ("id_type", "value"),
    [
        (IdType.RESIDENT_ID, "110105194912310021"),  # check character
        (IdType.RESIDENT_ID, "11010519491331002X"),  # not a date
        (IdType.RESIDENT_ID, "110105207001010010"),  # born in the future
        (IdType.RESIDENT_ID, "110105180001010010"),  # born before 1900
        (IdType.USCC, "91350100M000100Y44"),  # check character
        ("passport-11010519491231002X", "11010519491231002X"),  # an ID sent as the id_type
    ],
)
def test_messages_are_useful_without_the_value(id_type: str, value: str) -> None:
    with pytest.raises(InvalidIdentity) as info:
        normalise(id_type, value, today=TODAY)
    assert_does_not_echo(str(info.value), value)
    assert_does_not_echo(str(info.value), str(id_type))
    assert len(str(info.value)) > 20


# --- v2 keys (docs/identity.md, "Subject keys v2"): the vector a second implementation can check against ---------

V2_KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e0f")


def test_subject_and_loan_key_v2_vector() -> None:
    from creditshare.core.oprf import Mode, evaluate, group
    from creditshare.domain.identity import loan_key_v2, oprf_input, subject_key_v2

    x = oprf_input("resident_id", "11010519491231002X")
    assert x == b"resident_id:11010519491231002X"
    assert group.base_mul(V2_KEY).hex() == "6877907c7463b6a22878787093073d1726887eca7bcf3154b893e81f265c170f"
    y = evaluate(V2_KEY, x, Mode.VOPRF)
    assert y.hex() == (
        "7002ce804c43caeb2fb11b7ee82a7e64026527548334eedd9846a1455da65789"
        "3b6fceeb9953ad334c0a2b69f0023188cd0044b76cb10cce00430fe05128dae6"
    )
    assert subject_key_v2(y).hex() == "56c4d2acd1ad7fccf414522e7e47e5afcea57e79714445fee8508944334ece85"
    lender = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    assert loan_key_v2(y, lender, " L-2026-0001 ").hex() == (
        "008bf6ab5bc7898d176875e61a25175b3db3194d67153f80465f17fc96e2439f"
    )
