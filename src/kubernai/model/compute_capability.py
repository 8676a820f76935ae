"""The GPUs a pod template runs on, as a range of CUDA compute capabilities.

The GPU comes from the pod's node selector or required node affinity on GPU
Feature Discovery's ``nvidia.com/gpu.product``, ``nvidia.com/gpu.family`` and
``nvidia.com/gpu.compute.major``, GKE's ``cloud.google.com/gke-accelerator``
and the Karpenter / EKS Auto Mode GPU-name labels, else the configured
``cluster.gpu_product``. Each label value maps to a range of compute
capabilities (``data/precision_gpus.json``, plus ``data/gpus.json`` and
``data/gpu_products.json`` read directly, as the model layer does not import
``kubernai.calc``). The range says whether the GPUs run a number format
natively: BF16 needs 8.0 (vLLM ``_check_if_gpu_supports_dtype``), FP8 8.9
(Accelerate ``check_cuda_fp8_capability``). GFD releases before the
``ada-lovelace`` family labelled compute capability 8.9 ``ampere``, so that
family label leaves FP8 open.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from kubernai.model.facts import ClusterFacts
from kubernai.model.node_labels import (
    GFD_PRODUCT,
    GKE_ACCELERATOR,
    GPU_NAME_KEYS,
    parse_product,
)
from kubernai.model.resource import Path, Resource, get_list, get_map, get_str
from kubernai.model.workload import PodTemplate, memoised

GFD_FAMILY = "nvidia.com/gpu.family"
GFD_COMPUTE_MAJOR = "nvidia.com/gpu.compute.major"
INSTANCE_TYPE_KEYS = (
    "node.kubernetes.io/instance-type",
    "beta.kubernetes.io/instance-type",
)
"""Well-known instance-type labels (kubernetes.io labels reference)."""
_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
_SELECTOR_KEYS = (
    GFD_PRODUCT,
    GKE_ACCELERATOR,
    *GPU_NAME_KEYS,
    GFD_FAMILY,
    GFD_COMPUTE_MAJOR,
)
_NAMING_KEYS = frozenset(
    {*_SELECTOR_KEYS, *INSTANCE_TYPE_KEYS, "nvidia.com/gpu.machine"}
)

CC = tuple[int, int]
BF16_MIN: CC = (8, 0)
FP8_MIN: CC = (8, 9)


@dataclass(frozen=True, slots=True)
class GpuRange:
    """The GPUs a template's pods can land on, as a compute-capability range."""

    low: CC
    high: CC
    gpu: str
    """What the label names: ``Tesla-T4``, ``volta GPUs``..."""
    source: str
    """Which field says so: ``nodeSelector nvidia.com/gpu.product=Tesla-T4``."""
    path: Path
    configured: bool = False
    """True when the GPU comes from ``.kubernai.yaml`` rather than the object."""

    @property
    def bf16(self) -> bool | None:
        """Whether the GPUs run bf16 natively (``None``: some do, some don't)."""
        return _supports(self, BF16_MIN)

    @property
    def fp8(self) -> bool | None:
        """Whether the GPUs have FP8 tensor cores."""
        return _supports(self, FP8_MIN)

    @property
    def capability(self) -> str:
        """``7.5``, ``7.0-7.4`` or ``7.x`` for messages."""
        low, high = self.low, self.high
        if low == high:
            return f"{low[0]}.{low[1]}"
        if low[0] == high[0] and low[1] == 0 and high[1] == 9:
            return f"{low[0]}.x"
        return f"{low[0]}.{low[1]}-{high[0]}.{high[1]}"

    def describe(self) -> str:
        """``nodeSelector ...=Tesla-T4 (Tesla-T4, compute capability 7.5)``."""
        gpu = f"{self.gpu}, " if self.gpu else ""
        return f"{self.source} ({gpu}compute capability {self.capability})"


def _supports(gpus: GpuRange, minimum: CC) -> bool | None:
    if gpus.low >= minimum:
        return True
    if gpus.high < minimum:
        return False
    return None


def _cc(text: str) -> CC:
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


@dataclass(frozen=True, slots=True)
class _Tables:
    families: Mapping[str, tuple[CC, CC]]
    product_archs: Mapping[str, tuple[CC, CC]]
    products: Mapping[str, str]
    """GFD product → architecture (``data/gpu_products.json``)."""
    catalog: Mapping[str, CC]
    """GFD product → compute capability of the GPU catalog (``data/gpus.json``)."""
    accelerators: Mapping[tuple[str, str], tuple[str, CC]]
    """(label key, value) → (GPU, compute capability)."""


@cache
def _tables() -> _Tables:
    files = resources.files("kubernai")
    data = json.loads(files.joinpath("data/precision_gpus.json").read_text("utf-8"))
    labels = json.loads(files.joinpath("data/gpu_products.json").read_text("utf-8"))
    gpus = json.loads(files.joinpath("data/gpus.json").read_text("utf-8"))
    legacy = set(labels["legacy_unprefixed_arches"]["value"])
    products: dict[str, str] = {}
    for item in labels["gfd_products"]:
        products[item["product"]] = item["arch"]
        if item["arch"] in legacy and item["product"].startswith("NVIDIA-"):
            products.setdefault(item["product"].removeprefix("NVIDIA-"), item["arch"])
    accelerators: dict[tuple[str, str], tuple[str, CC]] = {}
    for item in data["accelerators"]:
        keys: tuple[str, ...] = (item["key"],)
        if item["key"] == GPU_NAME_KEYS[0]:
            keys = GPU_NAME_KEYS
        for key in keys:
            accelerators[(key, item["value"])] = (
                item["gpu"],
                _cc(item["compute_capability"]),
            )

    def ranges(section: str) -> dict[str, tuple[CC, CC]]:
        return {
            name: (_cc(low), _cc(high))
            for name, (low, high) in data[section]["ranges"].items()
        }

    return _Tables(
        families=ranges("families"),
        product_archs=ranges("product_architectures"),
        products=products,
        catalog={g["product"]: _cc(g["compute_capability"]) for g in gpus["gpus"]},
        accelerators=accelerators,
    )


def _label_range(key: str, value: str) -> tuple[CC, CC, str] | None:
    """The compute capabilities a label value stands for, and the GPU's name."""
    tables = _tables()
    if key == GFD_PRODUCT:
        base = parse_product(value).base
        cc = tables.catalog.get(base)
        if cc is not None:
            return cc, cc, base
        arch = tables.products.get(base)
        if arch is None or arch not in tables.product_archs:
            return None
        low, high = tables.product_archs[arch]
        return low, high, base
    if key == GFD_FAMILY:
        found = tables.families.get(value)
        return (*found, f"{value} GPUs") if found else None
    if key == GFD_COMPUTE_MAJOR:
        if not value.isdigit():
            return None
        major = int(value)
        return (major, 0), (major, 9), ""
    accelerator = tables.accelerators.get((key, value))
    if accelerator is None:
        return None
    gpu_name, cc = accelerator
    return cc, cc, gpu_name


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str | int):
        return str(value)
    return None


def _selector_ranges(spec: Mapping[str, Any], base: Path) -> Iterator[GpuRange]:
    selector = get_map(spec, "nodeSelector")
    for key in _SELECTOR_KEYS:
        value = _text(selector.get(key))
        if value is None:
            continue
        found = _label_range(key, value)
        if found is not None:
            low, high, gpu = found
            yield GpuRange(
                low,
                high,
                gpu,
                f"nodeSelector {key}={value}",
                (*base, "nodeSelector", key),
            )


def _expression_range(
    expression: Any,
) -> tuple[CC, CC, list[str], list[str]] | None:
    """``key In (values)`` on a GPU label: its range, the terms and the GPUs."""
    key = get_str(expression, "key")
    if key not in _SELECTOR_KEYS or get_str(expression, "operator") != "In":
        return None
    values = [_text(v) for v in get_list(expression, "values")]
    low: CC | None = None
    high: CC | None = None
    gpus: list[str] = []
    shown: list[str] = []
    for value in values:
        found = _label_range(key, value) if value is not None else None
        if found is None:
            return None
        low = found[0] if low is None else min(low, found[0])
        high = found[1] if high is None else max(high, found[1])
        shown.append(f"{key}={value}")
        gpus.append(found[2])
    if low is None or high is None:
        return None
    return low, high, shown, gpus


def _affinity_range(spec: Mapping[str, Any], base: Path) -> GpuRange | None:
    """The range that required node affinity allows; ``None`` if it allows any."""
    terms = get_list(spec, "affinity", "nodeAffinity", _REQUIRED, "nodeSelectorTerms")
    low: CC | None = None
    high: CC | None = None
    shown: list[str] = []
    gpus: list[str] = []
    path: Path = ()
    for term_index, term in enumerate(terms):
        chosen = None
        for index, expression in enumerate(get_list(term, "matchExpressions")):
            chosen = _expression_range(expression)
            if chosen is None:
                continue
            if not path:
                path = (
                    *base,
                    "affinity",
                    "nodeAffinity",
                    _REQUIRED,
                    "nodeSelectorTerms",
                    term_index,
                    "matchExpressions",
                    index,
                    "values",
                )
            break
        if chosen is None:
            return None  # this term lets the pod land on GPUs not named
        term_low, term_high, term_shown, term_gpus = chosen
        low = term_low if low is None else min(low, term_low)
        high = term_high if high is None else max(high, term_high)
        shown.extend(term_shown)
        gpus.extend(term_gpus)
    if low is None or high is None:
        return None
    return GpuRange(
        low,
        high,
        ", ".join(dict.fromkeys(gpu for gpu in gpus if gpu)),
        "required node affinity " + ", ".join(shown),
        path,
    )


def _names_nodes(spec: Mapping[str, Any]) -> bool:
    """Whether node labels that name a GPU or machine pick the nodes (unread here).

    The configured ``cluster.gpu_product`` describes a cluster's usual GPU; a
    template that selects an instance type or an unknown GPU label value may
    well run elsewhere.
    """
    keys = set(get_map(spec, "nodeSelector"))
    terms = get_list(spec, "affinity", "nodeAffinity", _REQUIRED, "nodeSelectorTerms")
    for term in terms:
        for expression in get_list(term, "matchExpressions"):
            keys.add(get_str(expression, "key"))
    return not keys.isdisjoint(_NAMING_KEYS)


def gpu_range(
    resource: Resource, template: PodTemplate, facts: ClusterFacts
) -> GpuRange | None:
    """The GPUs a template's pods can run on; ``None`` when nothing says.

    Every node selector and the required node affinity must hold at once, so
    the range is where they overlap (``None`` when they do not: no node fits,
    which other checks report). The configured ``cluster.gpu_product`` is used
    only when the object says nothing. Computed once per template.
    """
    return memoised(
        template, "precision_gpu_range", lambda: _gpu_range(template, facts)
    )


def _gpu_range(template: PodTemplate, facts: ClusterFacts) -> GpuRange | None:
    found = list(_selector_ranges(template.spec, template.path))
    affinity = _affinity_range(template.spec, template.path)
    if affinity is not None:
        found.append(affinity)
    if not found:
        if not facts.gpu_product or _names_nodes(template.spec):
            return None
        label = _label_range(GFD_PRODUCT, facts.gpu_product)
        if label is None:
            return None
        low, high, gpu = label
        return GpuRange(
            low,
            high,
            gpu,
            f"cluster.gpu_product {facts.gpu_product} in .kubernai.yaml",
            (),
            configured=True,
        )
    low = max(item.low for item in found)
    high = min(item.high for item in found)
    if low > high:
        return None
    narrowest = min(found, key=lambda item: (item.high, item.low))
    if len(found) == 1:
        return found[0]
    return GpuRange(low, high, narrowest.gpu, narrowest.source, narrowest.path)
