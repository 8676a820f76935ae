"""PodTopologySpread and InterPodAffinity, over pods counted per node and domain.

PodTopologySpread (``podtopologyspread/{filtering,scoring,common}.go``, v1.31,
node inclusion policies at their defaults: ``nodeAffinityPolicy: Honor``,
``nodeTaintsPolicy: Ignore``):

- Filter, for ``DoNotSchedule`` constraints: a node without the topology key
  fails with ``(missing required label)`` (unresolvable); otherwise the skew
  ``pods in the node's domain + (1 if the pod matches its own selector) −
  the smallest domain count`` must not exceed ``maxSkew``. Domains are those
  of the nodes that have every constraint's key and match the pod's node
  affinity; with fewer domains than ``minDomains`` the minimum is 0.
- Score, for ``ScheduleAnyway`` constraints, or the system defaults
  (hostname maxSkew 3, zone maxSkew 5) when a ReplicaSet, StatefulSet or
  ReplicationController owns the pod: ``round(Σ count·ln(domains+2) +
  maxSkew−1)`` per node, normalised to ``100·(max+min−s)/max``.

InterPodAffinity (``interpodaffinity/{filtering,scoring}.go``): the incoming
pod's required affinity (unresolvable) and anti-affinity, the existing pods'
required anti-affinity, and the score from preferred terms of both sides and
the existing pods' required affinity (``hardPodAffinityWeight``), normalised
to ``100·(s−min)/(max−min)``. ``namespaceSelector`` other than ``{}`` (all
namespaces) is read as the pod's own namespace.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from kubernai.model.resource import get_list, get_map, get_str, iter_maps
from kubernai.model.selector import selector_matches
from kubernai.sim import filters as stages
from kubernai.sim.affinity import required_mask
from kubernai.sim.cluster import BoolArray, Cluster, IntArray
from kubernai.sim.filters import ExtraFilter
from kubernai.sim.nodes import HOSTNAME, ZONE
from kubernai.sim.pods import SimPod
from kubernai.sim.profile import Profile

Rows = npt.NDArray[np.intp]
_SYSTEM_DEFAULTS = ((HOSTNAME, 3), (ZONE, 5))


@dataclass(frozen=True, slots=True)
class Constraint:
    """A topology spread constraint."""

    key: str
    max_skew: int
    selector: Mapping[str, Any] | None
    min_domains: int = 1


@dataclass(frozen=True, slots=True)
class Term:
    """A pod (anti-)affinity term with its weight (1 for required terms)."""

    key: str
    selector: Mapping[str, Any] | None
    namespaces: frozenset[str] | None
    weight: int = 1

    def matches(self, pod: SimPod) -> bool:
        """Whether ``pod`` is in the term's namespaces and selected by it."""
        if self.selector is None:
            return False
        if self.namespaces is not None and pod.namespace not in self.namespaces:
            return False
        return selector_matches(self.selector, pod.labels) is True


def _with_label_keys(
    selector: Any, keys: list[Any], labels: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    if not isinstance(selector, Mapping):
        return None
    extra = [
        {"key": k, "operator": "In", "values": [str(labels[k])]}
        for k in keys
        if isinstance(k, str) and k in labels
    ]
    if not extra:
        return selector
    expressions = list(get_list(selector, "matchExpressions")) + extra
    return {**selector, "matchExpressions": expressions}


def constraints(pod: SimPod, when: str) -> list[Constraint]:
    """The pod's spread constraints with ``whenUnsatisfiable: when``."""
    found = []
    for _, raw in iter_maps(pod.shape.spec, "topologySpreadConstraints"):
        if (get_str(raw, "whenUnsatisfiable") or "DoNotSchedule") != when:
            continue
        skew = raw.get("maxSkew")
        minimum = raw.get("minDomains")
        found.append(
            Constraint(
                key=get_str(raw, "topologyKey"),
                max_skew=skew if isinstance(skew, int) else 1,
                selector=_with_label_keys(
                    raw.get("labelSelector"),
                    get_list(raw, "matchLabelKeys"),
                    pod.labels,
                ),
                min_domains=minimum if isinstance(minimum, int) else 1,
            )
        )
    return found


def _terms(pod: SimPod, kind: str, which: str) -> list[Term]:
    found = []
    spec = pod.shape.spec
    for _, raw in iter_maps(spec, "affinity", kind, which):
        weight = 1
        term = raw
        if "podAffinityTerm" in raw:
            written = raw.get("weight")
            weight = written if isinstance(written, int) else 0
            term = get_map(raw, "podAffinityTerm")
        listed = frozenset(str(n) for n in get_list(term, "namespaces"))
        namespace_selector = term.get("namespaceSelector")
        namespaces: frozenset[str] | None = listed or frozenset({pod.namespace})
        if isinstance(namespace_selector, Mapping) and not namespace_selector:
            namespaces = None
        selector = _with_label_keys(
            term.get("labelSelector"), get_list(term, "matchLabelKeys"), pod.labels
        )
        found.append(Term(get_str(term, "topologyKey"), selector, namespaces, weight))
    return found


_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
_PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


def pod_terms(pod: SimPod) -> dict[str, list[Term]]:
    """The pod's affinity terms, cached on its shape (labels may differ per pod)."""
    key = ("terms", id(pod.labels))
    cached = pod.shape.cache.get(key)
    if cached is None:
        cached = pod.shape.cache[key] = {
            "affinity": _terms(pod, "podAffinity", _REQUIRED),
            "anti": _terms(pod, "podAntiAffinity", _REQUIRED),
            "preferred": _terms(pod, "podAffinity", _PREFERRED),
            "preferred_anti": _terms(pod, "podAntiAffinity", _PREFERRED),
        }
    return cached


def _domain_sums(
    cluster: Cluster, key: str, counts: IntArray, eligible: BoolArray
) -> IntArray:
    """Per node, the sum of ``counts`` over eligible nodes of the node's domain."""
    codes, known = cluster.label_codes(key)
    result = np.zeros(cluster.n, dtype=np.int64)
    has = codes >= 0
    if not known:
        return result
    sums = np.bincount(
        codes[has & eligible], weights=counts[has & eligible], minlength=len(known)
    ).astype(np.int64)
    result[has] = sums[codes[has]]
    return result


class Topology:
    """Spreading and pod (anti-)affinity over the cluster's bound pods."""

    def __init__(self, cluster: Cluster, profile: Profile) -> None:
        self.cluster = cluster
        self.profile = profile

    # -- filters ---------------------------------------------------------------------

    def filters(self, pod: SimPod) -> list[ExtraFilter]:
        """The filters that apply to ``pod``."""
        found: list[ExtraFilter] = []
        on = self.profile.filters
        if "PodTopologySpread" in on and constraints(pod, "DoNotSchedule"):
            found.append(self._spread_filter)
        if "InterPodAffinity" in on:
            terms = pod_terms(pod)
            if terms["affinity"] or terms["anti"] or self.cluster.with_affinity:
                found.append(self._affinity_filter)
        return found

    def _spread_filter(self, cluster: Cluster, pod: SimPod) -> npt.NDArray[np.int8]:
        listed = constraints(pod, "DoNotSchedule")
        all_keys = np.ones(cluster.n, dtype=bool)
        for c in listed:
            all_keys &= cluster.label_codes(c.key)[0] >= 0
        eligible = all_keys & required_mask(cluster, pod.shape.spec)
        failing = np.zeros(cluster.n, dtype=bool)
        missing = np.zeros(cluster.n, dtype=bool)
        for c in listed:
            codes, known = cluster.label_codes(c.key)
            missing |= codes < 0
            counts = cluster.matching_counts(c.selector, frozenset({pod.namespace}))
            sums = _domain_sums(cluster, c.key, counts, eligible)
            domains = np.unique(codes[eligible])
            if len(domains):
                per_domain = np.zeros(len(known), dtype=np.int64)
                per_domain[codes[eligible]] = sums[eligible]
                minimum = int(per_domain[domains].min())
            else:
                minimum = 0
            if len(domains) < c.min_domains:
                minimum = 0
            own = 1 if c.selector and selector_matches(c.selector, pod.labels) else 0
            in_domain = np.where(np.isin(codes, domains), sums, 0)
            failing |= (codes >= 0) & (in_domain + own - minimum > c.max_skew)
        stage = np.where(failing, stages.SPREAD, stages.OK)
        return np.where(missing, stages.SPREAD_LABEL, stage).astype(np.int8)

    def _affinity_filter(self, cluster: Cluster, pod: SimPod) -> npt.NDArray[np.int8]:
        terms = pod_terms(pod)
        stage = np.zeros(cluster.n, dtype=np.int8)
        if terms["affinity"]:
            ok = np.ones(cluster.n, dtype=bool)
            any_match = False
            exist = np.ones(cluster.n, dtype=bool)
            all_nodes = np.ones(cluster.n, dtype=bool)
            matched = self._all_terms_counts(cluster, terms["affinity"])
            for term in terms["affinity"]:
                codes, _ = cluster.label_codes(term.key)
                ok &= codes >= 0
                sums = _domain_sums(cluster, term.key, matched, all_nodes)
                exist &= sums > 0
                any_match = any_match or bool(matched.any())
            self_match = all(t.matches(pod) for t in terms["affinity"])
            if not any_match and self_match:
                exist[:] = True
            bad = ~(ok & exist)
            stage[bad & (stage == 0)] = stages.POD_AFFINITY
        for term in terms["anti"]:
            counts = cluster.matching_counts(term.selector, term.namespaces)
            sums = _domain_sums(
                cluster, term.key, counts, np.ones(cluster.n, dtype=bool)
            )
            codes, _ = cluster.label_codes(term.key)
            bad = (codes >= 0) & (sums > 0)
            stage[bad & (stage == 0)] = stages.POD_ANTI
        for existing in cluster.with_affinity:
            for term in pod_terms(existing)["anti"]:
                if not term.matches(pod):
                    continue
                value = cluster.nodes[existing.node].labels.get(term.key)
                if value is None:
                    continue
                codes, known = cluster.label_codes(term.key)
                bad = codes == known[value]
                stage[bad & (stage == 0)] = stages.EXISTING_ANTI
        return stage

    def _all_terms_counts(self, cluster: Cluster, terms: list[Term]) -> IntArray:
        """Per node, bound pods matching every term (``podMatchesAllAffinityTerms``)."""
        counts = np.zeros(cluster.n, np.int64)
        for (namespace, labels), rows in cluster.label_counts.items():
            if not rows:
                continue
            as_dict = dict(labels)
            if all(
                t.selector is not None
                and (t.namespaces is None or namespace in t.namespaces)
                and selector_matches(t.selector, as_dict) is True
                for t in terms
            ):
                for row, count in rows.items():
                    counts[row] += count
        return counts

    # -- scores ----------------------------------------------------------------------

    def scores(
        self, pod: SimPod, rows: Rows, weights: Mapping[str, int]
    ) -> dict[str, IntArray]:
        """Normalised scores of the plugins that do not skip ``pod``."""
        found: dict[str, IntArray] = {}
        if "PodTopologySpread" in weights:
            spread = self._spread_score(pod, rows)
            if spread is not None:
                found["PodTopologySpread"] = spread
        if "InterPodAffinity" in weights:
            affinity = self._affinity_score(pod, rows)
            if affinity is not None:
                found["InterPodAffinity"] = affinity
        return found

    def _score_constraints(self, pod: SimPod) -> tuple[list[Constraint], bool]:
        listed = list(iter_maps(pod.shape.spec, "topologySpreadConstraints"))
        if listed:
            return constraints(pod, "ScheduleAnyway"), True
        if self.profile.system_spreading:
            if pod.owner_selector is None:
                return [], False
            return [
                Constraint(key, skew, pod.owner_selector)
                for key, skew in _SYSTEM_DEFAULTS
            ], False
        defaults = []
        for raw in self.profile.default_constraints:
            if (
                get_str(raw, "whenUnsatisfiable") == "ScheduleAnyway"
                and pod.owner_selector
            ):
                skew = raw.get("maxSkew")
                defaults.append(
                    Constraint(
                        get_str(raw, "topologyKey"),
                        skew if isinstance(skew, int) else 1,
                        pod.owner_selector,
                    )
                )
        return defaults, True

    def _spread_score(self, pod: SimPod, rows: Rows) -> IntArray | None:
        listed, require_all = self._score_constraints(pod)
        if not listed:
            return None
        cluster = self.cluster
        n = len(rows)
        has_all = np.ones(n, dtype=bool)
        for c in listed:
            has_all &= cluster.label_codes(c.key)[0][rows] >= 0
        ignored = ~has_all if require_all else np.zeros(n, dtype=bool)
        counted_nodes = required_mask(cluster, pod.shape.spec)
        if require_all:
            all_keys = np.ones(cluster.n, dtype=bool)
            for c in listed:
                all_keys &= cluster.label_codes(c.key)[0] >= 0
            counted_nodes &= all_keys
        score = np.zeros(n)
        for c in listed:
            codes, known = cluster.label_codes(c.key)
            counts = cluster.matching_counts(c.selector, frozenset({pod.namespace}))
            node_codes = codes[rows]
            if c.key == HOSTNAME:
                size = n - int(np.count_nonzero(ignored))
                per_node = counts[rows]
            else:
                candidate = node_codes[~ignored & (node_codes >= 0)]
                domains = np.unique(candidate)
                size = len(domains)
                sums = np.zeros(len(known) or 1, dtype=np.int64)
                valid = counted_nodes & (codes >= 0)
                np.add.at(sums, codes[valid], counts[valid])
                per_node = np.where(
                    np.isin(node_codes, domains), sums[np.maximum(node_codes, 0)], 0
                )
            weight = math.log(size + 2)
            contributes = node_codes >= 0
            score = score + np.where(
                contributes, per_node * weight + (c.max_skew - 1), 0.0
            )
        raw = np.floor(score + 0.5).astype(np.int64)
        valid = ~ignored
        if not valid.any():
            return np.zeros(n, dtype=np.int64)
        low, high = int(raw[valid].min()), int(raw[valid].max())
        if high == 0:
            return np.where(valid, 100, 0).astype(np.int64)
        return np.where(valid, 100 * (high + low - raw) // high, 0).astype(np.int64)

    def _affinity_score(self, pod: SimPod, rows: Rows) -> IntArray | None:
        cluster = self.cluster
        terms = pod_terms(pod)
        own = [(t, 1) for t in terms["preferred"]] + [
            (t, -1) for t in terms["preferred_anti"]
        ]
        if not own and not cluster.with_affinity:
            return None
        totals = np.zeros(cluster.n, dtype=np.int64)
        touched = False
        everywhere = np.ones(cluster.n, dtype=bool)
        for term, sign in own:
            counts = cluster.matching_counts(term.selector, term.namespaces)
            if counts.any():
                touched = True
                totals += (
                    sign
                    * term.weight
                    * _domain_sums(cluster, term.key, counts, everywhere)
                )
        hard = self.profile.hard_pod_affinity_weight
        for existing in cluster.with_affinity:
            other = pod_terms(existing)
            node_labels = cluster.nodes[existing.node].labels
            weighted = [(t, hard) for t in other["affinity"]] if hard > 0 else []
            weighted += [(t, t.weight) for t in other["preferred"]]
            weighted += [(t, -t.weight) for t in other["preferred_anti"]]
            for term, weight in weighted:
                value = node_labels.get(term.key)
                if value is None or not term.matches(pod):
                    continue
                codes, known = cluster.label_codes(term.key)
                totals += np.where(codes == known[value], weight, 0)
                touched = True
        if not touched:
            return None
        raw = totals[rows]
        low, high = int(raw.min()), int(raw.max())
        if high - low <= 0:
            return np.zeros(len(rows), dtype=np.int64)
        return (100 * ((raw - low) / (high - low))).astype(np.int64)
