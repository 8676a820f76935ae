"""Run the score plugins a profile enables and sum them with their weights."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from kubernai.model.resource import get_str, iter_maps
from kubernai.model.scheduler_config import LEAST_ALLOCATED, MOST_ALLOCATED
from kubernai.sim import scoring
from kubernai.sim.affinity import preferred_score, preferred_terms
from kubernai.sim.cluster import Cluster, IntArray
from kubernai.sim.pods import SimPod
from kubernai.sim.profile import Profile
from kubernai.sim.requests import CPU, MEMORY

if TYPE_CHECKING:
    from kubernai.sim.scheduler import Scheduler

Rows = npt.NDArray[np.intp]


def _inputs(
    cluster: Cluster,
    pod: SimPod,
    rows: Rows,
    names: list[str],
    *,
    nonzero: bool,
) -> tuple[list[IntArray], list[IntArray]]:
    request = pod.shape.request
    pod_request = dict(request.real)
    alloc, requested = {}, {}
    for name in names:
        col = cluster.col.get(name)
        if col is None:
            continue
        alloc[name] = cluster.alloc[rows, col]
        requested[name] = cluster.used[rows, col]
    if nonzero:
        pod_request[CPU] = request.nonzero_cpu
        pod_request[MEMORY] = request.nonzero_memory
        requested[CPU] = cluster.nonzero_used[rows, 0]
        requested[MEMORY] = cluster.nonzero_used[rows, 1]
    return scoring.allocation_inputs(
        resources=names,
        pod_request=pod_request,
        alloc=alloc,
        requested=requested,
        n=len(rows),
    )


def fit_score(cluster: Cluster, pod: SimPod, profile: Profile, rows: Rows) -> IntArray:
    """NodeResourcesFit's score with the profile's scoring strategy."""
    names = [name for name, _ in profile.fit_resources]
    weights = [weight for _, weight in profile.fit_resources]
    allocs, reqs = _inputs(cluster, pod, rows, names, nonzero=True)
    if profile.strategy == LEAST_ALLOCATED:
        return scoring.least_allocated(allocs, reqs, weights)
    if profile.strategy == MOST_ALLOCATED:
        return scoring.most_allocated(allocs, reqs, weights)
    return scoring.requested_to_capacity_ratio(allocs, reqs, weights, profile.shape)


def balanced_skipped(pod: SimPod, profile: Profile, version: int) -> bool:
    """v1.33+: PreScore skips best-effort pods (nothing of the resources requested)."""
    request = pod.shape.request.real
    return version >= 33 and all(
        request.get(name, 0) == 0 for name in profile.balanced_resources
    )


def balanced_score(
    cluster: Cluster, pod: SimPod, profile: Profile, rows: Rows
) -> IntArray:
    """NodeResourcesBalancedAllocation's score."""
    names = list(profile.balanced_resources)
    allocs, reqs = _inputs(cluster, pod, rows, names, nonzero=False)
    return scoring.balanced_allocation(allocs, reqs)


def taint_raw(cluster: Cluster, pod: SimPod) -> IntArray:
    """Per node, the PreferNoSchedule taints the pod does not tolerate."""
    key = ("taint_score", id(cluster))
    cached = pod.shape.cache.get(key)
    if cached is None:
        tolerations = [
            t for t in pod.shape.tolerations if t.effect in ("", "PreferNoSchedule")
        ]
        per_class = np.array(
            [
                sum(
                    1
                    for taint in taints
                    if taint.effect == "PreferNoSchedule"
                    and not any(t.tolerates(taint) for t in tolerations)
                )
                for taints in cluster.taint_sets
            ],
            dtype=np.int64,
        )
        cached = pod.shape.cache[key] = per_class[cluster.taint_class]
    return cached


def affinity_raw(cluster: Cluster, pod: SimPod, profile: Profile) -> IntArray | None:
    """Per node, the summed weights of matching preferred terms; ``None``: skipped."""
    key = ("affinity_score", id(cluster))
    if key in pod.shape.cache:
        return pod.shape.cache[key]  # type: ignore[no-any-return]
    terms = preferred_terms(pod.shape.spec)
    added: list[tuple[int, Any]] = [
        (item["weight"], item.get("preference"))
        for _, item in iter_maps(
            profile.added_affinity, "preferredDuringSchedulingIgnoredDuringExecution"
        )
        if isinstance(item.get("weight"), int)
    ]
    found = preferred_score(cluster, [*terms, *added]) if terms or added else None
    pod.shape.cache[key] = found
    return found


def _images(pod: SimPod) -> list[str]:
    spec = pod.shape.spec
    return [
        scoring.normalized_image(get_str(c, "image"))
        for key in ("initContainers", "containers")
        for _, c in iter_maps(spec, key)
        if get_str(c, "image")
    ]


def image_score(cluster: Cluster, pod: SimPod, rows: Rows) -> IntArray | None:
    """ImageLocality, from the images nodes report in ``status.images``."""
    if not cluster.has_images:
        return None
    images = _images(pod)
    containers = sum(
        len(list(iter_maps(pod.shape.spec, k)))
        for k in ("initContainers", "containers")
    )
    sums = np.zeros(len(rows), dtype=np.int64)
    for image in images:
        present = np.array(
            [cluster.nodes[int(row)].images.get(image, -1) for row in rows],
            dtype=np.int64,
        )
        holders = sum(1 for node in cluster.nodes if image in node.images)
        if holders:
            spread = holders / cluster.n
            sums += np.where(
                present >= 0, (present.astype(np.float64) * spread).astype(np.int64), 0
            )
    return scoring.image_locality(sums, containers)


def score_nodes(
    scheduler: Scheduler, pod: SimPod, rows: Rows
) -> tuple[IntArray, dict[str, IntArray]]:
    """The weighted total per node, and each plugin's normalised score."""
    cluster, profile = scheduler.cluster, scheduler.profile
    weights = profile.weights
    per: dict[str, IntArray] = {}
    if "TaintToleration" in weights:
        per["TaintToleration"] = scoring.default_normalize(
            taint_raw(cluster, pod)[rows], reverse=True
        )
    if "NodeAffinity" in weights:
        raw = affinity_raw(cluster, pod, profile)
        if raw is not None:
            per["NodeAffinity"] = scoring.default_normalize(raw[rows], reverse=False)
    if "NodeResourcesFit" in weights:
        per["NodeResourcesFit"] = fit_score(cluster, pod, profile, rows)
    per.update(scheduler.topology.scores(pod, rows, weights))
    if "NodeResourcesBalancedAllocation" in weights and not balanced_skipped(
        pod, profile, scheduler.version
    ):
        per["NodeResourcesBalancedAllocation"] = balanced_score(
            cluster, pod, profile, rows
        )
    if "ImageLocality" in weights:
        images = image_score(cluster, pod, rows)
        if images is not None:
            per["ImageLocality"] = images
    totals = np.zeros(len(rows), dtype=np.int64)
    for name, values in per.items():
        totals += weights[name] * values
    return totals, per
