"""DefaultPreemption: the PostFilter that evicts lower-priority pods.

Follows ``framework/preemption/preemption.go`` and
``plugins/defaultpreemption/default_preemption.go`` (v1.31):

1. ``preemptionPolicy: Never`` → ``not eligible due to preemptionPolicy=Never.``
2. Only nodes whose filter status is Unschedulable are tried; the others get
   ``Preemption is not helpful for scheduling``.
3. Dry run from a random offset, stopping once ``numCandidates`` candidates
   (``max(10% of the nodes, 100)``, at most all) are found with at least one
   that violates no PDB: remove every lower-priority pod (none →
   ``No preemption victims found for incoming pod``), run the filters (a
   failure gives that filter's reasons), then reprieve the pods, PDB-violating
   ones first, each group from the most important (higher priority, then
   earlier start) down.
4. Pick the node: fewest PDB violations, lowest highest victim priority,
   smallest Σ(priority + 2³¹), fewest victims, latest earliest start among the
   highest-priority victims, then the first candidate.

With no candidate, the message is a nested ``0/N nodes are available: ...``.
The victims are deleted and the pod is nominated to the node.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from kubernai.model.selector import selector_matches
from kubernai.sim import messages as msg
from kubernai.sim.filters import ABSENT, OK, Diagnosis, check_row, fit_check
from kubernai.sim.pods import SimPod

if TYPE_CHECKING:
    from kubernai.sim.scheduler import Scheduler

INT32_OFFSET = 2**31


@dataclass(slots=True)
class Pdb:
    """A PodDisruptionBudget as preemption reads it."""

    namespace: str
    name: str
    selector: Mapping[str, Any] | None
    disrupted: frozenset[str] = frozenset()
    allowed: int | None = None
    """``status.disruptionsAllowed``; ``None``: computed from the spec."""
    min_available: Any = None
    max_unavailable: Any = None

    def selects(self, pod: SimPod) -> bool:
        """A nil or empty selector matches nothing (as preemption reads PDBs)."""
        if not self.selector or pod.namespace != self.namespace:
            return False
        return selector_matches(self.selector, pod.labels) is True


def _scaled(value: Any, total: int) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return -(-int(value[:-1]) * total // 100)
    return None


def disruptions_allowed(pdb: Pdb, healthy: int) -> int:
    """``status.disruptionsAllowed`` as the disruption controller computes it."""
    if pdb.allowed is not None:
        return pdb.allowed
    if pdb.max_unavailable is not None:
        unavailable = _scaled(pdb.max_unavailable, healthy)
        if unavailable is None:
            return 0
        return max(0, healthy - (healthy - unavailable))
    minimum = _scaled(pdb.min_available, healthy)
    if minimum is None:
        return 0
    return max(0, healthy - minimum)


@dataclass(slots=True)
class Outcome:
    """What PostFilter did: the nominated node and victims, or its message."""

    row: int = -1
    victims: list[SimPod] = field(default_factory=list)
    message: str = ""


@dataclass(slots=True)
class Candidate:
    """A node where evicting ``victims`` makes the pod fit."""

    row: int
    victims: list[SimPod]
    violations: int


def _more_important_key(pod: SimPod) -> tuple[int, float]:
    return (-pod.priority, pod.start_time)


def _violating(
    scheduler: Scheduler, victims: list[SimPod]
) -> tuple[list[SimPod], list[SimPod]]:
    pdbs: list[Pdb] = [p for p in scheduler.pdbs if isinstance(p, Pdb)]
    if not pdbs:
        return [], victims
    cluster = scheduler.cluster
    allowed = []
    for pdb in pdbs:
        healthy = (
            sum(1 for pods in cluster.pods_on for pod in pods if pdb.selects(pod))
            if pdb.allowed is None
            else 0
        )
        allowed.append(disruptions_allowed(pdb, healthy))
    violating: list[SimPod] = []
    fine: list[SimPod] = []
    for pod in victims:
        broken = False
        if pod.labels:
            for i, pdb in enumerate(pdbs):
                if not pdb.selects(pod) or pod.name in pdb.disrupted:
                    continue
                allowed[i] -= 1
                if allowed[i] < 0:
                    broken = True
        (violating if broken else fine).append(pod)
    return violating, fine


def select_victims(scheduler: Scheduler, pod: SimPod, row: int) -> Candidate | None:
    """SelectVictimsOnNode after the node was seen to fit without the lower pods."""
    cluster = scheduler.cluster
    extra = scheduler.topology.filters(pod)
    lower = [p for p in cluster.pods_on[row] if p.priority < pod.priority]
    for victim in lower:
        cluster.unbind(victim)
    if check_row(cluster, pod, scheduler.profile, scheduler.version, row, extra):
        for victim in lower:
            cluster.bind(victim, row)
        return None
    lower.sort(key=_more_important_key)
    violating, fine = _violating(scheduler, lower)
    victims: list[SimPod] = []
    violations = 0
    for group, counts in ((violating, True), (fine, False)):
        for candidate in group:
            cluster.bind(candidate, row)
            if check_row(
                cluster, pod, scheduler.profile, scheduler.version, row, extra
            ):
                cluster.unbind(candidate)
                victims.append(candidate)
                violations += counts
    for victim in victims:
        cluster.bind(victim, row)
    if violating and fine:
        victims.sort(key=_more_important_key)
    return Candidate(row, victims, violations)


def pick_candidate(candidates: list[Candidate]) -> Candidate:
    """``pickOneNodeForPreemption``."""

    def earliest_top(c: Candidate) -> float:
        top = c.victims[0].priority
        return min(v.start_time for v in c.victims if v.priority == top)

    keys = (
        lambda c: -c.violations,
        lambda c: -c.victims[0].priority,
        lambda c: -sum(v.priority + INT32_OFFSET for v in c.victims),
        lambda c: -len(c.victims),
        earliest_top,
    )
    remaining = candidates
    for key in keys:
        best = max(key(c) for c in remaining)
        remaining = [c for c in remaining if key(c) == best]
        if len(remaining) == 1:
            break
    return remaining[0]


def num_candidates(scheduler: Scheduler, nodes: int) -> int:
    """``calculateNumCandidates``."""
    profile = scheduler.profile
    found = nodes * profile.min_candidate_percentage // 100
    found = max(found, profile.min_candidate_absolute)
    return min(found, nodes)


def post_filter(scheduler: Scheduler, pod: SimPod, diagnosis: Diagnosis) -> Outcome:
    """DefaultPreemption's PostFilter for a pod that no node accepts."""
    if not scheduler.profile.preemption:
        return Outcome()
    if not pod.preempts:
        return Outcome(message=msg.PREEMPTION_PREFIX + msg.POLICY_NEVER)
    cluster = scheduler.cluster
    version = scheduler.version
    helpless = diagnosis.unresolvable.copy()
    if version < 32:
        helpless &= diagnosis.stage != ABSENT
    helpless |= diagnosis.stage == OK
    reasons: Counter[str] = Counter()
    reasons[msg.NOT_HELPFUL] = int(np.count_nonzero(helpless))
    potential = np.flatnonzero(~helpless)
    if len(potential):
        offset = scheduler.rng.randrange(len(potential))
        potential = np.roll(potential, -offset)
        wanted = num_candidates(scheduler, len(potential))
        candidates = _dry_run(scheduler, pod, diagnosis, potential, wanted, reasons)
        if candidates:
            best = candidates[0] if len(candidates) == 1 else pick_candidate(candidates)
            return Outcome(row=best.row, victims=list(best.victims))
    text = msg.fit_error(cluster.n, reasons)
    return Outcome(message=msg.PREEMPTION_PREFIX + text)


def _dry_run(
    scheduler: Scheduler,
    pod: SimPod,
    diagnosis: Diagnosis,
    potential: np.ndarray[Any, Any],
    wanted: int,
    reasons: Counter[str],
) -> list[Candidate]:
    cluster = scheduler.cluster
    freed, lower_count = cluster.lower_priority(pod.priority)
    no_victims = lower_count[potential] == 0
    reasons[msg.NO_VICTIMS] += int(np.count_nonzero(no_victims))
    rest = ~no_victims
    absent = rest & (diagnosis.stage[potential] == ABSENT)
    reasons[msg.AFFINITY_POD] += int(np.count_nonzero(absent))
    rows = potential[rest & ~absent]
    if not len(rows):
        return []
    after = cluster.used[rows] - freed[rows]
    fit = fit_check(cluster, pod, scheduler.profile, rows, used=after)
    short = fit.short
    for j, name in enumerate(fit.columns):
        hits = int(np.count_nonzero(short[:, j]))
        if hits:
            reasons[
                msg.TOO_MANY_PODS if name == "pods" else msg.insufficient(name)
            ] += hits
    checked = bool(pod.shape.host_ports) or bool(scheduler.topology.filters(pod))
    clean: list[Candidate] = []
    violating: list[Candidate] = []
    for row in rows[~short.any(axis=1)]:
        found = select_victims(scheduler, pod, int(row))
        if found is None:
            if checked:
                _count_row_failure(scheduler, pod, int(row), reasons)
            continue
        (clean if found.violations == 0 else violating).append(found)
        if clean and len(clean) + len(violating) >= wanted:
            break
    return clean + violating


def _count_row_failure(
    scheduler: Scheduler, pod: SimPod, row: int, reasons: Counter[str]
) -> None:
    cluster = scheduler.cluster
    lower = [p for p in cluster.pods_on[row] if p.priority < pod.priority]
    for victim in lower:
        cluster.unbind(victim)
    found = check_row(
        cluster,
        pod,
        scheduler.profile,
        scheduler.version,
        row,
        scheduler.topology.filters(pod),
    )
    for victim in lower:
        cluster.bind(victim, row)
    reasons.update(found)
