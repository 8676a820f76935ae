"""One scheduling cycle of kube-scheduler's default profile (``schedule_one.go``).

PreFilter, Filter on every node (in the node tree's order, starting where the
previous cycle stopped and stopping once ``numFeasibleNodesToFind`` nodes
pass), PostFilter (DefaultPreemption) when none passes, Score and
NormalizeScore on the feasible nodes, the weighted sum, and a uniformly
random pick among the best (``selectHost``'s reservoir sampling), drawn from
a seeded generator.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from kubernai.sim import messages as msg
from kubernai.sim.cluster import BoolArray, Cluster, IntArray
from kubernai.sim.filters import Diagnosis, diagnose
from kubernai.sim.pods import SimPod
from kubernai.sim.profile import Profile
from kubernai.sim.scorers import score_nodes
from kubernai.sim.topology import Topology

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_PERCENTAGE = 5


def num_feasible_nodes_to_find(percentage: int, num_nodes: int) -> int:
    """``numFeasibleNodesToFind``: adaptive share of the nodes, at least 100."""
    if num_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_nodes
    if percentage == 0:
        percentage = max(50 - num_nodes // 125, MIN_FEASIBLE_PERCENTAGE)
    found = num_nodes * percentage // 100
    return max(found, MIN_FEASIBLE_NODES_TO_FIND)


@dataclass(slots=True)
class Attempt:
    """The outcome of scheduling one pod."""

    row: int = -1
    message: str = ""
    """The FailedScheduling message (with its ``preemption:`` part), if one was sent."""
    nominated: int = -1
    victims: list[SimPod] = field(default_factory=list)
    filters: dict[str, str] | None = None
    scores: dict[str, dict[str, int]] | None = None


class Scheduler:
    """Schedules pods one at a time onto a :class:`Cluster`."""

    def __init__(
        self,
        cluster: Cluster,
        profile: Profile,
        *,
        version: int = msg.DEFAULT_VERSION,
        seed: int = 0,
        explain: bool = False,
        pdbs: list[object] | None = None,
    ) -> None:
        self.cluster = cluster
        self.profile = profile
        self.version = version
        self.rng = random.Random(seed)
        self.explain = explain
        self.next_start = 0
        self.topology = Topology(cluster, profile)
        self.pdbs = pdbs or []

    # -- filtering -----------------------------------------------------------------

    def diagnose(self, pod: SimPod) -> Diagnosis:
        """Every filter on every node for ``pod``."""
        return diagnose(
            self.cluster,
            pod,
            self.profile,
            self.version,
            self.topology.filters(pod),
        )

    def _search(self, diagnosis: Diagnosis) -> tuple[npt.NDArray[np.intp], BoolArray]:
        """The feasible nodes the cycle finds, and which nodes it evaluated."""
        cluster = self.cluster
        candidates = np.flatnonzero(diagnosis.stage != 6)  # ABSENT: not in the list
        evaluated = np.zeros(cluster.n, dtype=bool)
        total = len(candidates)
        if total == 0:
            return candidates, evaluated
        start = self.next_start % total
        ordered = np.roll(candidates, -start)
        passing = diagnosis.feasible[ordered]
        wanted = num_feasible_nodes_to_find(
            self.profile.percentage_of_nodes_to_score, total
        )
        hits = np.flatnonzero(passing)
        if len(hits) > wanted:
            processed = int(hits[wanted - 1]) + 1
            found = ordered[hits[:wanted]]
        else:
            processed = total
            found = ordered[hits]
        evaluated[ordered[:processed]] = True
        self.next_start = (start + processed) % total
        return found, evaluated

    # -- the cycle -----------------------------------------------------------------

    def schedule(self, pod: SimPod, *, nominated: int = -1) -> Attempt:
        """One scheduling cycle; binds the pod when a node is found."""
        cluster = self.cluster
        if cluster.n == 0:
            return Attempt(message=msg.NO_NODES)
        diagnosis = self.diagnose(pod)
        if nominated >= 0 and diagnosis.feasible[nominated]:
            cluster.bind(pod, nominated)
            return Attempt(row=nominated)
        if diagnosis.static.conflict:
            return self._fail(pod, diagnosis, np.ones(cluster.n, dtype=bool), True)
        found, evaluated = self._search(diagnosis)
        if len(found) == 0:
            return self._fail(pod, diagnosis, evaluated, False)
        attempt = Attempt()
        if self.explain:
            attempt.filters = self._explain_filters(diagnosis, evaluated)
        if len(found) == 1:
            row = int(found[0])
            if self.explain:
                attempt.scores = {}
        else:
            totals, per_plugin = score_nodes(self, pod, found)
            best = totals.max()
            ties = found[totals == best]
            row = (
                int(ties[self.rng.randrange(len(ties))])
                if len(ties) > 1
                else int(ties[0])
            )
            if self.explain:
                attempt.scores = _explain_scores(cluster, found, totals, per_plugin)
        cluster.bind(pod, row)
        attempt.row = row
        return attempt

    def _fail(
        self, pod: SimPod, diagnosis: Diagnosis, evaluated: BoolArray, conflict: bool
    ) -> Attempt:
        from kubernai.sim.preemption import post_filter

        cluster = self.cluster
        if conflict:
            reasons: Counter[str] = Counter()
            prefilter = msg.AFFINITY_CONFLICT
            diagnosis.unresolvable[:] = True
        else:
            reasons = diagnosis.reasons(cluster, self.version, evaluated)
            prefilter = ""
        outcome = post_filter(self, pod, diagnosis)
        text = msg.fit_error(
            cluster.n, reasons, prefilter=prefilter, postfilter=outcome.message
        )
        attempt = Attempt(message=text, nominated=outcome.row, victims=outcome.victims)
        if self.explain:
            attempt.filters = self._explain_filters(diagnosis, evaluated)
        return attempt

    def _explain_filters(
        self, diagnosis: Diagnosis, evaluated: BoolArray
    ) -> dict[str, str]:
        cluster = self.cluster
        found = {}
        for row in np.flatnonzero(evaluated & ~diagnosis.feasible):
            reasons = diagnosis.node_reasons(cluster, int(row))
            if reasons:
                found[cluster.names[int(row)]] = ", ".join(reasons)
        return found


def _explain_scores(
    cluster: Cluster,
    rows: npt.NDArray[np.intp],
    totals: IntArray,
    per_plugin: dict[str, IntArray],
) -> dict[str, dict[str, int]]:
    found = {}
    for i, row in enumerate(rows):
        entry = {name: int(values[i]) for name, values in per_plugin.items()}
        entry["total"] = int(totals[i])
        found[cluster.names[int(row)]] = entry
    return found
