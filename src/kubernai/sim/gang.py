"""Volcano gang scheduling: a PodGroup runs when ``minMember`` pods can, or not at all.

Simplified from volcano-sh/volcano (``actions/enqueue``, ``actions/allocate``,
``plugins/gang``, ``plugins/proportion``, ``api/job_info.go``):

- enqueue: the job's queue must exist and be ``Open``; with a queue
  ``capability``, the queue's allocated requests plus the job's
  ``minResources`` (the requests of its first ``minMember`` pods) must fit,
  else ``queue resource quota insufficient: insufficient <resources>``;
- allocate: the tasks are placed one by one with the default profile's
  filters and scores inside a transaction, committed only when at least
  ``minMember`` are placed (all-or-nothing), else discarded;
- messages: the PodGroup event ``<pending>/<total> tasks in gang
  unschedulable: pod group is not ready, ...`` (``JobInfo.FitError``); a pod
  that failed gets ``0/N nodes are unavailable: <histogram>.``; one that was
  placed in the discarded transaction gets ``Pod ns/name can possibly be
  assigned to <node>``.

Volcano's own plugins (binpack, drf, proportion's fair share) are not
modelled: placement within a gang uses kube-scheduler's scoring.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from kubernai.model.quantity import parse_quantity
from kubernai.model.resource import Resource, get_map, get_str
from kubernai.sim import messages as msg
from kubernai.sim.pods import SimPod

if TYPE_CHECKING:
    from kubernai.sim.scheduler import Scheduler

NOT_READY = "pod group is not ready"
UNSCHEDULABLE_REASON = "Unschedulable"
SCHEDULABLE_REASON = "Schedulable"


@dataclass(slots=True)
class Gang:
    """A PodGroup (or the one a Volcano Job / Kubeflow job makes) and its pods."""

    namespace: str
    name: str
    min_member: int
    queue: str = "default"
    pods: list[SimPod] = field(default_factory=list)
    placed: int = 0
    phase: str = "Pending"
    message: str = ""


@dataclass(slots=True)
class Queue:
    """A Volcano Queue: its state and capability."""

    name: str
    open: bool = True
    capability: dict[str, int] = field(default_factory=dict)


def read_queue(resource: Resource) -> Queue:
    """A ``scheduling.volcano.sh`` Queue."""
    capability: dict[str, int] = {}
    for name, value in get_map(resource.raw, "spec", "capability").items():
        amount = parse_quantity(value)
        if amount is not None:
            capability[str(name)] = _units(str(name), amount)
    state = get_str(resource.raw, "status", "state") or "Open"
    return Queue(resource.name, state == "Open", capability)


def _units(name: str, amount: Fraction) -> int:
    from kubernai.sim.requests import to_units

    return to_units(name, amount)


def queue_usage(pods: list[SimPod]) -> dict[str, int]:
    """Summed requests of pods."""
    total: dict[str, int] = {}
    for pod in pods:
        for name, value in pod.shape.request.real.items():
            total[name] = total.get(name, 0) + value
    return total


def enqueue_error(
    gang: Gang, queues: Mapping[str, Queue], running: Mapping[str, list[SimPod]]
) -> str:
    """Why the PodGroup cannot move to Inqueue, or ``""``."""
    queue = queues.get(gang.queue)
    if queue is None:
        return f"queue {gang.queue} not found"
    if not queue.open:
        return f"queue {gang.queue} is not open"
    if not queue.capability:
        return ""
    needed = queue_usage(gang.pods[: gang.min_member])
    used = queue_usage(running.get(gang.queue, []))
    short = sorted(
        name
        for name, cap in queue.capability.items()
        if used.get(name, 0) + needed.get(name, 0) > cap
    )
    if short:
        return f"queue resource quota insufficient: insufficient {', '.join(short)}"
    return ""


def _histogram(counts: Mapping[str, int]) -> str:
    return ", ".join(sorted(f"{v} {k}" for k, v in counts.items() if v))


def schedule_gang(
    scheduler: Scheduler, gang: Gang, error: str
) -> dict[int, tuple[str, str]]:
    """Place the gang all-or-nothing; per pod (by id), (node name, message)."""
    cluster = scheduler.cluster
    outcome: dict[int, tuple[str, str]] = {}
    total = len(gang.pods)
    if error:
        gang.message = (
            f"{total}/{total} tasks in gang unschedulable: {NOT_READY}, "
            f"{_histogram({'Pending': total, 'minAvailable': gang.min_member})}. "
            f"Origin reason is: {error}"
        )
        for pod in gang.pods:
            outcome[id(pod)] = ("", gang.message)
        return outcome
    placed: list[SimPod] = []
    errors: dict[int, str] = {}
    for pod in gang.pods:
        diagnosis = scheduler.diagnose(pod)
        found, evaluated = scheduler._search(diagnosis)
        if len(found) == 0:
            reasons = diagnosis.reasons(cluster, scheduler.version, evaluated)
            errors[id(pod)] = (
                f"0/{cluster.n} nodes are unavailable: "
                f"{', '.join(msg.histogram(reasons))}."
            )
            continue
        attempt_row = _pick(scheduler, pod, found)
        cluster.bind(pod, attempt_row)
        placed.append(pod)
    gang.placed = len(placed)
    if len(placed) >= gang.min_member:
        gang.phase = "Running"
        for pod in gang.pods:
            if pod.node >= 0:
                outcome[id(pod)] = (cluster.names[pod.node], "")
            else:
                outcome[id(pod)] = ("", errors.get(id(pod), ""))
        return outcome
    tentative = {id(p): cluster.names[p.node] for p in placed}
    for pod in placed:
        cluster.unbind(pod)
    gang.placed = 0
    pending_reasons: Counter[str] = Counter()
    for pod in gang.pods:
        if id(pod) in tentative:
            pending_reasons[SCHEDULABLE_REASON] += 1
            text = (
                f"Pod {pod.namespace}/{pod.name} can possibly be assigned to "
                f"{tentative[id(pod)]}"
            )
        else:
            pending_reasons[UNSCHEDULABLE_REASON] += 1
            text = errors.get(id(pod), "")
        outcome[id(pod)] = ("", text)
    origin = next(
        (
            f"Origin reason is {p.name}: {errors[id(p)]}"
            for p in gang.pods
            if id(p) in errors
        ),
        "",
    )
    text = (
        f"{total}/{total} tasks in gang unschedulable: {NOT_READY}, "
        f"{_histogram({'Pending': total, 'minAvailable': gang.min_member})}; "
        f"Pending: {_histogram(pending_reasons)}"
    )
    gang.message = f"{text}. {origin}" if origin else text
    return outcome


def _pick(scheduler: Scheduler, pod: SimPod, found: Any) -> int:
    from kubernai.sim.scorers import score_nodes

    if len(found) == 1:
        return int(found[0])
    totals, _ = score_nodes(scheduler, pod, found)
    ties = found[totals == totals.max()]
    return (
        int(ties[scheduler.rng.randrange(len(ties))]) if len(ties) > 1 else int(ties[0])
    )
