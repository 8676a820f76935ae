"""GPU resource names, extended-resource rules and GPU taint tolerations.

Sources:
- extended resources and their validation: kubernetes ``pkg/apis/core/validation``
  (``validateResourceRequirements``: "must be an integer",
  "Limit must be set for non overcommitable resources",
  "must be equal to <name> limit of <n>") and ``pkg/apis/core/helper``
  (``IsExtendedResourceName``, ``IsNativeResource``);
- NVIDIA resource names: NVIDIA/k8s-device-plugin README (``nvidia.com/gpu``,
  ``nvidia.com/gpu.shared`` with ``renameByDefault``, MIG
  ``nvidia.com/mig-<g>g.<m>gb``);
- other vendors' device plugins: AMD ``amd.com/gpu``, Intel ``gpu.intel.com/i915``
  and ``gpu.intel.com/xe``, Habana ``habana.ai/gaudi``, AWS Neuron
  ``aws.amazon.com/neuron``/``neuroncore``/``neurondevice``, Google ``google.com/tpu``;
- toleration matching: kubernetes ``Toleration.ToleratesTaint``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from kubernai.model.resource import Resource, get_str, iter_maps
from kubernai.model.workload import Container, PodTemplate, memoised

NVIDIA_GPU = "nvidia.com/gpu"
_NVIDIA_GPU_FAMILY = re.compile(
    r"nvidia\.com/(gpu(\.shared)?|mig-[0-9]+g\.[0-9]+gb[a-z0-9.+-]*)"
)
OTHER_ACCELERATORS = frozenset(
    {
        "amd.com/gpu",
        "gpu.intel.com/i915",
        "gpu.intel.com/xe",
        "habana.ai/gaudi",
        "aws.amazon.com/neuron",
        "aws.amazon.com/neuroncore",
        "aws.amazon.com/neurondevice",
        "google.com/tpu",
    }
)


@cache
def is_nvidia_gpu(name: str) -> bool:
    """``nvidia.com/gpu``, its shared rename, or a MIG profile."""
    return _NVIDIA_GPU_FAMILY.fullmatch(name) is not None


@cache
def is_accelerator(name: str) -> bool:
    """A resource name that some device plugin advertises for an accelerator."""
    return is_nvidia_gpu(name) or name in OTHER_ACCELERATORS


def is_extended_resource(name: str) -> bool:
    """Kubernetes' ``IsExtendedResourceName``: domain-prefixed, not kubernetes.io."""
    return (
        "/" in name
        and "kubernetes.io/" not in name
        and not name.startswith("requests.")
    )


def accelerator_names(container: Container) -> tuple[str, ...]:
    """Accelerator resources that a container asks for (limits, then requests)."""
    return memoised(
        container,
        "accelerator_names",
        lambda: tuple(n for n in container.names if is_accelerator(n)),
    )


def requests_accelerator(template: PodTemplate) -> bool:
    """Whether any container of the template asks for an accelerator."""
    return any(accelerator_names(c) for c in template.containers)


def requests_nvidia_gpu(template: PodTemplate) -> bool:
    """Whether any container asks for an NVIDIA GPU resource (MIG included)."""
    return any(
        is_nvidia_gpu(name)
        for c in template.containers
        for name in accelerator_names(c)
    )


@dataclass(frozen=True, slots=True)
class Taint:
    """A node taint; ``value`` is ``None`` when the cluster's value is not known."""

    key: str
    value: str | None
    effect: str


@dataclass(frozen=True, slots=True)
class Toleration:
    """One ``tolerations[]`` entry with its index."""

    index: int
    key: str
    operator: str
    value: str
    effect: str

    @property
    def wildcard(self) -> bool:
        """An ``Exists`` toleration with no key tolerates every taint."""
        return not self.key and self.operator == "Exists"

    def tolerates(self, taint: Taint) -> bool:
        """Kubernetes' ``ToleratesTaint``; an unknown taint value counts as matched."""
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator == "Exists":
            return True
        if self.operator in ("", "Equal"):
            if not self.key:
                return False  # the API server rejects an Equal toleration without a key
            return taint.value is None or self.value == taint.value
        return False


def tolerations(template: PodTemplate) -> Iterator[Toleration]:
    """The template's tolerations; entries of the wrong shape are skipped."""
    return iter(
        memoised(template, "tolerations", lambda: tuple(_tolerations(template)))
    )


def _tolerations(template: PodTemplate) -> Iterator[Toleration]:
    for index, raw in iter_maps(template.spec, "tolerations"):
        yield Toleration(
            index=index,
            key=get_str(raw, "key"),
            operator=get_str(raw, "operator"),
            value=_text(raw.get("value")),
            effect=get_str(raw, "effect"),
        )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# Node labels by which a pod says it runs on a GKE accelerator node pool; GKE
# adds the matching toleration itself (ExtendedResourceToleration).
_GKE_ACCELERATOR_LABELS = (
    "cloud.google.com/gke-accelerator",
    "cloud.google.com/gke-tpu-",
)
KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"


def node_selector_keys(template: PodTemplate) -> set[str]:
    """Label keys the template selects nodes by (nodeSelector and required affinity)."""
    keys = {k for k in template.spec.get("nodeSelector") or {} if isinstance(k, str)}
    affinity = template.spec.get("affinity")
    terms: Any = None
    if isinstance(affinity, Mapping):
        node_affinity = affinity.get("nodeAffinity")
        if isinstance(node_affinity, Mapping):
            required = node_affinity.get(
                "requiredDuringSchedulingIgnoredDuringExecution"
            )
            if isinstance(required, Mapping):
                terms = required.get("nodeSelectorTerms")
    if isinstance(terms, list):
        for term in terms:
            if isinstance(term, Mapping):
                for _, expression in iter_maps(term, "matchExpressions"):
                    key = expression.get("key")
                    if isinstance(key, str):
                        keys.add(key)
    return keys


def tolerations_added_elsewhere(resource: Resource, template: PodTemplate) -> str:
    """Why tolerations may reach the pod from outside this manifest, or ``""``.

    A runtime or preset merged at admission, a Kueue ResourceFlavor (which adds
    its tolerations to the workloads it admits), or GKE, which adds GPU
    tolerations to pods that select an accelerator node pool.
    """
    if not template.complete:
        return "tolerations come from a runtime or preset merged at admission"
    if KUEUE_QUEUE_LABEL in resource.labels or KUEUE_QUEUE_LABEL in template.labels:
        return "Kueue adds the ResourceFlavor's tolerations at admission"
    if any(k.startswith(_GKE_ACCELERATOR_LABELS) for k in node_selector_keys(template)):
        return "GKE adds GPU tolerations to pods that select an accelerator pool"
    return ""


_CANONICAL = (NVIDIA_GPU, *sorted(OTHER_ACCELERATORS))
_STANDARD_CONTAINER_RESOURCES = frozenset({"cpu", "memory", "ephemeral-storage"})


def _distance(a: str, b: str) -> int:
    """Levenshtein distance (short strings only)."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(
                    previous[j] + 1,
                    current[j - 1] + 1,
                    previous[j - 1] + (char_a != char_b),
                )
            )
        previous = current
    return previous[-1]


@cache
def misspelled_accelerator(name: str) -> str | None:
    """The accelerator resource ``name`` was probably meant to be, or ``None``.

    ``nvidia.com/gpus``, ``nvidia/gpu``, ``nvidia.com/GPU`` and a bare ``gpu``
    are not names any device plugin advertises.
    """
    if is_accelerator(name) or len(name) > 80:
        return None
    if "/" not in name:
        lowered = name.lower()
        if lowered in _STANDARD_CONTAINER_RESOURCES or lowered.startswith("hugepages-"):
            return None
        return NVIDIA_GPU if "gpu" in lowered else None
    domain, resource = name.lower().split("/", 1)
    for candidate in _CANONICAL:
        want_domain, want_resource = candidate.split("/", 1)
        vendor = want_domain.split(".")[0]
        if abs(len(resource) - len(want_resource)) > 2 and not domain.startswith(
            vendor
        ):
            continue
        resource_distance = _distance(resource, want_resource)
        total = _distance(domain, want_domain) + resource_distance
        if total <= 2 or (domain.startswith(vendor) and resource_distance <= 1):
            return candidate
    return None


def is_unprefixed_nonstandard(name: str) -> bool:
    """A resource name without a domain that containers may not use."""
    return (
        "/" not in name
        and name not in _STANDARD_CONTAINER_RESOURCES
        and not name.startswith("hugepages-")
    )
