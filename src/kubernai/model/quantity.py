"""Exact parsing of Kubernetes resource quantities.

The grammar is the one of ``k8s.io/apimachinery/pkg/api/resource``:
a signed decimal number followed by a binary-SI suffix (Ki, Mi, Gi, Ti, Pi, Ei),
a decimal-SI suffix (n, u, m, "", k, M, G, T, P, E) or a decimal exponent
(``e``/``E`` and a signed integer). Values are returned as :class:`Fraction`,
never as floats, so ``"100m"`` is exactly ``1/10``.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

_BINARY = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
_DECIMAL = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE](?P<exponent>[+-]?[0-9]+))?"
)
# Exponents far outside what any resource can mean are refused rather than
# computed: 10**(10**9) would take the process down.
_MAX_EXPONENT = 100


def parse_quantity(value: Any) -> Fraction | None:
    """Parse a quantity exactly; ``None`` when it is not one.

    Accepts the string forms ("500m", "16Gi", "1e3", "1.5") and YAML numbers
    (``2``, ``0.5``). Booleans, empty strings and anything else give ``None``.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        whole = _INTEGERS.get(value)
        if whole is None:
            whole = Fraction(value)
            if len(_INTEGERS) < _CACHE_SIZE:
                _INTEGERS[value] = whole
        return whole
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return Fraction(repr(value)) if "e" not in repr(value) else Fraction(value)
    if not isinstance(value, str):
        return None
    cached = _CACHE.get(value, _MISSING)
    if cached is not _MISSING:
        return cached  # type: ignore[return-value]
    parsed = _parse_text(value)
    if len(_CACHE) < _CACHE_SIZE:
        _CACHE[value] = parsed
    return parsed


_CACHE: dict[str, Fraction | None] = {}
_INTEGERS: dict[int, Fraction] = {}
_CACHE_SIZE = 10_000
_MISSING = object()


def _parse_text(value: str) -> Fraction | None:
    match = _QUANTITY.fullmatch(value.strip()) if len(value) <= 64 else None
    if match is None:
        return None
    number = Fraction(match["number"])
    suffix, exponent = match["suffix"], match["exponent"]
    if exponent is not None:
        power = int(exponent)
        if abs(power) > _MAX_EXPONENT:
            return None
        return number * Fraction(10) ** power
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    return number * _DECIMAL[suffix or ""]


def parse_count(value: Any) -> int | None:
    """A whole, non-negative count ("8" or 8 → 8); ``None`` otherwise."""
    if type(value) is int:
        return value if value >= 0 else None
    quantity = parse_quantity(value)
    if quantity is None or quantity.denominator != 1 or quantity < 0:
        return None
    return int(quantity)


def format_quantity(value: Any) -> str:
    """Show a manifest value the way the user wrote it, for messages."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
