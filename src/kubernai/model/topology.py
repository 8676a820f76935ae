"""Where pods land relative to each other: topology keys, pod (anti-)affinity, spread.

A pod template places its pods with three kinds of topology terms, each naming
a node label (``topologyKey``) whose values are the domains:

- ``affinity.podAffinity`` / ``podAntiAffinity`` terms, required or preferred;
- ``topologySpreadConstraints``, ``DoNotSchedule`` (a filter) or
  ``ScheduleAnyway`` (a score).

How the scheduler treats a node that lacks the key (kubernetes
``pkg/scheduler/framework/plugins/interpodaffinity/filtering.go`` and
``podtopologyspread/filtering.go``): a required podAffinity term and a
``DoNotSchedule`` constraint reject it ("All topology labels must exist on the
node"; ``missing required label``); a required podAntiAffinity term, a
preferred term and a ``ScheduleAnyway`` constraint ignore it.

Selectors: a nil ``labelSelector`` selects no pods and an empty one all pods
(apimachinery ``LabelSelectorAsSelector``). Pods carry labels their
controller adds besides the template's own (``training.kubeflow.org/job-name``,
``jobset.sigs.k8s.io/jobset-name``...); :func:`selects_own_pods` knows them
from ``data/topology.json``, where every catalog value names its source.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from kubernai.model.graph import ObjectGraph
from kubernai.model.quantity import parse_count
from kubernai.model.resource import (
    Path,
    Resource,
    get_map,
    get_path,
    get_str,
    is_placeholder,
    iter_maps,
)
from kubernai.model.workload import PodTemplate

HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
ZONE_KEYS = frozenset({ZONE, "failure-domain.beta.kubernetes.io/zone"})
REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"
DO_NOT_SCHEDULE = "DoNotSchedule"
SCHEDULE_ANYWAY = "ScheduleAnyway"

TRAINING_KINDS = frozenset(
    {
        ("kubeflow.org", "PyTorchJob"),
        ("kubeflow.org", "TFJob"),
        ("kubeflow.org", "MPIJob"),
        ("kubeflow.org", "PaddleJob"),
        ("kubeflow.org", "XGBoostJob"),
        ("kubeflow.org", "JAXJob"),
        ("trainer.kubeflow.org", "TrainingRuntime"),
        ("trainer.kubeflow.org", "ClusterTrainingRuntime"),
        ("jobset.x-k8s.io", "JobSet"),
        ("batch.volcano.sh", "Job"),
    }
)
"""Kinds whose pods are ranks of one tightly coupled job (collectives over NCCL)."""

MULTI_NODE_KINDS = TRAINING_KINDS | {("leaderworkerset.x-k8s.io", "LeaderWorkerSet")}
"""Training kinds plus LeaderWorkerSet (one model sharded across a group's pods)."""

# Whole-device accelerator resources: a node has a fixed number of them.
_WHOLE_DEVICES = frozenset(
    {
        "nvidia.com/gpu",
        "amd.com/gpu",
        "gpu.intel.com/i915",
        "gpu.intel.com/xe",
        "habana.ai/gaudi",
        "aws.amazon.com/neuron",
        "google.com/tpu",
    }
)


@cache
def _catalog() -> dict[str, Any]:
    text = resources.files("kubernai").joinpath("data/topology.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


# -- topology terms ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TopologyTerm:
    """One pod (anti-)affinity term or topology spread constraint of a template.

    ``required`` is True for required (anti-)affinity terms and for spread
    constraints with ``whenUnsatisfiable: DoNotSchedule``.
    """

    path: Path
    raw: Mapping[str, Any]
    source: str
    required: bool
    index: int

    @property
    def key(self) -> str:
        """The ``topologyKey``, or ``""`` when missing or not a string."""
        return get_str(self.raw, "topologyKey")

    @property
    def key_path(self) -> Path:
        """Path of the ``topologyKey`` field."""
        return (*self.path, "topologyKey")

    @property
    def selector(self) -> Any:
        """The ``labelSelector`` as written (``None`` when absent)."""
        return self.raw.get("labelSelector")

    @property
    def spread(self) -> bool:
        """Whether this is a topology spread constraint."""
        return self.source == "topologySpreadConstraints"

    @property
    def anti(self) -> bool:
        """Whether this is a podAntiAffinity term."""
        return self.source == "podAntiAffinity"

    @property
    def filters_nodes_without_key(self) -> bool:
        """Whether a node lacking the key is rejected (not merely ignored)."""
        if self.spread:
            return self.required
        return self.required and not self.anti

    @property
    def when_unsatisfiable(self) -> str:
        """A spread constraint's ``whenUnsatisfiable``, else ``""``."""
        return get_str(self.raw, "whenUnsatisfiable")

    @property
    def max_skew(self) -> int | None:
        """A spread constraint's integer ``maxSkew``, else ``None``."""
        value = self.raw.get("maxSkew")
        return value if type(value) is int else None

    @property
    def label(self) -> str:
        """How messages name the term."""
        if self.spread:
            when = self.when_unsatisfiable or "no whenUnsatisfiable"
            return f"topologySpreadConstraints[{self.index}] ({when})"
        strength = "required" if self.required else "preferred"
        return f"{strength} {self.source} term [{self.index}]"


def topology_terms(template: PodTemplate) -> Iterator[TopologyTerm]:
    """Every pod (anti-)affinity term and spread constraint of the template."""
    spec = template.spec
    affinity = get_map(spec, "affinity")
    for source in ("podAffinity", "podAntiAffinity"):
        block = get_map(affinity, source)
        if not block:
            continue
        for index, term in iter_maps(block, REQUIRED):
            yield TopologyTerm(
                path=template.field_path("affinity", source, REQUIRED, index),
                raw=term,
                source=source,
                required=True,
                index=index,
            )
        for index, weighted in iter_maps(block, PREFERRED):
            term = get_map(weighted, "podAffinityTerm")
            if term:
                yield TopologyTerm(
                    path=template.field_path(
                        "affinity", source, PREFERRED, index, "podAffinityTerm"
                    ),
                    raw=term,
                    source=source,
                    required=False,
                    index=index,
                )
    for index, constraint in iter_maps(spec, "topologySpreadConstraints"):
        yield TopologyTerm(
            path=template.field_path("topologySpreadConstraints", index),
            raw=constraint,
            source="topologySpreadConstraints",
            required=get_str(constraint, "whenUnsatisfiable") == DO_NOT_SCHEDULE,
            index=index,
        )


def has_topology_terms(template: PodTemplate) -> bool:
    """Cheap test: does the template set pod affinity or spread constraints?"""
    spec = template.spec
    if spec.get("topologySpreadConstraints"):
        return True
    if spec.get("affinity") is None:
        return False
    affinity = get_map(spec, "affinity")
    return bool(affinity.get("podAffinity") or affinity.get("podAntiAffinity"))


# -- topology keys -----------------------------------------------------------


def is_templated(key: str) -> bool:
    """A key left for a templating step (``{{ .Values.key }}``, ``$KEY``)."""
    return is_placeholder(key) or "{" in key


@cache
def misspelled_topology_key(key: str) -> str | None:
    """The well-known node label ``key`` was probably meant to be, or ``None``.

    Only clear slips are reported: a key within two edits (or a case change)
    of ``kubernetes.io/hostname``, ``topology.kubernetes.io/zone`` or
    ``topology.kubernetes.io/region``; a bare ``hostname``; or a
    ``*kubernetes.io/`` key named ``hostname``, ``zone`` or ``region`` that
    Kubernetes never sets (``kubernetes.io/zone``).
    """
    catalog = _catalog()
    if (
        not key
        or len(key) > 80
        or key in catalog["well_known_keys"]
        or key in catalog["deprecated_keys"]
        or is_templated(key)
    ):
        return None
    lowered = key.lower().strip()
    if lowered == "hostname":
        return HOSTNAME
    wanted: tuple[str, ...] = tuple(catalog["well_known_keys"])
    for candidate in wanted:
        if _distance(lowered, candidate) <= 2:
            return candidate
    domain, _, name = lowered.rpartition("/")
    if domain.endswith(("kubernetes.io", "k8s.io")):
        for candidate in wanted:
            if candidate.rpartition("/")[2] == name:
                return candidate
    return None


def deprecated_topology_key(key: str) -> str | None:
    """The GA replacement of a deprecated beta label key, or ``None``."""
    entry = _catalog()["deprecated_keys"].get(key)
    return None if entry is None else str(entry["replacement"])


def set_by_kubelet(key: str) -> bool:
    """Keys the kubelet puts on every node (a hand-written Node may omit them)."""
    return key in _catalog()["kubelet_keys"]["keys"]


def _distance(a: str, b: str) -> int:
    """Levenshtein distance."""
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


# -- nodes in the input ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeLabels:
    """Label keys over the Nodes of the input."""

    count: int
    keys: frozenset[str]


@dataclass(frozen=True, slots=True)
class EligibleNode:
    """A Node of the input with its capacity of one resource (0 when absent)."""

    node: Resource
    devices: int


class _NodeIndex:
    """The Nodes of one input, read once; eligibility answers are memoised."""

    def __init__(self, graph: ObjectGraph) -> None:
        self.nodes = graph.of_kind("Node")
        keys = {k for node in self.nodes for k in node.labels if isinstance(k, str)}
        self.labels = NodeLabels(len(self.nodes), frozenset(keys))
        self._capacity: dict[tuple[int, str], int] = {}
        self._eligible: dict[tuple[str, str | None], tuple[EligibleNode, ...]] = {}
        self._domains: dict[tuple[tuple[str, str | None], str], int] = {}

    def capacity(self, position: int, name: str) -> int:
        found = self._capacity.get((position, name))
        if found is None:
            found = _node_capacity(self.nodes[position], name) or 0
            self._capacity[(position, name)] = found
        return found

    def domain_count(
        self, selector: Mapping[str, Any], name: str | None, key: str
    ) -> int:
        memo = (self._memo(selector, name), key)
        found = self._domains.get(memo)
        if found is None:
            nodes = self.eligible(selector, name)
            found = len({n.node.labels.get(key) for n in nodes} - {None})
            self._domains[memo] = found
        return found

    @staticmethod
    def _memo(selector: Mapping[str, Any], name: str | None) -> tuple[str, str | None]:
        return repr(sorted(selector.items(), key=repr)), name

    def eligible(
        self, selector: Mapping[str, Any], name: str | None
    ) -> tuple[EligibleNode, ...]:
        memo = self._memo(selector, name)
        found = self._eligible.get(memo)
        if found is None:
            matches = []
            for position, node in enumerate(self.nodes):
                labels = node.labels
                if any(labels.get(k) != v for k, v in selector.items()):
                    continue
                devices = self.capacity(position, name) if name is not None else 0
                if name is not None and devices <= 0:
                    continue
                matches.append(EligibleNode(node, devices))
            found = tuple(matches)
            self._eligible[memo] = found
        return found


_NODE_INDEX: weakref.WeakKeyDictionary[ObjectGraph, _NodeIndex | None] = (
    weakref.WeakKeyDictionary()
)


def domain_count(
    template: PodTemplate, graph: ObjectGraph, resource_name: str | None, key: str
) -> int:
    """Distinct values of label ``key`` over the template's eligible Nodes."""
    index = _node_index(graph)
    if index is None:
        return 0
    selector = get_map(template.spec, "nodeSelector")
    return index.domain_count(selector, resource_name, key)


def _node_index(graph: ObjectGraph) -> _NodeIndex | None:
    if graph in _NODE_INDEX:
        return _NODE_INDEX[graph]
    index = _NodeIndex(graph) if graph.of_kind("Node") else None
    _NODE_INDEX[graph] = index
    return index


def node_labels(graph: ObjectGraph) -> NodeLabels | None:
    """Label keys carried by any Node of the input; ``None`` when it has no Node."""
    index = _node_index(graph)
    return None if index is None else index.labels


def _node_capacity(node: Resource, name: str) -> int | None:
    for section in ("allocatable", "capacity"):
        value = parse_count(get_path(node.raw, "status", section, name))
        if value is not None:
            return value
    return None


def eligible_nodes(
    template: PodTemplate, graph: ObjectGraph, resource_name: str | None
) -> tuple[EligibleNode, ...]:
    """Nodes of the input that match the template's ``nodeSelector``.

    With ``resource_name``, only Nodes that advertise that resource count.
    Required node affinity is not evaluated.
    """
    index = _node_index(graph)
    if index is None:
        return ()
    return index.eligible(get_map(template.spec, "nodeSelector"), resource_name)


# -- which pods a selector selects -----------------------------------------------

_UNKNOWN = object()
_ABSENT = object()


def _controller_labels(resource: Resource) -> list[Mapping[str, Any]]:
    table = _catalog()["controller_pod_labels"]
    entries = [table["*"]]
    own = table.get(f"{resource.group}/{resource.kind}")
    if own is not None:
        entries.append(own)
    return entries


def _pod_label(resource: Resource, template: PodTemplate, key: str) -> object:
    """The value of label ``key`` on the template's pods (or a marker)."""
    if key in template.labels:
        value = template.labels[key]
        return _text(value)
    for entry in _controller_labels(resource):
        source = entry["labels"].get(key)
        if source == "name":
            return resource.name or _UNKNOWN
        if source == "role":
            return template.role or _UNKNOWN
        if source == "role-lower":
            return template.role.lower() or _UNKNOWN
        if key in entry["unknown"] or key.startswith(tuple(entry["prefixes"])):
            return _UNKNOWN
    return _ABSENT


def _text(value: Any) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return _UNKNOWN


def selects_own_pods(
    resource: Resource, template: PodTemplate, selector: Any
) -> bool | None:
    """Whether a labelSelector selects the template's own pods.

    Counts the labels the workload's controller adds. ``None`` when it
    depends on a label value not known from the manifest, or the selector is
    malformed. A missing (``None``) selector selects nothing.
    """
    if selector is None:
        return False
    if not isinstance(selector, Mapping):
        return None
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not isinstance(match_labels, Mapping) or not isinstance(expressions, list):
        return None
    unknown = False
    for key, want in match_labels.items():
        if not isinstance(key, str) or is_templated(key):
            return None
        have = _pod_label(resource, template, key)
        wanted = _text(want)
        if have is _UNKNOWN or wanted is _UNKNOWN or is_placeholder(wanted):
            unknown = True
        elif have != wanted:
            return False
    for expression in expressions:
        if not isinstance(expression, Mapping):
            return None
        result = _expression_matches(resource, template, expression)
        if result is False:
            return False
        unknown = unknown or result is None
    return None if unknown else True


def _expression_matches(
    resource: Resource, template: PodTemplate, expression: Mapping[str, Any]
) -> bool | None:
    key = get_str(expression, "key")
    operator = get_str(expression, "operator")
    if not key or is_templated(key):
        return None
    have = _pod_label(resource, template, key)
    if operator in ("Exists", "DoesNotExist"):
        if have is _UNKNOWN:
            return None if operator == "DoesNotExist" else True
        present = have is not _ABSENT
        return present if operator == "Exists" else not present
    raw_values = expression.get("values")
    if operator not in ("In", "NotIn") or not isinstance(raw_values, list):
        return None
    values = {_text(v) for v in raw_values}
    if have is _UNKNOWN or _UNKNOWN in values:
        return None
    if any(is_placeholder(v) for v in values):
        return None
    inside = have is not _ABSENT and have in values
    return inside if operator == "In" else not inside


def pods_selected(
    resource: Resource, selector: Any, *, device: str | None = None
) -> int | None:
    """How many pods of the workload the selector selects; ``None`` if unknown.

    With ``device``, only pods that request that accelerator resource count.
    """
    total = 0
    for template in resource.templates:
        selected = selects_own_pods(resource, template, selector)
        if selected is None:
            return None
        if not selected:
            continue
        if device is not None:
            devices = pod_devices(template)
            if devices is None or devices.resource_name != device:
                continue
        if template.replicas is None:
            return None
        total += template.replicas
    return total


# -- GPUs per pod and per node ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class PodDevices:
    """Whole accelerator devices one pod of a template asks for."""

    resource_name: str
    count: int


def pod_devices(template: PodTemplate) -> PodDevices | None:
    """The whole-device accelerator one pod requests, with the per-pod count.

    Follows the effective pod request: the sum over app containers, or the
    largest init container if that is larger; a limit without a request
    counts as the request. ``None`` when no container asks for one, when
    the count is not a plain number, or when a pod asks for two kinds.
    """
    names = {
        name
        for container in template.containers
        for name in container.names
        if name in _WHOLE_DEVICES
    }
    if len(names) != 1:
        return None
    name = names.pop()
    regular = 0
    largest_init = 0
    for container in template.containers:
        value = container.requests.get(name)
        if value is None:
            value = container.limits.get(name)
        if value is None:
            continue
        count = parse_count(value)
        if count is None:
            return None
        if container.init and get_str(container.raw, "restartPolicy") != "Always":
            largest_init = max(largest_init, count)
        else:
            regular += count
    total = max(regular, largest_init)
    return PodDevices(name, total) if total > 0 else None


@dataclass(frozen=True, slots=True)
class NodeDevices:
    """How many devices a node that the template targets has, and how we know."""

    count: int
    basis: str


def selected_values(template: PodTemplate, key: str) -> tuple[str, ...]:
    """Values a template requires for node label ``key``.

    From ``nodeSelector``, else from the single term of required node
    affinity with an ``In`` expression; ``()`` when not constrained.
    """
    value = get_map(template.spec, "nodeSelector").get(key)
    if isinstance(value, str):
        return (value,)
    terms = get_path(
        template.spec, "affinity", "nodeAffinity", REQUIRED, "nodeSelectorTerms"
    )
    if not isinstance(terms, list) or len(terms) != 1:
        return ()
    for _, expression in iter_maps(terms[0], "matchExpressions"):
        if (
            get_str(expression, "key") == key
            and get_str(expression, "operator") == "In"
        ):
            values = expression.get("values")
            if isinstance(values, list) and all(isinstance(v, str) for v in values):
                return tuple(values)
    return ()


def _instance_gpus(instance_type: str) -> int | None:
    catalog = _catalog()
    table = catalog["instance_type_gpus"]
    entry = table.get(instance_type)
    prefix = catalog["sagemaker_prefix"]["prefix"]
    if entry is None and instance_type.startswith(prefix):
        entry = table.get(instance_type[len(prefix) :])
    return None if entry is None else int(entry["gpus"])


def node_devices(
    template: PodTemplate, graph: ObjectGraph, resource_name: str
) -> NodeDevices | None:
    """Devices per node on the nodes the template targets, when known.

    From the input's Nodes that match the ``nodeSelector`` and advertise the
    resource (the smallest ``allocatable``), else, for ``nvidia.com/gpu``, from
    a node selector on a GPU-count label (``nvidia.com/gpu.count``,
    ``karpenter.k8s.aws/instance-gpu-count``) or on a known instance type.
    """
    nodes = eligible_nodes(template, graph, resource_name)
    if nodes:
        count = min(n.devices for n in nodes)
        plural = "Node" if len(nodes) == 1 else "Nodes"
        return NodeDevices(
            count, f"the input's {len(nodes)} {plural} with {resource_name}"
        )
    if resource_name != "nvidia.com/gpu":
        return None
    catalog = _catalog()
    for key in catalog["gpu_count_labels"]:
        values = selected_values(template, key)
        parsed = [parse_count(v) for v in values]
        counts = [c for c in parsed if c is not None and c > 0]
        if counts and len(counts) == len(parsed):
            count = min(counts)
            return NodeDevices(count, f"nodes with {key}={','.join(values)}")
    for key in catalog["instance_type_labels"]["keys"]:
        values = selected_values(template, key)
        gpus = [_instance_gpus(v) for v in values]
        if gpus and all(g is not None for g in gpus):
            count = min(g for g in gpus if g is not None)
            return NodeDevices(count, f"nodes with {key}={','.join(values)}")
    return None


def pins_one_zone(template: PodTemplate) -> bool:
    """Whether node selection already confines the pods to a single zone."""
    return any(len(selected_values(template, key)) == 1 for key in ZONE_KEYS)
