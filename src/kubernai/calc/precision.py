"""Number formats, the GPUs that run them, and precision modes in bytes.

The extreme values of each format are derived exactly from its bit layout
(``data/number_formats.json``): exponent and mantissa widths, the bias, and
which codes are reserved for infinity and NaN.

- ``ieee``: the top exponent holds infinity and NaN (FP32, FP16, BF16, E5M2).
- ``fn``: finite, no infinity; only the all-ones code is NaN (E4M3, "e4m3fn").
- ``fnuz``: finite, unsigned zero; the code 0x80 is NaN (AMD's FP8 formats).

The values equal ``torch.finfo`` on torch 2.13, except the epsilon of
float8_e5m2fnuz, where torch reports 2^-3 and the format's gap above 1 is
2^-2. Support per GPU reads the catalog's ``bf16`` and ``fp8`` fields, which
follow the compute-capability rules (BF16 from 8.0; FP8 on 8.9, 9.0, 10.x).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from functools import cache
from importlib import resources
from typing import Any

from kubernai.calc.catalog import Gpu, gpus
from kubernai.errors import InputError


class Precision(StrEnum):
    """A training precision mode: how parameters, gradients and states are kept."""

    BF16_MIXED = "bf16-mixed"
    FP16_MIXED = "fp16-mixed"
    FP32 = "fp32"
    BF16_PURE = "bf16-pure"


MIXED = frozenset({Precision.BF16_MIXED, Precision.FP16_MIXED})


@dataclass(frozen=True, slots=True)
class PrecisionBytes:
    """Bytes per parameter of each copy a precision mode keeps."""

    compute_bytes: int
    """The dtype of forward and backward (and of 16-bit weights saved)."""
    storage_bytes: int
    """The dtype PyTorch keeps parameters and gradients in (fp32 when mixed)."""
    state_bytes: int
    """One optimizer state element (torch.optim: the parameter's dtype)."""
    master_bytes: int
    """An fp32 copy of 16-bit weights (mixed precision), else 0."""


def precision_bytes(precision: Precision) -> PrecisionBytes:
    """Bytes per parameter of each copy ``precision`` keeps.

    Mixed precision (bf16 or fp16 compute) keeps fp32 master weights and fp32
    optimizer states; fp32 keeps everything in fp32; pure bf16 keeps the
    weights, gradients and optimizer states in bf16 with no master copy.
    """
    if precision in MIXED:
        return PrecisionBytes(
            compute_bytes=2, storage_bytes=4, state_bytes=4, master_bytes=4
        )
    if precision is Precision.FP32:
        return PrecisionBytes(
            compute_bytes=4, storage_bytes=4, state_bytes=4, master_bytes=0
        )
    return PrecisionBytes(
        compute_bytes=2, storage_bytes=2, state_bytes=2, master_bytes=0
    )


class Encoding(StrEnum):
    """Which codes a format reserves for infinity and NaN."""

    IEEE = "ieee"
    FN = "fn"
    FNUZ = "fnuz"


@dataclass(frozen=True, slots=True)
class NumberFormat:
    """A floating-point format by its bit layout."""

    id: str
    name: str
    torch_dtype: str
    aliases: tuple[str, ...]
    exponent_bits: int
    mantissa_bits: int
    bias: int
    encoding: Encoding
    support_kind: str
    """``any``, ``catalog-field``, ``min-compute-capability`` or ``none``."""
    support_text: str
    support_field: str = ""
    """The catalog field (``bf16``, ``fp8``) for ``catalog-field``."""
    support_min_cc: str = ""
    """The lowest compute capability, for ``min-compute-capability``."""
    notes: tuple[str, ...] = ()

    @property
    def bits(self) -> int:
        """Total width: sign, exponent and mantissa."""
        return 1 + self.exponent_bits + self.mantissa_bits

    @property
    def max_exponent(self) -> int:
        """Unbiased exponent of the largest finite value."""
        top = (1 << self.exponent_bits) - 1
        return (top - 1 if self.encoding is Encoding.IEEE else top) - self.bias

    @property
    def max_finite(self) -> Fraction:
        """The largest finite value."""
        m = self.mantissa_bits
        # fn formats give up the all-ones mantissa of the top exponent to NaN.
        fraction_units = (1 << m) - (2 if self.encoding is Encoding.FN else 1)
        return (1 + Fraction(fraction_units, 1 << m)) * Fraction(2) ** self.max_exponent

    @property
    def min_normal(self) -> Fraction:
        """The smallest positive normal value, 2^(1 - bias)."""
        return Fraction(2) ** (1 - self.bias)

    @property
    def min_subnormal(self) -> Fraction:
        """The smallest positive value, 2^(1 - bias - mantissa bits)."""
        return Fraction(2) ** (1 - self.bias - self.mantissa_bits)

    @property
    def epsilon(self) -> Fraction:
        """The gap between 1 and the next value, 2^-mantissa bits."""
        return Fraction(1, 2**self.mantissa_bits)


@dataclass(frozen=True, slots=True)
class FormatFacts:
    """What ``kubernai calc precision`` reports about one format."""

    id: str
    name: str
    torch_dtype: str
    bits: int
    layout: str
    """Sign/exponent/mantissa bits."""
    bias: int
    has_infinity: bool
    nan: str
    max_finite: float
    max_finite_exact: str
    min_normal: float
    min_normal_exact: str
    min_subnormal: float
    min_subnormal_exact: str
    epsilon: float
    epsilon_exact: str
    requirement: str
    supported_gpus: tuple[str, ...]
    unsupported_gpus: tuple[str, ...]
    notes: tuple[str, ...]


def _format(item: dict[str, Any]) -> NumberFormat:
    return NumberFormat(
        id=item["id"],
        name=item["name"],
        torch_dtype=item["torch_dtype"],
        aliases=tuple(item["aliases"]),
        exponent_bits=item["exponent_bits"],
        mantissa_bits=item["mantissa_bits"],
        bias=item["bias"],
        encoding=Encoding(item["encoding"]),
        support_kind=item["support"]["kind"],
        support_text=item["support"]["text"],
        support_field=item["support"].get("field", ""),
        support_min_cc=item["support"].get("min_compute_capability", ""),
        notes=tuple(item["notes"]),
    )


@cache
def number_formats() -> tuple[NumberFormat, ...]:
    """Every format of ``data/number_formats.json``, widest first."""
    text = (
        resources.files("kubernai")
        .joinpath("data/number_formats.json")
        .read_text("utf-8")
    )
    return tuple(_format(item) for item in json.loads(text)["formats"])


def find_format(name: str) -> NumberFormat:
    """A format by id or alias (case-insensitive).

    Raises:
        InputError: no format has that name.
    """
    key = name.strip().lower()
    for fmt in number_formats():
        if key == fmt.id or key in (a.lower() for a in fmt.aliases):
            return fmt
    known = ", ".join(f.id for f in number_formats())
    raise InputError(f"unknown number format {name!r} (one of: {known})")


def compute_capability(text: str) -> tuple[int, int]:
    """``"8.9"`` → ``(8, 9)``."""
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


def supports(fmt: NumberFormat, gpu: Gpu) -> bool:
    """Whether ``gpu`` runs ``fmt`` natively (catalog fields, else CC rules)."""
    if fmt.support_kind == "any":
        return True
    if fmt.support_kind == "min-compute-capability":
        return compute_capability(gpu.compute_capability) >= compute_capability(
            fmt.support_min_cc
        )
    if fmt.support_kind == "catalog-field":
        return {"bf16": gpu.bf16, "fp8": gpu.fp8}.get(fmt.support_field, False)
    return False


def _power(value: Fraction) -> str:
    """``2^k`` for a power of two; otherwise ``(1 + a/b) x 2^k``."""
    exponent = 0
    mantissa = value
    while mantissa >= 2:
        mantissa /= 2
        exponent += 1
    while mantissa < 1:
        mantissa *= 2
        exponent -= 1
    if mantissa == 1:
        return f"2^{exponent}"
    return f"(2 - 2^{_log2(2 - mantissa)}) x 2^{exponent}"


def _log2(value: Fraction) -> int:
    exponent = 0
    while value < 1:
        value *= 2
        exponent -= 1
    return exponent


def describe(fmt: NumberFormat, catalog: tuple[Gpu, ...] | None = None) -> FormatFacts:
    """The extreme values of ``fmt`` and which catalog GPUs run it."""
    listed = catalog if catalog is not None else _catalog()
    has_inf = fmt.encoding is Encoding.IEEE
    nan = {
        Encoding.IEEE: "top exponent, non-zero mantissa",
        Encoding.FN: "only S.1111.111 (no infinity)",
        Encoding.FNUZ: "only 0x80 (no infinity, no negative zero)",
    }[fmt.encoding]
    return FormatFacts(
        id=fmt.id,
        name=fmt.name,
        torch_dtype=fmt.torch_dtype,
        bits=fmt.bits,
        layout=f"1/{fmt.exponent_bits}/{fmt.mantissa_bits}",
        bias=fmt.bias,
        has_infinity=has_inf,
        nan=nan,
        max_finite=float(fmt.max_finite),
        max_finite_exact=_power(fmt.max_finite),
        min_normal=float(fmt.min_normal),
        min_normal_exact=_power(fmt.min_normal),
        min_subnormal=float(fmt.min_subnormal),
        min_subnormal_exact=_power(fmt.min_subnormal),
        epsilon=float(fmt.epsilon),
        epsilon_exact=_power(fmt.epsilon),
        requirement=fmt.support_text,
        supported_gpus=tuple(g.id for g in listed if supports(fmt, g)),
        unsupported_gpus=tuple(g.id for g in listed if not supports(fmt, g)),
        notes=fmt.notes,
    )


def _catalog() -> tuple[Gpu, ...]:
    seen: dict[str, Gpu] = {}
    for gpu in gpus().values():
        seen.setdefault(gpu.id, gpu)
    return tuple(seen.values())
