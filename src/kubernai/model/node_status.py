"""A Node as the cluster reports it: device counts, taints, cordon, upgrade state.

Sources:
- device counts: the kubelet's device manager reports every registered device
  in ``status.capacity[<resource>]`` and only the healthy ones in
  ``status.allocatable[<resource>]``; after a kubelet restart both read 0 until
  the device plugin registers again (kubernetes
  ``pkg/kubelet/cm/devicemanager/manager.go``, ``GetCapacity``);
- ``nvidia.com/gpu.count``: the GPU count label of GPU Feature Discovery
  (NVIDIA/k8s-device-plugin ``docs/gpu-feature-discovery/README.md``);
- the driver upgrade state label ``nvidia.com/gpu-driver-upgrade-state`` (the
  GPU Operator sets the driver name ``gpu`` in ``nvidia.com/%s-driver-upgrade-
  state``) with its states, and the annotation
  ``nvidia.com/gpu-driver-upgrade-wait-for-pod-completion-start-time`` holding
  Unix seconds (NVIDIA/k8s-operator-libs ``pkg/upgrade/consts.go``,
  ``pkg/upgrade/util.go``; NVIDIA/gpu-operator ``cmd/gpu-operator/main.go``
  ``upgrade.SetDriverName("gpu")``);
- control-plane node role labels ``node-role.kubernetes.io/control-plane`` and
  the older ``node-role.kubernetes.io/master`` (kubeadm).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernai.model.events import parse_timestamp
from kubernai.model.gpu import is_accelerator, is_nvidia_gpu
from kubernai.model.graph import ObjectGraph
from kubernai.model.quantity import parse_count
from kubernai.model.resource import (
    Path,
    Resource,
    get_list,
    get_map,
    get_path,
    iter_maps,
)

GPU_COUNT_LABEL = "nvidia.com/gpu.count"
UPGRADE_STATE_LABEL = "nvidia.com/gpu-driver-upgrade-state"
UPGRADE_FAILED = "upgrade-failed"
UPGRADE_WAITING_FOR_JOBS = "wait-for-jobs-required"
WAIT_START_ANNOTATION = (
    "nvidia.com/gpu-driver-upgrade-wait-for-pod-completion-start-time"
)
CONTROL_PLANE_LABELS = (
    "node-role.kubernetes.io/control-plane",
    "node-role.kubernetes.io/master",
)


def is_node(resource: Resource) -> bool:
    """A core/v1 Node."""
    return resource.kind == "Node" and not resource.group


@dataclass(frozen=True, slots=True)
class DeviceCount:
    """One device resource of a Node: all registered and healthy."""

    name: str
    capacity: int | None
    allocatable: int | None


def device_counts(node: Resource) -> Iterator[DeviceCount]:
    """The Node's accelerator resources in ``status.capacity``/``allocatable``."""
    capacity = get_map(node.raw, "status", "capacity")
    allocatable = get_map(node.raw, "status", "allocatable")
    names = (n for n in (*capacity, *allocatable) if isinstance(n, str))
    for name in dict.fromkeys(names):
        if is_accelerator(name):
            yield DeviceCount(
                name,
                parse_count(capacity.get(name)),
                parse_count(allocatable.get(name)),
            )


def nvidia_gpus(node: Resource) -> int:
    """Registered NVIDIA GPUs (MIG and shared names included) of the Node."""
    return sum((d.capacity or 0) for d in device_counts(node) if is_nvidia_gpu(d.name))


def is_control_plane(node: Resource) -> bool:
    """Whether the Node carries a control-plane role label."""
    return any(label in node.labels for label in CONTROL_PLANE_LABELS)


def is_cordoned(node: Resource) -> bool:
    """``spec.unschedulable: true``."""
    return get_path(node.raw, "spec", "unschedulable") is True


@dataclass(frozen=True, slots=True)
class NodeTaint:
    """One ``spec.taints[]`` entry."""

    path: Path
    key: str
    value: str
    effect: str


def node_taints(node: Resource) -> Iterator[NodeTaint]:
    """The Node's taints; entries without a key are skipped."""
    for index, raw in iter_maps(node.raw, "spec", "taints"):
        key = raw.get("key")
        if not isinstance(key, str) or not key:
            continue
        value = raw.get("value")
        effect = raw.get("effect")
        yield NodeTaint(
            path=("spec", "taints", index),
            key=key,
            value=value if isinstance(value, str) else "",
            effect=effect if isinstance(effect, str) else "",
        )


def last_heartbeat(node: Resource) -> datetime | None:
    """When the kubelet last reported the ``Ready`` condition."""
    for _, raw in iter_maps(node.raw, "status", "conditions"):
        if raw.get("type") == "Ready":
            return parse_timestamp(raw.get("lastHeartbeatTime"))
    return None


def unix_time(value: object) -> datetime | None:
    """A Unix-seconds annotation value as an aware datetime."""
    seconds = parse_count(value) if isinstance(value, str | int) else None
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def is_cpu_worker(node: Resource) -> bool:
    """A worker Node whose reported capacity holds no accelerator at all."""
    capacity = get_map(node.raw, "status", "capacity")
    return (
        is_node(node)
        and bool(capacity)
        and not any(True for _ in device_counts(node))
        and GPU_COUNT_LABEL not in node.labels
        and not is_control_plane(node)
    )


def cpu_worker_exists(graph: ObjectGraph) -> bool:
    """Whether the input has a worker Node without accelerators (computed once)."""
    return graph.derived(
        "cpu-worker-node", lambda g: any(is_cpu_worker(n) for n in g.of_kind("Node"))
    )


GPU_MODEL_LABELS = (
    "nvidia.com/gpu.product",
    "cloud.google.com/gke-accelerator",
    "karpenter.k8s.aws/instance-gpu-name",
    "eks.amazonaws.com/instance-gpu-name",
)
"""Node labels naming the GPU model (see ``model/node_labels.py``)."""


def gpu_label_values(graph: ObjectGraph) -> dict[str, dict[str, int]]:
    """For each GPU model label, its values on the input's Nodes with counts."""

    def build(g: ObjectGraph) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        for node in g.of_kind("Node"):
            if not is_node(node):
                continue
            for key in GPU_MODEL_LABELS:
                value = node.labels.get(key)
                if isinstance(value, str) and value:
                    counts = found.setdefault(key, {})
                    counts[value] = counts.get(value, 0) + 1
        return found

    return graph.derived("node-gpu-model-labels", build)


def _expression_holds(labels: Mapping[str, Any], expression: Mapping[str, Any]) -> bool:
    key = expression.get("key")
    operator = expression.get("operator")
    values = [str(v) for v in get_list(expression, "values")]
    value = labels.get(key) if isinstance(key, str) else None
    text = None if value is None else str(value)
    if operator == "In":
        return text in values
    if operator == "NotIn":
        return text not in values
    if operator == "Exists":
        return text is not None
    if operator == "DoesNotExist":
        return text is None
    if operator in ("Gt", "Lt") and text is not None and values:
        mine, bound = parse_count(text), parse_count(values[0])
        if mine is None or bound is None:
            return False
        return mine > bound if operator == "Gt" else mine < bound
    return True  # an operator this reader does not know: do not exclude


def selects_node(spec: Mapping[str, Any], node: Resource) -> bool:
    """Whether a pod spec's ``nodeSelector`` and required node affinity allow ``node``.

    Only label expressions are read (``matchFields`` are ignored, which can
    only let more nodes through).
    """
    labels = node.labels
    selector = spec.get("nodeSelector")
    if isinstance(selector, Mapping):
        for key, value in selector.items():
            have = labels.get(key)
            if have is None or str(have) != str(value):
                return False
    terms = get_path(
        spec,
        "affinity",
        "nodeAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
        "nodeSelectorTerms",
    )
    if not isinstance(terms, list) or not terms:
        return True
    for term in terms:
        if not isinstance(term, Mapping):
            continue
        expressions = [e for _, e in iter_maps(term, "matchExpressions")]
        if all(_expression_holds(labels, e) for e in expressions):
            return True
    return False
