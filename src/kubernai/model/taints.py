"""Node taints that manifests declare, and the pods that must run on GPU nodes.

Sources:
- where taints live: ``Node.spec.taints`` (core); Karpenter ``NodePool``
  (``karpenter.sh``) ``spec.template.spec.taints`` and the older ``Provisioner``
  ``spec.taints`` (karpenter.sh/docs/concepts/nodepools); eksctl ``ClusterConfig``
  ``nodeGroups[*].taints`` and ``managedNodeGroups[*].taints``
  (eksctl-io/eksctl examples/34-taints.yaml);
- GPU node agents and GPU node labels: ``data/gpu_node_agents.json``, one source
  per value;
- the pods that ``cpu-pod-tolerates-gpu-taint`` reports: that rule's module, whose
  conditions :func:`squatting_toleration` repeats so that other rules can leave
  those pods to it.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from kubernai.model.gpu import (
    Taint,
    Toleration,
    misspelled_accelerator,
    node_selector_keys,
    requests_accelerator,
    tolerations,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import (
    Path,
    Raw,
    Resource,
    get_list,
    get_map,
    get_str,
    iter_maps,
)
from kubernai.model.workload import PodTemplate

_NODEPOOL_TAINTS: Path = ("spec", "template", "spec", "taints")


def _eksctl_taint_lists(raw: Raw) -> Iterator[Path]:
    for group in ("nodeGroups", "managedNodeGroups"):
        for index, _ in iter_maps(raw, group):
            yield (group, index, "taints")


_TAINT_LISTS: dict[tuple[str, str], Callable[[Raw], Iterator[Path]]] = {
    ("", "Node"): lambda raw: iter((("spec", "taints"),)),
    ("karpenter.sh", "NodePool"): lambda raw: iter((_NODEPOOL_TAINTS,)),
    ("karpenter.sh", "Provisioner"): lambda raw: iter((("spec", "taints"),)),
    ("eksctl.io", "ClusterConfig"): _eksctl_taint_lists,
}
TAINTED_KINDS = frozenset(kind for _, kind in _TAINT_LISTS)
"""Kinds whose objects may declare node taints (check the group as well)."""


@dataclass(frozen=True, slots=True)
class DeclaredTaint:
    """A taint written in a Node or node-pool object, with its path there."""

    path: Path
    taint: Taint
    owner: str
    """``Kind namespace/name`` of the object that declares it."""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def declared_taints(resource: Resource) -> Iterator[DeclaredTaint]:
    """The taints ``resource`` puts on nodes; entries without key or effect skipped.

    Karpenter ``startupTaints`` are left out: they are meant to be removed once
    the node is ready.
    """
    lists = _TAINT_LISTS.get((resource.group, resource.kind))
    if lists is None:
        return
    for base in lists(resource.raw):
        for index, raw in iter_maps(resource.raw, *base):
            key, effect = get_str(raw, "key"), get_str(raw, "effect")
            if key and effect:
                yield DeclaredTaint(
                    path=(*base, index),
                    taint=Taint(key, _text(raw.get("value")), effect),
                    owner=resource.display(),
                )


_OBSERVED: weakref.WeakKeyDictionary[ObjectGraph, tuple[DeclaredTaint, ...]] = (
    weakref.WeakKeyDictionary()
)


def observed_taints(graph: ObjectGraph) -> tuple[DeclaredTaint, ...]:
    """Every taint declared in the input, each taint once (first declaration kept).

    Computed once per graph, so that rules may ask for every object they check.
    """
    found = _OBSERVED.get(graph)
    if found is None:
        first: dict[Taint, DeclaredTaint] = {}
        for kind in sorted(TAINTED_KINDS):
            for resource in graph.of_kind(kind):
                for declared in declared_taints(resource):
                    first.setdefault(declared.taint, declared)
        found = tuple(first.values())
        _OBSERVED[graph] = found
    return found


# -- GPU node agents and GPU node selection --------------------------------------


@dataclass(frozen=True, slots=True)
class _Agent:
    image: str
    vendor: str
    component: str


@cache
def _catalog() -> tuple[tuple[_Agent, ...], tuple[str, ...]]:
    text = (
        resources.files("kubernai")
        .joinpath("data/gpu_node_agents.json")
        .read_text("utf-8")
    )
    data = json.loads(text)
    agents = tuple(
        _Agent(item["image"], item["vendor"], item["component"])
        for item in data["agents"]
    )
    prefixes = tuple(item["prefix"] for item in data["gpu_node_labels"])
    return agents, prefixes


@cache
def gpu_agent_component(image: str) -> str:
    """The GPU node agent an image reference runs ("DCGM exporter"), or ``""``.

    The image's last path segment (tag and digest removed) must be the agent's
    image name, and the vendor segment, where the catalog has one, must appear
    in the path: ``nvcr.io/nvidia/k8s-device-plugin:v0.17.0`` is the NVIDIA
    device plugin, ``rocm/k8s-device-plugin`` is not.
    """
    name = image.split("@", 1)[0].strip().lower()
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon > slash:
        name = name[:colon]
    segments = name.split("/")
    for agent in _catalog()[0]:
        if segments[-1] == agent.image and (
            not agent.vendor or agent.vendor in segments[:-1]
        ):
            return agent.component
    return ""


@cache
def is_gpu_node_label(key: str) -> bool:
    """A node label that only GPU nodes carry (``nvidia.com/gpu.present`` ...)."""
    return key.startswith(_catalog()[1])


_NOT_SELECTED = frozenset({"", "false", "0"})


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a pod template is meant for GPU nodes, and the field that shows it."""

    what: str
    path: Path


def gpu_node_agent(template: PodTemplate) -> Evidence | None:
    """The first container that runs a known GPU node agent image, if any."""
    for container in template.containers:
        image = get_str(container.raw, "image")
        component = gpu_agent_component(image) if image else ""
        if component:
            return Evidence(f"the {component} ({image})", (*container.path, "image"))
    return None


def gpu_node_selection(template: PodTemplate) -> Evidence | None:
    """The nodeSelector entry or required node-affinity expression that picks GPU nodes.

    Only selections that pick GPU nodes count: ``In`` with a value other than
    ``false``/``0``, ``Exists`` and ``Gt``; ``NotIn`` and ``DoesNotExist`` steer
    pods away from GPU nodes.
    """
    for key, value in get_map(template.spec, "nodeSelector").items():
        if (
            isinstance(key, str)
            and is_gpu_node_label(key)
            and _text(value).lower() not in _NOT_SELECTED
        ):
            return Evidence(
                f"pods for GPU nodes (nodeSelector {key}={_text(value)})",
                template.field_path("nodeSelector", key),
            )
    terms: Path = (
        "affinity",
        "nodeAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
        "nodeSelectorTerms",
    )
    for term_index, term in iter_maps(template.spec, *terms):
        for index, expression in iter_maps(term, "matchExpressions"):
            key = get_str(expression, "key")
            if not key or not is_gpu_node_label(key):
                continue
            operator = get_str(expression, "operator")
            values = {_text(v).lower() for v in get_list(expression, "values")}
            if operator in ("Exists", "Gt") or (
                operator == "In" and values - _NOT_SELECTED
            ):
                return Evidence(
                    f"pods for GPU nodes (node affinity {key} {operator})",
                    template.field_path(
                        *terms, term_index, "matchExpressions", index, "key"
                    ),
                )
    return None


# -- the pods cpu-pod-tolerates-gpu-taint reports ----------------------------------


def squatting_toleration(
    resource: Resource, template: PodTemplate, taint: Taint
) -> Toleration | None:
    """The toleration by which a CPU-only pod may land on tainted GPU nodes, or None.

    Same conditions as the rule ``cpu-pod-tolerates-gpu-taint``: not a
    DaemonSet, a complete template with containers, no accelerator asked for
    (spelled right or wrong), no node selection, and a toleration that matches
    ``taint``, which must not be ``PreferNoSchedule``.
    """
    if resource.kind == "DaemonSet" or taint.effect == "PreferNoSchedule":
        return None
    if not template.complete or not template.containers:
        return None
    if requests_accelerator(template) or node_selector_keys(template):
        return None
    if any(misspelled_accelerator(n) for c in template.containers for n in c.names):
        return None
    for toleration in tolerations(template):
        if toleration.tolerates(taint):
            return toleration
    return None
