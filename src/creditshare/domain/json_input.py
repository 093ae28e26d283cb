"""JSON as callers send it: every number read by its value, none able to break the parser.

Python's `json` turns an integer literal of more than 4,300 digits into a `ValueError` (the int-digit limit), which
would fail a whole request for one bad value. Here a number too large for any field is read as `OversizeNumber`,
a value no field accepts, so validation rejects only the record holding it, as out of range. Numbers are read by
value, as JSON Schema reads them: `5000000.0` and `5e6` are the integer 5000000, `1.5` stays a float (and is
refused where an integer is required). `NaN` and `Infinity` are not JSON and are refused like any syntax error.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

#: More digits than any field can hold (amounts stop at 10^15, ids at 2^63): such a number is `OversizeNumber`.
MAX_INTEGER_DIGITS = 64


class OversizeNumber:
    """A JSON number with more than `MAX_INTEGER_DIGITS` integer digits. Not an `int`, a `float` or a `str`, so no
    model field accepts it (the value itself is not kept)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<number too large>"


class NotJson(ValueError):
    """Raised for the constants Python's `json` would accept but JSON does not have (`NaN`, `Infinity`)."""


def parse_int(text: str) -> int | OversizeNumber:
    """`json`'s hook for integer literals."""
    digits = len(text) - text.startswith("-")
    return int(text) if digits <= MAX_INTEGER_DIGITS else OversizeNumber()


def parse_float(text: str) -> int | float | OversizeNumber:
    """`json`'s hook for literals with a fraction or an exponent: an integer value is an `int` (or
    `OversizeNumber`), anything else a `float`."""
    try:
        value = Decimal(text)
    except InvalidOperation:  # an exponent beyond even Decimal's range (more than 18 digits)
        exponent = text.lower().rpartition("e")[2]
        return float(text) if exponent.startswith("-") else OversizeNumber()
    if value.is_zero():
        return 0
    if value != value.to_integral_value():
        return float(text)
    return int(value) if value.adjusted() < MAX_INTEGER_DIGITS else OversizeNumber()


def _not_json(name: str) -> Any:
    raise NotJson(f"{name} is not a JSON value")


def loads(text: str) -> Any:
    """Parse JSON text. Raises `json.JSONDecodeError` or `NotJson` (both `ValueError`) for text that is not JSON,
    and `RecursionError` for nesting deeper than the interpreter's stack allows."""
    return json.loads(text, parse_int=parse_int, parse_float=parse_float, parse_constant=_not_json)
