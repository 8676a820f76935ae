"""GPU node labels: where objects select nodes by them, and which values exist.

Three label families name the GPU of a node, each in its own format:

- GPU Feature Discovery (GFD) ``nvidia.com/gpu.product``: the NVML device name
  with characters outside ``[A-Za-z0-9-_. ]`` removed and whitespace runs joined
  by ``-``, then ``-MIG-<profile>`` (MIG ``single`` strategy, and the
  ``nvidia.com/mig-<profile>.product`` labels of the ``mixed`` one) and
  ``-SHARED`` (sharing with replicas > 1 and no rename), in that order
  (NVIDIA/k8s-device-plugin ``internal/lm/resource.go``);
- GKE ``cloud.google.com/gke-accelerator``: the Compute Engine accelerator type
  of the node pool (``nvidia-l4``, ``nvidia-h100-80gb``);
- Karpenter ``karpenter.k8s.aws/instance-gpu-name`` and EKS Auto Mode
  ``eks.amazonaws.com/instance-gpu-name``: the EC2 GPU name lower-cased with
  spaces as ``-`` (``l4``, ``h100``; karpenter-provider-aws ``lowerKabobCase``).

The catalogs of real values, each with its source, are in
``data/gpu_products.json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from kubernai.model.resource import Path, Resource, get_list, get_map, get_str
from kubernai.model.workload import WORKLOADS, memoised

GFD_PRODUCT = "nvidia.com/gpu.product"
GKE_ACCELERATOR = "cloud.google.com/gke-accelerator"
GPU_NAME_KEYS = (
    "karpenter.k8s.aws/instance-gpu-name",
    "eks.amazonaws.com/instance-gpu-name",
)
GPU_MANUFACTURER_KEYS = (
    "karpenter.k8s.aws/instance-gpu-manufacturer",
    "eks.amazonaws.com/instance-gpu-manufacturer",
)
KSERVE_GKE_ANNOTATION = "serving.kserve.io/gke-accelerator"
MIG_PRODUCT_KEY = re.compile(r"nvidia\.com/mig-([0-9]+g\.[0-9]+gb[a-z0-9.]*)\.product")

SELECTOR_KINDS = frozenset(kind for _, kind in WORKLOADS) | {
    "ResourceFlavor",
    "NodePool",
    "Provisioner",
}
"""Kinds whose objects can carry node label selectors."""

_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
_PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


@dataclass(frozen=True, slots=True)
class LabelValue:
    """One value a selector compares a label with, and where it is written."""

    text: str
    path: Path


@dataclass(frozen=True, slots=True)
class LabelTerm:
    """One requirement on a node label.

    ``operator`` is ``In`` for the plain ``key: value`` maps (``nodeSelector``,
    a ResourceFlavor's ``nodeLabels``); ``where`` names the field for messages.
    """

    key: str
    operator: str
    values: tuple[LabelValue, ...]
    where: str
    path: Path
    """Of the key (the map entry, or the expression's ``key`` field)."""


def label_terms(resource: Resource) -> Iterator[LabelTerm]:
    """Node label requirements of ``resource``.

    Pod templates (``nodeSelector``, required and preferred node affinity),
    Kueue ResourceFlavor ``nodeLabels``, Karpenter NodePool (and v1alpha5
    Provisioner) ``requirements``, and the KServe annotation that becomes a
    ``cloud.google.com/gke-accelerator`` node selector. Read once per object.
    """
    return iter(
        memoised(resource, "label_terms", lambda: tuple(_label_terms(resource)))
    )


def _label_terms(resource: Resource) -> Iterator[LabelTerm]:
    for template in resource.templates:
        yield from _pod_terms(template.spec, template.path)
    kind, group = resource.kind, resource.group
    if kind == "ResourceFlavor" and group == "kueue.x-k8s.io":
        labels = get_map(resource.raw, "spec", "nodeLabels")
        yield from _map_terms(
            labels, ("spec", "nodeLabels"), "ResourceFlavor nodeLabels"
        )
    elif group == "karpenter.sh" and kind in ("NodePool", "Provisioner"):
        base: Path = (
            ("spec", "template", "spec", "requirements")
            if kind == "NodePool"
            else ("spec", "requirements")
        )
        requirements = get_list(resource.raw, *base)
        yield from _expressions(requirements, base, f"{kind} requirements")
    elif kind == "InferenceService" and group == "serving.kserve.io":
        text = _text(resource.annotations.get(KSERVE_GKE_ANNOTATION))
        if text is not None:
            path = ("metadata", "annotations", KSERVE_GKE_ANNOTATION)
            yield LabelTerm(
                GKE_ACCELERATOR,
                "In",
                (LabelValue(text, path),),
                f"annotation {KSERVE_GKE_ANNOTATION}",
                path,
            )


def _pod_terms(spec: Mapping[str, Any], base: Path) -> Iterator[LabelTerm]:
    selector = spec.get("nodeSelector")
    if isinstance(selector, Mapping):
        yield from _map_terms(selector, (*base, "nodeSelector"), "nodeSelector")
    node_affinity = get_map(spec, "affinity", "nodeAffinity")
    if not node_affinity:
        return
    affinity: Path = (*base, "affinity", "nodeAffinity")
    terms = get_list(node_affinity, _REQUIRED, "nodeSelectorTerms")
    for index, term in enumerate(terms):
        path = (*affinity, _REQUIRED, "nodeSelectorTerms", index, "matchExpressions")
        expressions = get_list(term, "matchExpressions")
        yield from _expressions(expressions, path, "required node affinity")
    for index, item in enumerate(get_list(node_affinity, _PREFERRED)):
        path = (*affinity, _PREFERRED, index, "preference", "matchExpressions")
        expressions = get_list(item, "preference", "matchExpressions")
        yield from _expressions(expressions, path, "preferred node affinity")


def _map_terms(
    labels: Mapping[Any, Any], base: Path, where: str
) -> Iterator[LabelTerm]:
    for key, value in labels.items():
        if not isinstance(key, str):
            continue
        text = _text(value)
        path = (*base, key)
        values = (LabelValue(text, path),) if text is not None else ()
        yield LabelTerm(key, "In", values, where, path)


def _expressions(items: list[Any], base: Path, where: str) -> Iterator[LabelTerm]:
    """A ``matchExpressions``-style list whose path in the object is ``base``."""
    for index, expression in enumerate(items):
        if not isinstance(expression, Mapping):
            continue
        key = get_str(expression, "key")
        if not key:
            continue
        values = []
        for position, value in enumerate(get_list(expression, "values")):
            text = _text(value)
            if text is not None:
                values.append(LabelValue(text, (*base, index, "values", position)))
        operator = get_str(expression, "operator")
        yield LabelTerm(key, operator, tuple(values), where, (*base, index, "key"))


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


# --- catalogs ----------------------------------------------------------------

_MODEL_TOKEN = re.compile(r"[A-Za-z]{1,2}[0-9]{1,3}[A-Za-z]?")
_SPLIT = re.compile(r"[-_. ]+")


def model_tokens(value: str, *, upper_only: bool = False) -> frozenset[str]:
    """GPU model tokens in a label value, upper-cased: ``nvidia-tesla-a100`` → A100.

    With ``upper_only``, only parts already written in capitals count (NVML
    names write models that way; ``v2`` in ``RTX-5090-D-v2`` is no model).
    """
    return frozenset(
        part.upper()
        for part in _SPLIT.split(value)
        if _MODEL_TOKEN.fullmatch(part) and (not upper_only or part.isupper())
    )


@dataclass(frozen=True, slots=True)
class ValueCatalog:
    """The real values of one label family, indexed for look-ups."""

    values: tuple[str, ...]
    """Values to suggest, in catalog order."""
    accepted: frozenset[str]
    """Values some node can carry (suggestions plus older spellings)."""
    by_lower: Mapping[str, str]
    """Lower-cased accepted value → the value."""
    by_token: Mapping[str, tuple[str, ...]]
    """Model token → suggestable values that contain it."""
    closed_tokens: frozenset[str]
    """Model tokens for which the catalog lists every value there is."""
    preferred: frozenset[str] = frozenset()
    """Values seen in real clusters: suggested before look-alikes."""

    def closest(self, value: str, *, limit: int = 3) -> tuple[str, ...]:
        """The catalog values nearest to ``value``, best first."""
        pool: Iterable[str] = {
            v for token in model_tokens(value) for v in self.by_token.get(token, ())
        }
        cutoff = 0.0
        if not pool:
            pool, cutoff = self.values, 0.6
        wanted = value.lower()
        scored = sorted(
            (
                v not in self.preferred,
                -SequenceMatcher(None, wanted, v.lower()).ratio(),
                v,
            )
            for v in pool
        )
        return tuple(v for _, score, v in scored[:limit] if -score >= cutoff)


def _index(
    values: list[str],
    *,
    extra: Iterable[str] = (),
    closed: Iterable[str] = (),
    preferred: Iterable[str] = (),
    upper_only: bool = False,
) -> ValueCatalog:
    accepted = frozenset([*values, *extra])
    tokens = {v: model_tokens(v, upper_only=upper_only) for v in values}
    by_token: dict[str, list[str]] = {}
    for value in values:
        for token in tokens[value]:
            by_token.setdefault(token, []).append(value)
    closed_set = set(closed)
    open_tokens = {t for v in values if v not in closed_set for t in tokens[v]}
    closed_tokens = frozenset(t for v in closed_set for t in tokens[v]) - open_tokens
    return ValueCatalog(
        values=tuple(values),
        accepted=accepted,
        by_lower={v.lower(): v for v in sorted(accepted)},
        by_token={k: tuple(v) for k, v in by_token.items()},
        closed_tokens=closed_tokens,
        preferred=frozenset(preferred),
    )


@dataclass(frozen=True, slots=True)
class GpuLabelCatalog:
    """Everything kubernai knows about GPU node label values."""

    gfd: ValueCatalog
    gke: ValueCatalog
    aws: ValueCatalog
    aws_manufacturers: frozenset[str]
    gfd_enums: Mapping[str, tuple[str, ...]]
    deprecated: Mapping[str, str]
    """Deprecated GFD label key → its replacement."""


@cache
def gpu_label_catalog() -> GpuLabelCatalog:
    """The catalogs of ``data/gpu_products.json``."""
    text = (
        resources.files("kubernai")
        .joinpath("data/gpu_products.json")
        .read_text("utf-8")
    )
    data = json.loads(text)
    legacy_arches = set(data["legacy_unprefixed_arches"]["value"])
    products = [p["product"] for p in data["gfd_products"]]
    legacy = [
        p["product"].removeprefix("NVIDIA-")
        for p in data["gfd_products"]
        if p["arch"] in legacy_arches and p["product"].startswith("NVIDIA-")
    ]
    closed = [p["product"] for p in data["gfd_products"] if p["closed"]]
    observed = [p["product"] for p in data["gfd_products"] if p.get("observed")]
    gke = [i["value"] for i in data["gke_accelerators"] if i.get("suggest", True)]
    gke_extra = [i["value"] for i in data["gke_accelerators"]]
    aws = [item["value"] for item in data["aws_gpu_names"]]
    return GpuLabelCatalog(
        gfd=_index(
            products, extra=legacy, closed=closed, preferred=observed, upper_only=True
        ),
        gke=_index(gke, extra=gke_extra, closed=gke),
        aws=_index(aws, closed=aws),
        aws_manufacturers=frozenset(m["value"] for m in data["aws_gpu_manufacturers"]),
        gfd_enums={k: tuple(v["values"]) for k, v in data["gfd_enums"].items()},
        deprecated={
            k: v["replacement"] for k, v in data["gfd_deprecated_labels"].items()
        },
    )


# --- GPU Feature Discovery product strings -----------------------------------

_SHARED = "-SHARED"
_MIG = re.compile(r"(?P<base>.+?)-MIG-(?P<profile>.+)")
_MIG_PROFILE = re.compile(r"[0-9]+g\.[0-9]+gb(\.[a-z0-9]+)*|INVALID")
_LABEL_CHARS = re.compile(r"[A-Za-z0-9_.-]*")
_VGPU_TYPE = re.compile(r"-[0-9]+[ABCQ]$")
_NOT_KEPT = re.compile(r"[^A-Za-z0-9\-_. ]")


@dataclass(frozen=True, slots=True)
class ProductValue:
    """A ``nvidia.com/gpu.product`` value split into the NVML model and suffixes."""

    base: str
    mig_profile: str
    shared: bool

    @property
    def suffix(self) -> str:
        """What GFD appends to the model: ``-MIG-<profile>`` and ``-SHARED``."""
        mig = f"-MIG-{self.mig_profile}" if self.mig_profile else ""
        return mig + (_SHARED if self.shared else "")


def parse_product(value: str) -> ProductValue:
    """Split a product label value into the model part and the GFD suffixes."""
    shared = value.endswith(_SHARED)
    rest = value.removesuffix(_SHARED) if shared else value
    match = _MIG.fullmatch(rest)
    if match:
        return ProductValue(match["base"], match["profile"], shared)
    return ProductValue(rest, "", shared)


def sanitise(name: str) -> str:
    """GFD's ``sanitise``: keep ``[A-Za-z0-9-_. ]``, join whitespace runs by ``-``."""
    kept = _NOT_KEPT.sub("", name)
    return "-".join(kept.split())


@dataclass(frozen=True, slots=True)
class ValueProblem:
    """Why a label value matches no node, and what it probably should be."""

    reason: str
    suggestions: tuple[str, ...] = ()
    lead: str = "real values"
    """What the suggestions are, for the message."""

    def describe(self) -> str:
        """The reason followed by the suggestions."""
        if not self.suggestions:
            return self.reason
        return f"{self.reason}; {self.lead}: {', '.join(self.suggestions)}"


@lru_cache(maxsize=4096)
def product_problem(value: str, *, also_known: str = "") -> ValueProblem | None:
    """Why ``value`` is no product string GFD publishes, or ``None``.

    Values kubernai cannot judge (a GPU it does not know, a vGPU type) pass.
    ``also_known`` is one more product the cluster is said to have.
    """
    if not value or value == also_known:
        return None
    catalog = gpu_label_catalog()
    parsed = parse_product(value)
    base = parsed.base
    if also_known and base == parse_product(also_known).base:
        return None
    gfd = catalog.gfd
    if parsed.mig_profile and not _MIG_PROFILE.fullmatch(parsed.mig_profile):
        return ValueProblem(
            f"'-MIG-{parsed.mig_profile}' is not a MIG profile as GFD writes it "
            "(e.g. -MIG-1g.10gb)"
        )
    if not _LABEL_CHARS.fullmatch(base):
        clean = sanitise(base)
        known = gfd.by_lower.get(clean.lower())
        return ValueProblem(
            "GFD removes characters other than letters, digits, '-', '_' and '.' "
            "and joins words with '-'",
            ((known or clean) + parsed.suffix,),
        )
    if base in gfd.accepted or base.startswith("GRID-") or _VGPU_TYPE.search(base):
        return None

    def problem(
        reason: str, candidates: Iterable[str], *, guessed: bool = True
    ) -> ValueProblem:
        if parsed.mig_profile and guessed:
            # Which GPUs offer the profile is not known here: name the GPUs only.
            lead = f"real GPU names (followed by -MIG-{parsed.mig_profile})"
            return ValueProblem(reason, tuple(candidates), lead)
        return ValueProblem(reason, tuple(c + parsed.suffix for c in candidates))

    if not any(char.isupper() for char in base):
        if base in catalog.gke.accepted:
            origin = f"it is a GKE accelerator type ({GKE_ACCELERATOR}); "
        elif base in catalog.aws.accepted:
            origin = f"it is a Karpenter/EKS GPU name ({GPU_NAME_KEYS[0]}); "
        else:
            origin = ""
        return problem(
            f"{origin}GFD publishes the NVML device name, which has capitals "
            "(e.g. NVIDIA-L4, Tesla-T4)",
            gfd.closest(base),
        )
    exact = gfd.by_lower.get(base.lower())
    if exact is not None:
        return problem(
            "label values are case-sensitive and GFD spells it differently",
            (exact,),
            guessed=False,
        )
    if f"NVIDIA-{base}" in gfd.values:
        return problem(
            "the NVML name of this GPU starts with 'NVIDIA'",
            (f"NVIDIA-{base}",),
            guessed=False,
        )
    closed = model_tokens(base) & gfd.closed_tokens
    if closed:
        model = sorted(closed)[0]
        return problem(f"no {model} GPU has this name", gfd.closest(base))
    return None
