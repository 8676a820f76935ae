"""The filter plugins of the default profile, each node's first failure, vectorised.

Per node the plugins run in profile order and stop at the first one that
fails (``RunFilterPlugins``): NodeUnschedulable, NodeName, TaintToleration,
NodeAffinity, NodePorts, NodeResourcesFit, PodTopologySpread,
InterPodAffinity. The volume plugins pass (the simulator has no volumes).

The first four depend only on the node and the pod spec; their result is
kept on the pod's shape. The others read the current usage.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kubernai.sim import messages as msg
from kubernai.sim.affinity import added_mask, prefilter_names, required_mask
from kubernai.sim.cluster import PODS_COL, BoolArray, Cluster, IntArray
from kubernai.sim.messages import Code
from kubernai.sim.pods import SimPod
from kubernai.sim.profile import Profile

Stage = np.int8
OK = 0
UNSCHEDULABLE = 1
NODE_NAME = 2
TAINT = 3
ENFORCED = 4
AFFINITY = 5
ABSENT = 6
"""Left out by NodeAffinity's PreFilterResult (``matchFields metadata.name``)."""
PORTS = 7
FIT = 8
SPREAD = 9
SPREAD_LABEL = 10
EXISTING_ANTI = 11
POD_AFFINITY = 12
POD_ANTI = 13
_FIXED_REASONS = {
    UNSCHEDULABLE: msg.UNSCHEDULABLE,
    NODE_NAME: msg.NODE_NAME,
    ENFORCED: msg.AFFINITY_ENFORCED,
    AFFINITY: msg.AFFINITY_POD,
    ABSENT: msg.PREFILTER_ABSENT,
    PORTS: msg.PORTS,
    SPREAD: msg.SPREAD,
    SPREAD_LABEL: msg.SPREAD_LABEL,
    EXISTING_ANTI: msg.EXISTING_ANTI_AFFINITY,
    POD_AFFINITY: msg.POD_AFFINITY,
    POD_ANTI: msg.POD_ANTI_AFFINITY,
}
_UNRESOLVABLE_STAGES = (UNSCHEDULABLE, NODE_NAME, TAINT, ENFORCED, AFFINITY, ABSENT,
                        SPREAD_LABEL, POD_AFFINITY)  # fmt: skip
_UNRESOLVABLE = np.zeros(16, dtype=bool)
_UNRESOLVABLE[list(_UNRESOLVABLE_STAGES)] = True


@dataclass(slots=True)
class StaticFilters:
    """The node-only filters of one pod shape."""

    stage: npt.NDArray[np.int8]
    taint_reasons: list[str | None]
    """Per taint class, the reason naming its first untolerated taint."""
    conflict: bool
    """NodeAffinity PreFilter: ``pod affinity terms conflict``."""


def static_filters(
    cluster: Cluster, pod: SimPod, profile: Profile, version: int
) -> StaticFilters:
    """NodeUnschedulable, NodeName, TaintToleration and NodeAffinity (cached)."""
    key = ("static", id(cluster))
    shape = pod.shape
    found = shape.cache.get(key)
    if isinstance(found, StaticFilters):
        return found
    n = cluster.n
    stage = np.zeros(n, dtype=np.int8)
    on = profile.filters

    def mark(failing: BoolArray, code: int) -> None:
        stage[(stage == OK) & failing] = code

    names = prefilter_names(shape.spec) if "NodeAffinity" in on else None
    conflict = names is not None and not names
    if names:
        inside = np.zeros(n, dtype=bool)
        for name in names:
            row = cluster.index.get(name)
            if row is not None:
                inside[row] = True
        mark(~inside, ABSENT)
    if "NodeUnschedulable" in on and not shape.tolerates_unschedulable:
        mark(cluster.unschedulable, UNSCHEDULABLE)
    if "NodeName" in on and shape.node_name:
        other = np.ones(n, dtype=bool)
        row = cluster.index.get(shape.node_name)
        if row is not None:
            other[row] = False
        mark(other, NODE_NAME)
    taint_reasons: list[str | None] = []
    for taints in cluster.taint_sets:
        reason: str | None = None
        if "TaintToleration" in on:
            for taint in taints:
                if taint.effect not in ("NoSchedule", "NoExecute"):
                    continue
                if not any(t.tolerates(taint) for t in shape.tolerations):
                    reason = msg.untolerated(taint, version)
                    break
        taint_reasons.append(reason)
    bad_classes = np.array([r is not None for r in taint_reasons], dtype=bool)
    if bad_classes.any():
        mark(bad_classes[cluster.taint_class], TAINT)
    if "NodeAffinity" in on:
        enforced = added_mask(cluster, profile.added_affinity)
        if enforced is not None:
            mark(~enforced, ENFORCED)
        mark(~required_mask(cluster, shape.spec), AFFINITY)
    found = StaticFilters(stage, taint_reasons, conflict)
    shape.cache[key] = found
    return found


def _ignored(name: str, profile: Profile) -> bool:
    if "/" not in name or "kubernetes.io/" in name:
        return False
    group = name.split("/", 1)[0]
    return name in profile.ignored_resources or group in profile.ignored_groups


@dataclass(slots=True)
class FitCheck:
    """NodeResourcesFit over some nodes: which resources fall short where."""

    columns: list[str]
    """Resource names, in the order the scheduler checks them."""
    short: npt.NDArray[np.bool_]
    """``short[i, j]``: resource ``columns[j]`` is insufficient on node ``i``."""
    beyond_allocatable: BoolArray
    """The request exceeds allocatable itself for some short resource (not pods)."""

    @property
    def failing(self) -> BoolArray:
        """Nodes where some resource is short."""
        return np.asarray(self.short.any(axis=1))


def fit_check(
    cluster: Cluster,
    pod: SimPod,
    profile: Profile,
    rows: npt.NDArray[np.intp] | slice,
    used: IntArray | None = None,
) -> FitCheck:
    """``fitsRequest``: pods count, then cpu, memory, ephemeral storage, scalars."""
    if used is None:
        free = cluster.free_by_resource
        if not isinstance(rows, slice):
            free = free[:, rows]
    else:
        free = (cluster.alloc[rows] - used).T
    request = pod.shape.request
    columns = ["pods"]
    short = [free[PODS_COL] < 1]
    beyond = np.zeros(len(short[0]), dtype=bool)
    if request.real:
        for name in pod.shape.cache.get("fit_order") or _fit_order(pod):
            amount = request.real[name]
            if amount <= 0 or _ignored(name, profile):
                continue
            col = cluster.col[name]
            lacking = free[col] < amount
            columns.append(name)
            short.append(lacking)
            if lacking.any():
                alloc = cluster.alloc[rows, col]
                beyond |= lacking & (amount > alloc)
    return FitCheck(columns, np.stack(short, axis=1), beyond)


def _fit_order(pod: SimPod) -> list[str]:
    found = pod.shape.cache["fit_order"] = sorted(
        pod.shape.request.real, key=_check_order
    )
    return found


def _check_order(name: str) -> tuple[int, str]:
    return ({"cpu": 0, "memory": 1, "ephemeral-storage": 2}.get(name, 3), name)


def port_conflicts(cluster: Cluster, pod: SimPod) -> BoolArray:
    """NodePorts: nodes where a requested host port is taken."""
    taken = np.zeros(cluster.n, dtype=bool)
    for wanted in pod.shape.host_ports:
        for row, used in cluster.ports.get(wanted.port, ()):
            if wanted.conflicts(used):
                taken[row] = True
    return taken


ExtraFilter = Callable[[Cluster, SimPod], npt.NDArray[np.int8]]
"""A filter over every node: per node 0 (passes) or the stage it fails at."""


@dataclass(slots=True)
class Diagnosis:
    """Every node's first failing filter, and what the event reports."""

    stage: npt.NDArray[np.int8]
    fit: FitCheck
    static: StaticFilters
    unresolvable: BoolArray
    extra_stage_rows: dict[int, BoolArray]

    @property
    def feasible(self) -> BoolArray:
        """Nodes that pass every filter."""
        return np.asarray(self.stage == OK)

    def reasons(
        self, cluster: Cluster, version: int, evaluated: BoolArray
    ) -> Counter[str]:
        """The histogram of reasons over the nodes in ``evaluated``."""
        counts: Counter[str] = Counter()
        stage = self.stage
        for code, reason in _FIXED_REASONS.items():
            if code == ABSENT and version < 32:
                continue
            where = stage == code if code == ABSENT else evaluated & (stage == code)
            hits = int(np.count_nonzero(where))
            if hits:
                counts[reason] += hits
        tainted = evaluated & (stage == TAINT)
        if tainted.any():
            per_class = np.bincount(
                cluster.taint_class[tainted], minlength=len(self.static.taint_reasons)
            )
            for cls, hits in enumerate(per_class):
                named = self.static.taint_reasons[cls]
                if hits and named:
                    counts[named] += int(hits)
        fitting = evaluated & (stage == FIT)
        if fitting.any():
            short = self.fit.short[fitting]
            for j, name in enumerate(self.fit.columns):
                hits = int(np.count_nonzero(short[:, j]))
                if hits:
                    reason = (
                        msg.TOO_MANY_PODS if name == "pods" else msg.insufficient(name)
                    )
                    counts[reason] += hits
        return counts

    def node_reasons(self, cluster: Cluster, row: int) -> tuple[str, ...]:
        """The reasons of one node (``--explain``); ``()`` when it passes."""
        code = int(self.stage[row])
        if code == OK:
            return ()
        if code == TAINT:
            reason = self.static.taint_reasons[int(cluster.taint_class[row])]
            return (reason,) if reason else ()
        if code == FIT:
            return tuple(
                msg.TOO_MANY_PODS if name == "pods" else msg.insufficient(name)
                for j, name in enumerate(self.fit.columns)
                if self.fit.short[row, j]
            )
        return (_FIXED_REASONS[code],)

    def code(self, row: int) -> Code:
        """The status code of one node."""
        if self.stage[row] == OK:
            return Code.SUCCESS
        return Code.UNRESOLVABLE if self.unresolvable[row] else Code.UNSCHEDULABLE


def diagnose(
    cluster: Cluster,
    pod: SimPod,
    profile: Profile,
    version: int,
    extra: list[ExtraFilter] | None = None,
) -> Diagnosis:
    """Run every filter on every node."""
    static = static_filters(cluster, pod, profile, version)
    stage = static.stage.copy()
    passing = stage == OK
    if "NodePorts" in profile.filters and pod.shape.host_ports:
        stage[passing & port_conflicts(cluster, pod)] = PORTS
        passing = stage == OK
    fit = fit_check(cluster, pod, profile, slice(None))
    if "NodeResourcesFit" in profile.filters:
        stage[passing & fit.failing] = FIT
        passing = stage == OK
    extra_rows: dict[int, BoolArray] = {}
    for check in extra or ():
        found = check(cluster, pod)
        stage[passing] = found[passing]
        passing = stage == OK
    unresolvable = _UNRESOLVABLE[stage]
    if version >= 34:
        unresolvable |= (stage == FIT) & fit.beyond_allocatable
    return Diagnosis(stage, fit, static, unresolvable, extra_rows)


def check_row(
    cluster: Cluster,
    pod: SimPod,
    profile: Profile,
    version: int,
    row: int,
    extra: list[ExtraFilter] | None = None,
) -> tuple[str, ...]:
    """The reasons one node rejects ``pod`` with, in the current state; ``()``: fits."""
    static = static_filters(cluster, pod, profile, version)
    code = int(static.stage[row])
    if code == TAINT:
        reason = static.taint_reasons[int(cluster.taint_class[row])]
        return (reason,) if reason else ()
    if code == ABSENT:
        return (msg.AFFINITY_POD,)
    if code != OK:
        return (_FIXED_REASONS[code],)
    if "NodePorts" in profile.filters and pod.shape.host_ports:
        for wanted in pod.shape.host_ports:
            for used_row, used in cluster.ports.get(wanted.port, ()):
                if used_row == row and wanted.conflicts(used):
                    return (msg.PORTS,)
    if "NodeResourcesFit" in profile.filters:
        fit = fit_check(cluster, pod, profile, np.array([row], dtype=np.intp))
        short = [
            msg.TOO_MANY_PODS if name == "pods" else msg.insufficient(name)
            for j, name in enumerate(fit.columns)
            if fit.short[0, j]
        ]
        if short:
            return tuple(short)
    for check in extra or ():
        stage = int(check(cluster, pod)[row])
        if stage != OK:
            return (_FIXED_REASONS[stage],)
    return ()
