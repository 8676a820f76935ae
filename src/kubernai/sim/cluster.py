r"""The cluster state as numpy arrays: one row per node, one column per resource.

Nodes are kept in the order kube-scheduler's snapshot lists them
(``internal/cache/node_tree.go``): zones (``region:\\x00:zone``) in order of
first appearance, taking one node from each zone in turn. That order decides
where the adaptive ``percentageOfNodesToScore`` search starts and stops.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from kubernai.model.gpu import Taint
from kubernai.model.selector import selector_matches
from kubernai.sim.nodes import REGION, ZONE, NodeInfo
from kubernai.sim.pods import HostPort, SimPod
from kubernai.sim.requests import CPU, EPHEMERAL_STORAGE, MEMORY, PODS

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
BASE_RESOURCES = (CPU, MEMORY, EPHEMERAL_STORAGE, PODS)
CPU_COL, MEMORY_COL, STORAGE_COL, PODS_COL = 0, 1, 2, 3
_MISSING = -1


def zone_key(labels: Mapping[str, str]) -> str:
    r"""``utilnode.GetZoneKey``: ``region:\\x00:zone``, ``""`` when both are unset."""
    region, zone = labels.get(REGION, ""), labels.get(ZONE, "")
    if not region and not zone:
        return ""
    return f"{region}:\x00:{zone}"


def tree_order(nodes: list[NodeInfo]) -> list[NodeInfo]:
    """The node tree's listing order: round-robin over zones."""
    zones: dict[str, list[NodeInfo]] = {}
    for node in nodes:
        zones.setdefault(zone_key(node.labels), []).append(node)
    ordered: list[NodeInfo] = []
    lists = list(zones.values())
    depth = max((len(z) for z in lists), default=0)
    for index in range(depth):
        ordered.extend(z[index] for z in lists if index < len(z))
    return ordered


LabelClass = tuple[str, frozenset[tuple[str, str]]]


class Cluster:
    """Nodes, their allocatable and requested resources, and the pods bound to them."""

    def __init__(self, nodes: list[NodeInfo], resources: Iterable[str] = ()) -> None:
        ordered = tree_order(nodes)
        self.nodes = ordered
        self.names = [n.name for n in ordered]
        self.index = {name: i for i, name in enumerate(self.names)}
        self.n = len(ordered)
        scalars = {r for n in ordered for r in n.allocatable} | set(resources)
        scalars -= set(BASE_RESOURCES)
        self.resources: list[str] = [*BASE_RESOURCES, *sorted(scalars)]
        self.col = {name: i for i, name in enumerate(self.resources)}
        self.alloc: IntArray = np.zeros((self.n, len(self.resources)), np.int64)
        for row, node in enumerate(ordered):
            for name, value in node.allocatable.items():
                self.alloc[row, self.col[name]] = value
        self.used: IntArray = np.zeros_like(self.alloc)
        self.free_by_resource: IntArray = self.alloc.T.copy()
        """Allocatable minus requested, one contiguous row per resource."""
        self.nonzero_used: IntArray = np.zeros((self.n, 2), np.int64)
        self.unschedulable: BoolArray = np.array(
            [n.unschedulable for n in ordered], dtype=bool
        )
        taint_ids: dict[tuple[Taint, ...], int] = {}
        self.taint_class = np.array(
            [taint_ids.setdefault(n.taints, len(taint_ids)) for n in ordered],
            dtype=np.int32,
        )
        self.taint_sets: list[tuple[Taint, ...]] = list(taint_ids)
        self.pods_on: list[list[SimPod]] = [[] for _ in ordered]
        self.ports: dict[int, list[tuple[int, HostPort]]] = {}
        self.label_counts: dict[LabelClass, dict[int, int]] = {}
        """Bound pods by namespace and label set: node row → count (sparse)."""
        self.with_affinity: list[SimPod] = []
        """Bound pods that carry pod (anti-)affinity terms."""
        self.by_priority: dict[int, tuple[IntArray, IntArray]] = {}
        """Per pod priority: the requests (N×R) and pod count (N) of bound pods."""
        self._label_codes: dict[str, tuple[npt.NDArray[np.int32], dict[str, int]]] = {}
        self._label_ints: dict[str, npt.NDArray[np.float64]] = {}
        self.has_images = any(n.images for n in ordered)
        self.generation = 0
        """Bumped on every bind and removal (cache invalidation)."""

    # -- labels, vectorised ------------------------------------------------------

    def label_codes(self, key: str) -> tuple[npt.NDArray[np.int32], dict[str, int]]:
        """Per node, the code of label ``key``'s value (-1: unset), and the codes."""
        found = self._label_codes.get(key)
        if found is None:
            codes: dict[str, int] = {}
            values = np.fromiter(
                (
                    codes.setdefault(n.labels[key], len(codes))
                    if key in n.labels
                    else _MISSING
                    for n in self.nodes
                ),
                dtype=np.int32,
                count=self.n,
            )
            found = self._label_codes[key] = (values, codes)
        return found

    def label_ints(self, key: str) -> npt.NDArray[np.float64]:
        """Per node, label ``key`` parsed as an integer; NaN when unset or not one."""
        found = self._label_ints.get(key)
        if found is None:
            found = np.full(self.n, np.nan)
            for row, node in enumerate(self.nodes):
                value = node.labels.get(key)
                if value is not None and _is_int(value):
                    found[row] = int(value)
            self._label_ints[key] = found
        return found

    # -- binding -------------------------------------------------------------------

    def request_vector(self, pod: SimPod) -> tuple[npt.NDArray[np.intp], IntArray]:
        """Column indices and amounts of the pod's real requests (cached per shape)."""
        cached = pod.shape.cache.get("request_vector")
        if cached is None:
            items = [(self.col[n], v) for n, v in pod.shape.request.real.items()]
            cols = np.array([c for c, _ in items], dtype=np.intp)
            amounts = np.array([v for _, v in items], dtype=np.int64)
            cached = pod.shape.cache["request_vector"] = (cols, amounts)
        return cached

    def bind(self, pod: SimPod, row: int) -> None:
        """Account the pod on node ``row``."""
        self._apply(pod, row, 1)
        pod.node = row
        self.pods_on[row].append(pod)
        for port in pod.shape.host_ports:
            self.ports.setdefault(port.port, []).append((row, port))

    def unbind(self, pod: SimPod) -> None:
        """Remove a bound pod (preempted)."""
        row = pod.node
        self._apply(pod, row, -1)
        self.pods_on[row].remove(pod)
        for port in pod.shape.host_ports:
            self.ports[port.port].remove((row, port))
        pod.node = -1

    def _apply(self, pod: SimPod, row: int, sign: int) -> None:
        cols, amounts = self.request_vector(pod)
        if len(cols):
            self.used[row, cols] += sign * amounts
            self.free_by_resource[cols, row] -= sign * amounts
        self.used[row, PODS_COL] += sign
        self.free_by_resource[PODS_COL, row] -= sign
        request = pod.shape.request
        self.nonzero_used[row, 0] += sign * request.nonzero_cpu
        self.nonzero_used[row, 1] += sign * request.nonzero_memory
        level = self.by_priority.get(pod.priority)
        if level is None:
            level = self.by_priority[pod.priority] = (
                np.zeros_like(self.alloc),
                np.zeros(self.n, np.int64),
            )
        if len(cols):
            level[0][row, cols] += sign * amounts
        level[0][row, PODS_COL] += sign
        level[1][row] += sign
        key = pod.label_key
        if key is None:
            key = pod.label_key = label_class(pod)
        counts = self.label_counts.setdefault(key, {})
        left = counts.get(row, 0) + sign
        if left:
            counts[row] = left
        else:
            counts.pop(row, None)
        if pod.shape.has_pod_affinity:
            if sign > 0:
                self.with_affinity.append(pod)
            else:
                self.with_affinity.remove(pod)
        self.generation += 1

    def matching_counts(
        self, selector: Mapping[str, Any] | None, namespaces: frozenset[str] | None
    ) -> IntArray:
        """Per node, the bound pods a label selector matches in ``namespaces``.

        ``None`` namespaces: all. A ``None`` selector matches nothing.
        """
        counts = np.zeros(self.n, np.int64)
        if selector is None:
            return counts
        for (namespace, labels), rows in self.label_counts.items():
            if not rows or (namespaces is not None and namespace not in namespaces):
                continue
            if selector_matches(selector, dict(labels)) is not True:
                continue
            for row, count in rows.items():
                counts[row] += count
        return counts

    def lower_priority(self, priority: int) -> tuple[IntArray, IntArray]:
        """Requests (N×R) and count (N) of the bound pods below ``priority``."""
        used = np.zeros_like(self.alloc)
        count = np.zeros(self.n, np.int64)
        for level, (level_used, level_count) in self.by_priority.items():
            if level < priority:
                used += level_used
                count += level_count
        return used, count

    def free(self) -> IntArray:
        """Allocatable minus requested, per node and resource."""
        return self.alloc - self.used


def label_class(pod: SimPod) -> LabelClass:
    """The pod's namespace and labels, the key pods are counted by for spreading."""
    return (
        pod.namespace,
        frozenset((str(k), _label_text(v)) for k, v in pod.labels.items()),
    )


def _label_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _is_int(value: str) -> bool:
    text = value[1:] if value[:1] in "+-" else value
    return text.isdigit() and len(text) < 19
