"""The driver: load the cluster, admit the submissions, schedule, report.

Pods are taken from the scheduling queue in PrioritySort order (higher
priority first, then creation order); the cluster's pending pods were created
before the submissions. A pod that preempts is nominated to the node, its
victims are deleted at once (their grace period is not simulated), and it is
scheduled in the next cycle, the nominated node first. A pod of a gang
brings its whole gang to the Volcano path. A pod that names another
scheduler stays Pending.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from kubernai.model.gpu import is_accelerator
from kubernai.model.resource import Resource
from kubernai.sim import messages as msg
from kubernai.sim.cluster import Cluster
from kubernai.sim.devices import apply_device_plugin
from kubernai.sim.gang import Gang, Queue, enqueue_error, schedule_gang
from kubernai.sim.intake import Intake, Reader
from kubernai.sim.nodes import NodeInfo, synthesise
from kubernai.sim.pods import DEFAULT_SCHEDULER, SimPod
from kubernai.sim.profile import Profile
from kubernai.sim.result import (
    PENDING,
    PREEMPTED,
    REJECTED,
    SCHEDULED,
    GangResult,
    NodeUse,
    PodResult,
    SimulationResult,
)
from kubernai.sim.scheduler import Scheduler

VOLCANO = "volcano"


@dataclass(frozen=True, slots=True)
class Options:
    """How to simulate."""

    version: int = msg.DEFAULT_VERSION
    seed: int = 0
    explain: bool = False


def synthesise_all(specs: Iterable[str]) -> list[NodeInfo]:
    """Nodes for every ``--nodes`` spec, numbered per GPU product."""
    found: list[NodeInfo] = []
    made: dict[str, int] = {}
    for spec in specs:
        nodes = synthesise(spec)
        prefix = nodes[0].name.rsplit("-", 1)[0] if nodes else ""
        start = made.get(prefix, 0)
        if start:
            nodes = synthesise(spec, start=start)
        made[prefix] = start + len(nodes)
        found.extend(nodes)
    return found


def simulate(
    cluster: list[Resource],
    submit: list[Resource],
    *,
    nodes: Iterable[str] = (),
    profile: Profile | None = None,
    options: Options | None = None,
) -> SimulationResult:
    """Schedule the submitted workloads onto the cluster."""
    options = options or Options()
    profile = profile or Profile()
    reader = Reader(cluster, submit)
    intake = reader.read(synthesise_all(nodes))
    apply_device_plugin(intake.nodes, intake.plugin_configs)
    return _run(intake, profile, options)


def _resources(intake: Intake) -> set[str]:
    names: set[str] = set()
    for pod in intake.running:
        names |= set(pod.shape.request.real)
    for pod, _ in intake.queue:
        names |= set(pod.shape.request.real)
    return names


def _run(intake: Intake, profile: Profile, options: Options) -> SimulationResult:
    cluster = Cluster(intake.nodes, _resources(intake))
    scheduler = Scheduler(
        cluster,
        profile,
        version=options.version,
        seed=options.seed,
        explain=options.explain,
        pdbs=list(intake.pdbs),
    )
    for pod, node in zip(intake.running, intake.running_nodes, strict=True):
        row = cluster.index.get(node)
        if row is not None:
            cluster.bind(pod, row)
    results: dict[int, PodResult] = {id(p): r for p, r in intake.queue}
    preempted: list[str] = []
    by_key = {f"{p.namespace}/{p.name}": r for p, r in intake.queue}
    queue = sorted((p for p, _ in intake.queue), key=lambda p: (-p.priority, p.order))
    done_gangs: set[str] = set()
    queues = dict(intake.queues)
    queues.setdefault("default", Queue("default"))
    in_queues: dict[str, list[SimPod]] = {}
    for pod in queue:
        result = results[id(pod)]
        if pod.gang:
            if pod.gang not in done_gangs:
                done_gangs.add(pod.gang)
                gang = _gang(intake, pod.gang)
                _run_gang(scheduler, gang, queues, results, in_queues)
            continue
        if pod.shape.node_name:
            _bind_directly(cluster, pod, result)
            continue
        if pod.shape.scheduler_name != DEFAULT_SCHEDULER:
            result.message = (
                f"no scheduler {pod.shape.scheduler_name!r} is simulated; the pod "
                "stays Pending"
            )
            continue
        attempt = scheduler.schedule(pod)
        result.filter, result.scores = attempt.filters, attempt.scores
        if attempt.row < 0 and attempt.nominated >= 0:
            node = cluster.names[attempt.nominated]
            result.message = attempt.message
            result.nominated_node = node
            for victim in attempt.victims:
                cluster.unbind(victim)
                preempted.append(victim.key)
                result.victims.append(victim.key)
                victim_result = by_key.get(victim.key)
                if victim_result is not None:
                    victim_result.status = PREEMPTED
                    victim_result.node = None
                    victim_result.message = f"Preempted by pod {pod.key} on node {node}"
            attempt = scheduler.schedule(pod, nominated=attempt.nominated)
        if attempt.row >= 0:
            result.status = SCHEDULED
            result.node = cluster.names[attempt.row]
            pod.start_time = 3e12 + pod.order
        else:
            result.message = attempt.message
            if attempt.filters is not None:
                result.filter = attempt.filters
    pods = [r for _, r in intake.queue] + intake.rejected
    gangs = [
        GangResult(
            g.namespace,
            g.name,
            g.queue,
            g.min_member,
            len(g.pods),
            sum(1 for p in g.pods if p.node >= 0),
            g.phase,
            g.message,
        )
        for g in intake.gangs.values()
        if g.pods
    ]
    return SimulationResult(
        pods=pods,
        gangs=gangs,
        nodes=_node_use(cluster),
        summary=_summary(cluster, scheduler, intake, pods, preempted, options),
        preempted=preempted,
    )


def _bind_directly(cluster: Cluster, pod: SimPod, result: PodResult) -> None:
    """A pod with ``spec.nodeName`` skips the scheduler; the kubelet admits it or not.

    The kubelet's resource check rejects it (``OutOf<resource>``) with
    ``Pod was rejected: Node didn't have enough resource: ...``.
    """
    row = cluster.index.get(pod.shape.node_name)
    if row is None:
        result.message = (
            f'node "{pod.shape.node_name}" not found; spec.nodeName bypasses the '
            "scheduler, so the pod stays Pending"
        )
        return
    free = cluster.alloc[row] - cluster.used[row]
    if free[cluster.col["pods"]] < 1:
        result.status, result.message = REJECTED, "Pod was rejected: Node didn't have "
        result.message += "enough resource: pods"
        return
    for name, amount in pod.shape.request.real.items():
        col = cluster.col[name]
        if amount > free[col]:
            result.status = REJECTED
            result.message = (
                "Pod was rejected: Node didn't have enough resource: "
                f"{name}, requested: {amount}, used: {int(cluster.used[row, col])}, "
                f"capacity: {int(cluster.alloc[row, col])}"
            )
            return
    cluster.bind(pod, row)
    result.status, result.node = SCHEDULED, cluster.names[row]


def _gang(intake: Intake, key: str) -> Gang:
    namespace, name = key.split("/", 1)
    return intake.gangs[(namespace, name)]


def _run_gang(
    scheduler: Scheduler,
    gang: Gang,
    queues: dict[str, Queue],
    results: dict[int, PodResult],
    in_queues: dict[str, list[SimPod]],
) -> None:
    error = enqueue_error(gang, queues, in_queues)
    outcome = schedule_gang(scheduler, gang, error)
    in_queues.setdefault(gang.queue, []).extend(p for p in gang.pods if p.node >= 0)
    for pod in gang.pods:
        node, text = outcome.get(id(pod), ("", ""))
        result = results[id(pod)]
        if node:
            result.status, result.node = SCHEDULED, node
        else:
            result.status, result.message = PENDING, text or gang.message


def _node_use(cluster: Cluster) -> list[NodeUse]:
    found = []
    accelerators = [r for r in cluster.resources if is_accelerator(r)]
    for row, node in enumerate(cluster.nodes):
        use = {
            name: (
                int(cluster.used[row, cluster.col[name]]),
                int(cluster.alloc[row, cluster.col[name]]),
            )
            for name in accelerators
            if cluster.alloc[row, cluster.col[name]]
            or cluster.used[row, cluster.col[name]]
        }
        found.append(
            NodeUse(
                node.name,
                node.labels.get("nvidia.com/gpu.product", ""),
                use,
                len(cluster.pods_on[row]),
            )
        )
    return found


def _summary(
    cluster: Cluster,
    scheduler: Scheduler,
    intake: Intake,
    pods: list[PodResult],
    preempted: list[str],
    options: Options,
) -> dict[str, object]:
    counts = {status: sum(1 for p in pods if p.status == status) for status in (
        SCHEDULED, PENDING, REJECTED, PREEMPTED)}  # fmt: skip
    accelerators = [r for r in cluster.resources if is_accelerator(r)]
    gpu = {}
    for name in accelerators:
        col = cluster.col[name]
        total = int(cluster.alloc[:, col].sum())
        used = int(cluster.used[:, col].sum())
        gpu[name] = {
            "allocatable": total,
            "requested": used,
            "free": total - used,
            "stranded": _stranded(cluster, scheduler, intake, name),
        }
    return {
        "k8s_version": f"1.{options.version}",
        "seed": options.seed,
        "nodes": cluster.n,
        "pods": len(pods),
        "scheduled": counts[SCHEDULED],
        "pending": counts[PENDING],
        "rejected": counts[REJECTED],
        "preempted": len(preempted),
        "accelerators": gpu,
    }


def _stranded(cluster: Cluster, scheduler: Scheduler, intake: Intake, name: str) -> int:
    """Free units of ``name`` on nodes where no pending pod asking for it fits."""
    col = cluster.col[name]
    free = cluster.alloc[:, col] - cluster.used[:, col]
    pending = [
        p for p, _ in intake.queue if p.node < 0 and p.shape.request.get(name) > 0
    ]
    if not pending:
        return 0
    usable = np.zeros(cluster.n, dtype=bool)
    seen: set[int] = set()
    for pod in pending:
        if id(pod.shape) in seen or len(seen) >= 64:
            continue
        seen.add(id(pod.shape))
        usable |= scheduler.diagnose(pod).feasible
    return int(free[~usable & (free > 0)].sum())
