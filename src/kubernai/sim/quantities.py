"""``resource.Quantity.String()`` for the messages the API server writes."""

from __future__ import annotations

from fractions import Fraction

_BINARY = (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20),
           ("Ki", 2**10))  # fmt: skip
_DECIMAL = (("E", 10**18), ("P", 10**15), ("T", 10**12), ("G", 10**9), ("M", 10**6),
            ("k", 10**3))  # fmt: skip
_SMALL = (
    ("m", Fraction(1, 10**3)),
    ("u", Fraction(1, 10**6)),
    ("n", Fraction(1, 10**9)),
)


def quantity_text(number: Fraction | int, *, binary: bool = False) -> str:
    """Canonical text: ``2``, ``500m``, ``1k``, ``16Gi`` (binary when exact)."""
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    value = Fraction(-number if number < 0 else number)
    if value.denominator == 1:
        whole = int(value)
        if binary:
            for suffix, size in _BINARY:
                if whole >= size and whole % size == 0:
                    return f"{sign}{whole // size}{suffix}"
            if whole < 1024:
                return f"{sign}{whole}"
        for suffix, size in _DECIMAL:
            if whole >= size and whole % size == 0:
                return f"{sign}{whole // size}{suffix}"
        return f"{sign}{whole}"
    for suffix, unit in _SMALL:
        scaled = value / unit
        if scaled.denominator == 1:
            return f"{sign}{int(scaled)}{suffix}"
    return f"{sign}{-(-value.numerator * 10**9 // value.denominator)}n"


def is_binary_resource(name: str) -> bool:
    """Resources whose quantities people write in Ki/Mi/Gi."""
    base = name.split(".", 1)[1] if name.startswith(("requests.", "limits.")) else name
    return base in ("memory", "ephemeral-storage") or base.startswith("hugepages-")
