"""Score plugins of the default profile, over the feasible nodes at once.

Integer arithmetic as in kube-scheduler (Go ``int64`` division truncates
toward zero); BalancedAllocation's standard deviation in float64, then
truncated; RequestedToCapacityRatio rounded half away from zero
(``math.Round``). Sources: ``noderesources/{least_allocated,most_allocated,
requested_to_capacity_ratio,balanced_allocation,resource_allocation}.go``,
``helper/shape_score.go``, ``helper/normalize_score.go``,
``tainttoleration/taint_toleration.go``, ``nodeaffinity/node_affinity.go``,
``imagelocality/image_locality.go``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from kubernai.model.scheduler_config import (
    LEAST_ALLOCATED,
    MOST_ALLOCATED,
)
from kubernai.sim.cluster import IntArray
from kubernai.sim.requests import CPU, EPHEMERAL_STORAGE, MEMORY

MAX_NODE_SCORE = 100
MAX_CUSTOM_PRIORITY_SCORE = 10
MAX_UTILIZATION = 100
FloatArray = npt.NDArray[np.float64]


def go_div(a: IntArray, b: IntArray | int) -> IntArray:
    """Go's integer division (truncation toward zero); ``b`` must be non-zero."""
    quotient = np.abs(a) // np.abs(b)
    return np.where((a < 0) != (np.asarray(b) < 0), -quotient, quotient)


def is_scalar(name: str) -> bool:
    """``IsScalarResourceName``: extended, hugepages, or a prefixed native resource."""
    return name not in (CPU, MEMORY, EPHEMERAL_STORAGE) and (
        "/" in name or name.startswith("hugepages-")
    )


def allocation_inputs(
    *,
    resources: Sequence[str],
    pod_request: Mapping[str, int],
    alloc: Mapping[str, IntArray],
    requested: Mapping[str, IntArray],
    n: int,
) -> tuple[list[IntArray], list[IntArray]]:
    """``calculateResourceAllocatableRequest`` per resource: (allocatable, requested).

    A scalar resource the pod does not request, or that a node lacks, gives
    allocatable 0, which every scorer skips.
    """
    allocs, reqs = [], []
    zeros = np.zeros(n, dtype=np.int64)
    for name in resources:
        amount = pod_request.get(name, 0)
        if (amount == 0 and is_scalar(name)) or name not in alloc:
            allocs.append(zeros)
            reqs.append(zeros)
            continue
        allocs.append(alloc[name])
        reqs.append(requested[name] + amount)
    return allocs, reqs


def least_allocated(
    allocs: list[IntArray], reqs: list[IntArray], weights: Sequence[int]
) -> IntArray:
    """LeastAllocated: Σ w·(alloc − req)·100/alloc over Σ w (0 when over)."""
    n = len(allocs[0]) if allocs else 0
    total = np.zeros(n, dtype=np.int64)
    weight_sum = np.zeros(n, dtype=np.int64)
    for alloc, req, weight in zip(allocs, reqs, weights, strict=True):
        present = alloc != 0
        safe = np.where(present, alloc, 1)
        score = np.where(req > alloc, 0, (alloc - req) * MAX_NODE_SCORE // safe)
        total += np.where(present, score * weight, 0)
        weight_sum += np.where(present, weight, 0)
    return np.where(
        weight_sum == 0, 0, total // np.where(weight_sum == 0, 1, weight_sum)
    )


def most_allocated(
    allocs: list[IntArray], reqs: list[IntArray], weights: Sequence[int]
) -> IntArray:
    """MostAllocated: Σ w·min(req, alloc)·100/alloc over Σ w."""
    n = len(allocs[0]) if allocs else 0
    total = np.zeros(n, dtype=np.int64)
    weight_sum = np.zeros(n, dtype=np.int64)
    for alloc, req, weight in zip(allocs, reqs, weights, strict=True):
        present = alloc != 0
        safe = np.where(present, alloc, 1)
        score = np.minimum(req, alloc) * MAX_NODE_SCORE // safe
        total += np.where(present, score * weight, 0)
        weight_sum += np.where(present, weight, 0)
    return np.where(
        weight_sum == 0, 0, total // np.where(weight_sum == 0, 1, weight_sum)
    )


def broken_linear(points: Sequence[tuple[int, int]], p: IntArray) -> IntArray:
    """``BuildBrokenLinearFunction`` over the (utilization, score) points."""
    result = np.full(p.shape, points[-1][1], dtype=np.int64)
    done = np.zeros(p.shape, dtype=bool)
    for i, (u, s) in enumerate(points):
        here = ~done & (p <= u)
        if i == 0:
            value = np.full(p.shape, s, dtype=np.int64)
        else:
            u0, s0 = points[i - 1]
            value = s0 + go_div((s - s0) * (p - u0), max(u - u0, 1) if u != u0 else 1)
        result = np.where(here, value, result)
        done |= here
    return result


def requested_to_capacity_ratio(
    allocs: list[IntArray],
    reqs: list[IntArray],
    weights: Sequence[int],
    shape: Sequence[tuple[int, int]],
) -> IntArray:
    """RequestedToCapacityRatio; a resource scoring 0 is left out of both sums."""
    scaled = [(u, s * (MAX_NODE_SCORE // MAX_CUSTOM_PRIORITY_SCORE)) for u, s in shape]
    n = len(allocs[0]) if allocs else 0
    total = np.zeros(n, dtype=np.int64)
    weight_sum = np.zeros(n, dtype=np.int64)
    for alloc, req, weight in zip(allocs, reqs, weights, strict=True):
        present = alloc != 0
        over = req > alloc
        safe = np.where(present, alloc, 1)
        utilization = np.where(over, MAX_UTILIZATION, req * MAX_UTILIZATION // safe)
        score = broken_linear(scaled, utilization)
        counted = present & (score > 0)
        total += np.where(counted, score * weight, 0)
        weight_sum += np.where(counted, weight, 0)
    ratio = total / np.where(weight_sum == 0, 1, weight_sum)
    rounded = np.floor(ratio + 0.5).astype(np.int64)
    return np.where(weight_sum == 0, 0, rounded)


def balanced_allocation(allocs: list[IntArray], reqs: list[IntArray]) -> IntArray:
    """BalancedAllocation (v1.31–v1.35): ``(1 − std of the fractions) · 100``."""
    n = len(allocs[0]) if allocs else 0
    count = np.zeros(n, dtype=np.int64)
    total = np.zeros(n)
    fractions: list[tuple[FloatArray, npt.NDArray[np.bool_]]] = []
    first = np.zeros(n)
    second = np.zeros(n)
    for alloc, req in zip(allocs, reqs, strict=True):
        present = alloc != 0
        fraction = np.minimum(req / np.where(present, alloc, 1), 1.0)
        fraction = np.where(present, fraction, 0.0)
        first = np.where(present & (count == 0), fraction, first)
        second = np.where(present & (count == 1), fraction, second)
        total = total + fraction
        count += present
        fractions.append((fraction, present))
    std = np.zeros(n)
    two = count == 2
    std = np.where(two, np.abs((first - second) / 2), std)
    many = count > 2
    if many.any():
        mean = total / np.where(count == 0, 1, count)
        spread = np.zeros(n)
        for fraction, present in fractions:
            spread = spread + np.where(
                present, (fraction - mean) * (fraction - mean), 0.0
            )
        std = np.where(many, np.sqrt(spread / np.where(count == 0, 1, count)), std)
    return ((1 - std) * MAX_NODE_SCORE).astype(np.int64)


def default_normalize(raw: IntArray, *, reverse: bool) -> IntArray:
    """``DefaultNormalizeScore(100, reverse)`` over the scored nodes."""
    if len(raw) == 0:
        return raw
    top = int(raw.max())
    if top <= 0:
        return np.full(raw.shape, MAX_NODE_SCORE if reverse else 0, dtype=np.int64)
    score = MAX_NODE_SCORE * raw // top
    return MAX_NODE_SCORE - score if reverse else score


MIB = 1024 * 1024
MIN_IMAGE_THRESHOLD = 23 * MIB
MAX_CONTAINER_IMAGE_THRESHOLD = 1000 * MIB


def normalized_image(name: str) -> str:
    """``normalizedImageName``: add ``:latest`` when neither tag nor digest is set."""
    tail = name.rsplit("/", 1)[-1]
    if ":" in tail or "@" in name:
        return name
    return name + ":latest"


def image_locality(sums: IntArray, containers: int) -> IntArray:
    """ImageLocality's score from the per-node sums of scaled image sizes."""
    top = MAX_CONTAINER_IMAGE_THRESHOLD * containers
    if top <= MIN_IMAGE_THRESHOLD:
        return np.zeros(sums.shape, dtype=np.int64)
    clipped = np.clip(sums, MIN_IMAGE_THRESHOLD, top)
    return (
        MAX_NODE_SCORE * (clipped - MIN_IMAGE_THRESHOLD) // (top - MIN_IMAGE_THRESHOLD)
    )


STRATEGY_NAMES = (LEAST_ALLOCATED, MOST_ALLOCATED)
