"""The scheduling profile: which plugins run, their weights and their args.

Defaults are kube-scheduler's (``pkg/scheduler/apis/config/v1``
``default_plugins.go`` and ``defaults.go``); a KubeSchedulerConfiguration
(``--scheduler-config``) changes them for the profile that serves
``default-scheduler``: ``plugins.{multiPoint,filter,score}.{enabled,disabled}``
(``*`` disables every default of that point), score weights,
``NodeResourcesFitArgs`` (``scoringStrategy``, ``ignoredResources``,
``ignoredResourceGroups``), ``NodeResourcesBalancedAllocationArgs``,
``NodeAffinityArgs.addedAffinity``, ``DefaultPreemptionArgs``,
``InterPodAffinityArgs`` and ``percentageOfNodesToScore``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubernai.errors import InputError
from kubernai.load.files import load_paths
from kubernai.model.resource import get_map, get_str, iter_maps
from kubernai.model.scheduler_config import (
    DEFAULT_SCHEDULER,
    LEAST_ALLOCATED,
    MOST_ALLOCATED,
    REQUESTED_TO_CAPACITY_RATIO,
    configs_in,
    weighted_resources,
)
from kubernai.model.scheduler_config import (
    Profile as ConfigProfile,
)

FILTERS = (
    "NodeUnschedulable",
    "NodeName",
    "TaintToleration",
    "NodeAffinity",
    "NodePorts",
    "NodeResourcesFit",
    "PodTopologySpread",
    "InterPodAffinity",
)
DEFAULT_WEIGHTS: Mapping[str, int] = {
    "TaintToleration": 3,
    "NodeAffinity": 2,
    "NodeResourcesFit": 1,
    "PodTopologySpread": 2,
    "InterPodAffinity": 2,
    "NodeResourcesBalancedAllocation": 1,
    "ImageLocality": 1,
}
STRATEGIES = (LEAST_ALLOCATED, MOST_ALLOCATED, REQUESTED_TO_CAPACITY_RATIO)


@dataclass(frozen=True, slots=True)
class Profile:
    """A scheduling profile with defaults applied."""

    weights: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    """Weights of the score plugins that run."""
    filters: frozenset[str] = frozenset(FILTERS)
    strategy: str = LEAST_ALLOCATED
    fit_resources: tuple[tuple[str, int], ...] = (("cpu", 1), ("memory", 1))
    shape: tuple[tuple[int, int], ...] = ((0, 10), (100, 0))
    """RequestedToCapacityRatio shape as (utilization, score 0..10) points."""
    balanced_resources: tuple[str, ...] = ("cpu", "memory")
    ignored_resources: frozenset[str] = frozenset()
    ignored_groups: frozenset[str] = frozenset()
    added_affinity: Mapping[str, Any] = field(default_factory=dict)
    percentage_of_nodes_to_score: int = 0
    min_candidate_percentage: int = 10
    min_candidate_absolute: int = 100
    hard_pod_affinity_weight: int = 1
    preemption: bool = True
    system_spreading: bool = True
    """PodTopologySpread ``defaultingType: System`` (else List)."""
    default_constraints: tuple[Mapping[str, Any], ...] = ()


def validate_fit_resources(resources: Any) -> None:
    """``ValidateNodeResourcesFitArgs``: each weight within 1..100."""
    for index, item in enumerate(resources or ()):
        weight = item.get("weight") if isinstance(item, Mapping) else None
        if weight is None or weight == 0:
            continue  # the v1 API defaults an omitted or 0 weight to 1
        if not isinstance(weight, int) or not 1 <= weight <= 100:
            raise InputError(
                f"scheduler config: scoringStrategy.resources[{index}].weight: "
                f"Invalid value: {weight}: resource weight of {item.get('name')} "
                "should be in the range [1, 100]"
            )


def _int(value: Any, default: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return default


def _names(plugins: Mapping[str, Any], point: str, which: str) -> dict[str, int]:
    found = {}
    for _, item in iter_maps(plugins, point, which):
        found[get_str(item, "name")] = _int(item.get("weight"), 0)
    return found


def profile_from_config(
    profile: ConfigProfile, global_raw: Mapping[str, Any]
) -> Profile:
    """The effective profile from one ``profiles[]`` entry of a configuration."""
    plugins = get_map(profile.raw, "plugins")
    weights = dict(DEFAULT_WEIGHTS)
    filters = set(FILTERS)
    preemption = True
    multi_off = _names(plugins, "multiPoint", "disabled")
    if "*" in multi_off:
        weights.clear()
        filters.clear()
        preemption = False
    for name in multi_off:
        weights.pop(name, None)
        filters.discard(name)
        if name == "DefaultPreemption":
            preemption = False
    for name, weight in _names(plugins, "multiPoint", "enabled").items():
        if name in DEFAULT_WEIGHTS or name in FILTERS:
            if name in DEFAULT_WEIGHTS:
                weights[name] = weight or DEFAULT_WEIGHTS[name]
            if name in FILTERS:
                filters.add(name)
        if name == "DefaultPreemption":
            preemption = True
    score_off = _names(plugins, "score", "disabled")
    if "*" in score_off:
        weights.clear()
    for name in score_off:
        weights.pop(name, None)
    for name, weight in _names(plugins, "score", "enabled").items():
        if name in DEFAULT_WEIGHTS:
            weights[name] = weight or DEFAULT_WEIGHTS[name]
    filter_off = _names(plugins, "filter", "disabled")
    if "*" in filter_off:
        filters.clear()
    filters -= set(filter_off)
    filters |= {n for n in _names(plugins, "filter", "enabled") if n in FILTERS}
    post_off = _names(plugins, "postFilter", "disabled")
    if "*" in post_off or "DefaultPreemption" in post_off:
        preemption = False

    strategy = profile.fit_strategy()
    kind = strategy.type or LEAST_ALLOCATED
    if kind not in STRATEGIES:
        raise InputError(f"scheduler config: unknown scoringStrategy type {kind!r}")
    fit_args = profile.plugin_args("NodeResourcesFit")
    fit_raw = fit_args[1] if fit_args else {}
    validate_fit_resources(get_map(fit_raw, "scoringStrategy").get("resources"))
    shape: tuple[tuple[int, int], ...] = ((0, 10), (100, 0))
    if strategy.shape:
        shape = tuple((p.utilization, p.score) for p in strategy.shape)
    balanced = profile.plugin_args("NodeResourcesBalancedAllocation")
    balanced_names: tuple[str, ...] = ("cpu", "memory")
    if balanced:
        listed = weighted_resources(balanced[1], balanced[0])
        if listed:
            balanced_names = tuple(r.name for r in listed)
    affinity = profile.plugin_args("NodeAffinity")
    preempt_args = profile.plugin_args("DefaultPreemption")
    preempt_raw = preempt_args[1] if preempt_args else {}
    ipa = profile.plugin_args("InterPodAffinity")
    spread = profile.plugin_args("PodTopologySpread")
    spread_raw = spread[1] if spread else {}
    percentage = profile.raw.get("percentageOfNodesToScore")
    if percentage is None:
        percentage = global_raw.get("percentageOfNodesToScore")
    return Profile(
        weights=weights,
        filters=frozenset(filters),
        strategy=kind,
        fit_resources=tuple((r.name, r.weight or 1) for r in strategy.resources),
        shape=shape,
        balanced_resources=balanced_names,
        ignored_resources=frozenset(
            str(r) for r in fit_raw.get("ignoredResources") or ()
        ),
        ignored_groups=frozenset(
            str(g) for g in fit_raw.get("ignoredResourceGroups") or ()
        ),
        added_affinity=get_map(affinity[1], "addedAffinity") if affinity else {},
        percentage_of_nodes_to_score=_int(percentage, 0),
        min_candidate_percentage=_int(
            preempt_raw.get("minCandidateNodesPercentage"), 10
        ),
        min_candidate_absolute=_int(preempt_raw.get("minCandidateNodesAbsolute"), 100),
        hard_pod_affinity_weight=_int(
            ipa[1].get("hardPodAffinityWeight") if ipa else None, 1
        ),
        preemption=preemption,
        system_spreading=get_str(spread_raw, "defaultingType") != "List",
        default_constraints=tuple(
            c for _, c in iter_maps(spread_raw, "defaultConstraints")
        ),
    )


def load_profile(path: str, scheduler_name: str = DEFAULT_SCHEDULER) -> Profile:
    """The profile serving ``scheduler_name`` in a KubeSchedulerConfiguration file."""
    loaded = load_paths([path])
    if loaded.invalid:
        first = loaded.invalid[0]
        raise InputError(f"{first.file}:{first.line}: {first.reason}")
    for resource in loaded.resources:
        for config in configs_in(resource):
            profiles = config.profiles
            if not profiles:
                return Profile()
            for profile in profiles:
                if profile.scheduler_name == scheduler_name:
                    return profile_from_config(profile, config.raw)
            raise InputError(
                f"{path}: no profile serves schedulerName {scheduler_name!r}"
            )
    raise InputError(f"{path}: no KubeSchedulerConfiguration found")
