"""KubeSchedulerConfiguration: profiles, score weights and NodeResourcesFit scoring.

A configuration is read from its own document (``apiVersion:
kubescheduler.config.k8s.io/v1``, ``kind: KubeSchedulerConfiguration``), from
YAML text in a ConfigMap's ``data``, which a kube-scheduler Deployment mounts
and reads with ``--config``, or from ``spec.rawConfig`` of an AKS
``SchedulerConfiguration`` (``aks.azure.com``, "Configure advanced scheduler
profiles on AKS").

Field names and defaults follow ``k8s.io/kube-scheduler/config/v1``
(``types.go``, ``types_pluginargs.go``) and kubernetes
``pkg/scheduler/apis/config/v1/defaults.go``:

- a configuration with one profile and no ``schedulerName`` serves
  ``default-scheduler`` (``SetDefaults_KubeSchedulerConfiguration``);
- ``NodeResourcesFit`` without ``scoringStrategy`` scores ``LeastAllocated``
  over ``cpu`` and ``memory`` with weight 1 each; a strategy whose
  ``resources`` list is empty gets the same two; a resource weight of 0, or
  none, becomes 1 (``SetDefaults_NodeResourcesFitArgs``); the strategy
  ``type`` is not defaulted when ``scoringStrategy`` is written;
- ``NodeResourcesBalancedAllocation`` resource weights default the same way.
"""

from __future__ import annotations

import json
import posixpath
import re
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import cache, cached_property, lru_cache
from importlib import resources
from typing import Any

import yaml

from kubernai.model.gpu import accelerator_names, is_accelerator
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import (
    Path,
    Raw,
    Resource,
    format_path,
    get_list,
    get_map,
    get_path,
    get_str,
    iter_maps,
)

GROUP = "kubescheduler.config.k8s.io"
KIND = "KubeSchedulerConfiguration"
DEFAULT_SCHEDULER = "default-scheduler"
LEAST_ALLOCATED = "LeastAllocated"
MOST_ALLOCATED = "MostAllocated"
REQUESTED_TO_CAPACITY_RATIO = "RequestedToCapacityRatio"
STRATEGY_TYPES = (LEAST_ALLOCATED, MOST_ALLOCATED, REQUESTED_TO_CAPACITY_RATIO)
"""``supportedScoringStrategyTypes`` in ``validation_pluginargs.go``."""
FIT = "NodeResourcesFit"
BALANCED_ALLOCATION = "NodeResourcesBalancedAllocation"
INTER_POD_AFFINITY = "InterPodAffinity"
AKS_GROUP = "aks.azure.com"
AKS_KIND = "SchedulerConfiguration"
CARRIER_KINDS = frozenset({KIND, "ConfigMap", AKS_KIND})
"""Kinds that can hold a configuration: what the config rules run on."""
_DEFAULT_RESOURCES = (("cpu", 1), ("memory", 1))
_MAX_EMBEDDED_CHARS = 1_000_000
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SCHEDULER_NAME_FLAG = re.compile(r"--scheduler-name(?:=|\s+)([A-Za-z0-9.-]+)")
_SCHEDULER_NAME_FIELD = re.compile(
    r"""schedulerName["']?\s*:\s*["']?([A-Za-z0-9.-]+)"""
)


def as_int(value: Any) -> int | None:
    """An integer as YAML gives it; ``None`` for booleans, floats and text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


@dataclass(frozen=True, slots=True)
class WeightedResource:
    """One ``resources[]`` entry: a resource name and its weight after defaulting."""

    path: Path
    """Path of the entry inside the configuration."""
    name: str
    weight: int | None
    """The weight after defaulting (0 or none is 1); ``None`` when not an integer."""


@dataclass(frozen=True, slots=True)
class ShapePoint:
    """One ``requestedToCapacityRatio.shape[]`` point (a missing field reads 0)."""

    path: Path
    utilization: int
    score: int


@dataclass(frozen=True, slots=True)
class ScoringStrategy:
    """``NodeResourcesFit`` ``scoringStrategy`` of a profile, defaults applied."""

    path: Path
    """Path of ``scoringStrategy`` (or where it would be) inside the configuration."""
    written: bool
    """Whether the configuration writes ``scoringStrategy`` at all."""
    type: str
    """The strategy type; ``""`` when a written strategy leaves it out."""
    resources: tuple[WeightedResource, ...]
    resources_written: bool
    ratio_written: bool
    """Whether ``requestedToCapacityRatio`` is written."""
    shape: tuple[ShapePoint, ...] | None
    """The shape points; ``None`` when the shape is absent or malformed."""

    @property
    def shape_path(self) -> Path:
        """Path of ``requestedToCapacityRatio.shape``."""
        return (*self.path, "requestedToCapacityRatio", "shape")

    @property
    def resources_path(self) -> Path:
        """Path of ``resources`` (of the strategy when the list is defaulted)."""
        return (*self.path, "resources") if self.resources_written else self.path

    def _rising(self) -> bool | None:
        """True when the shape's score rises, False when it falls, else None."""
        if not self.shape or self.shape[-1].score == self.shape[0].score:
            return None
        return self.shape[-1].score > self.shape[0].score

    @property
    def packs(self) -> bool:
        """Whether fuller nodes score higher: MostAllocated or a rising shape."""
        if self.type == MOST_ALLOCATED:
            return True
        return self.type == REQUESTED_TO_CAPACITY_RATIO and self._rising() is True

    @property
    def spreads(self) -> bool:
        """Whether emptier nodes score higher: LeastAllocated or a falling shape."""
        if self.type == LEAST_ALLOCATED:
            return True
        return self.type == REQUESTED_TO_CAPACITY_RATIO and self._rising() is False

    def weight_share(self, entry: WeightedResource) -> Fraction | None:
        """The entry's share of the summed weights, or ``None`` when unknown."""
        weights = [r.weight for r in self.resources]
        if entry.weight is None or any(w is None or w <= 0 for w in weights):
            return None
        return Fraction(entry.weight, sum(w for w in weights if w is not None))


@dataclass(frozen=True, slots=True)
class Profile:
    """One ``profiles[]`` entry of a configuration."""

    index: int
    raw: Raw
    scheduler_name: str
    """``schedulerName``; ``default-scheduler`` for a lone unnamed profile."""

    @property
    def path(self) -> Path:
        """Path of the profile inside the configuration."""
        return ("profiles", self.index)

    @property
    def label(self) -> str:
        """How messages name the profile."""
        name = f" ({self.scheduler_name})" if self.scheduler_name else ""
        return f"profiles[{self.index}]{name}"

    def plugin_args(self, plugin: str) -> tuple[Path, Raw] | None:
        """Path and ``args`` of the first ``pluginConfig`` entry for ``plugin``."""
        for index, item in iter_maps(self.raw, "pluginConfig"):
            if get_str(item, "name") == plugin:
                path: Path = (*self.path, "pluginConfig", index, "args")
                return path, get_map(item, "args")
        return None

    def scores_with(self, plugin: str) -> bool:
        """Whether the profile leaves an in-tree (default) score plugin scoring.

        ``plugins.score`` overrides ``plugins.multiPoint``; ``"*"`` disables
        every default plugin of its extension point.
        """
        plugins = get_map(self.raw, "plugins")

        def names(point: str, which: str) -> set[str]:
            return {get_str(p, "name") for _, p in iter_maps(plugins, point, which)}

        if plugin in names("score", "enabled"):
            return True
        score_off = names("score", "disabled")
        if plugin in score_off or "*" in score_off:
            return False
        if plugin in names("multiPoint", "enabled"):
            return True
        multi_off = names("multiPoint", "disabled")
        return plugin not in multi_off and "*" not in multi_off

    def fit_strategy(self) -> ScoringStrategy:
        """The ``NodeResourcesFit`` scoring strategy, defaults applied."""
        found = self.plugin_args(FIT)
        args_path, args = found if found else ((*self.path, "pluginConfig"), {})
        path: Path = (*args_path, "scoringStrategy") if found else args_path
        raw = args.get("scoringStrategy")
        if not isinstance(raw, Mapping):
            defaults = tuple(
                WeightedResource(path, name, weight)
                for name, weight in _DEFAULT_RESOURCES
            )
            return ScoringStrategy(
                path=path,
                written=False,
                type=LEAST_ALLOCATED,
                resources=defaults,
                resources_written=False,
                ratio_written=False,
                shape=None,
            )
        listed = _weighted(raw, "resources", base=path)
        ratio = raw.get("requestedToCapacityRatio")
        kind = raw.get("type")
        return ScoringStrategy(
            path=path,
            written=True,
            type=kind if isinstance(kind, str) else "" if kind is None else str(kind),
            resources=listed
            or tuple(WeightedResource(path, n, w) for n, w in _DEFAULT_RESOURCES),
            resources_written=bool(listed),
            ratio_written=isinstance(ratio, Mapping),
            shape=_shape(ratio, (*path, "requestedToCapacityRatio", "shape")),
        )


def _weighted(raw: Raw, key: str, *, base: Path) -> tuple[WeightedResource, ...]:
    found = []
    for index, item in iter_maps(raw, key):
        name = get_str(item, "name")
        written = item.get("weight")
        weight = 1 if written is None else as_int(written)
        if weight == 0:
            weight = 1
        found.append(WeightedResource((*base, key, index), name, weight))
    return tuple(found)


def weighted_resources(args: Raw, base: Path) -> tuple[WeightedResource, ...]:
    """``args.resources`` of a plugin (BalancedAllocation), weights defaulted."""
    return _weighted(args, "resources", base=base)


def _zero_if_null(value: Any) -> Any:
    return 0 if value is None else value


def _shape(ratio: Any, path: Path) -> tuple[ShapePoint, ...] | None:
    if not isinstance(ratio, Mapping):
        return None
    points = ratio.get("shape")
    if points is None:
        return ()
    if not isinstance(points, list):
        return None
    shape = []
    for index, point in enumerate(points):
        if not isinstance(point, Mapping):
            return None
        utilization = as_int(_zero_if_null(point.get("utilization")))
        score = as_int(_zero_if_null(point.get("score")))
        if utilization is None or score is None:
            return None
        shape.append(ShapePoint((*path, index), utilization, score))
    return tuple(shape)


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    """One KubeSchedulerConfiguration, as a document or inside a ConfigMap."""

    resource: Resource
    raw: Raw
    text_path: Path = ()
    """Path of the text field holding the configuration; ``()`` for a document."""

    def finding_path(self, inner: Path) -> Path:
        """Where a finding on ``inner`` points in the object."""
        return self.text_path or inner

    def prefix(self, inner: Path) -> str:
        """Message prefix naming the field at ``inner`` inside embedded text.

        Empty for a document, whose finding path already names the field.
        """
        if not self.text_path:
            return ""
        field = format_path(inner) or "configuration"
        return f"{format_path(self.text_path)} {field}: "

    @property
    def profiles(self) -> tuple[Profile, ...]:
        """The profiles, with ``schedulerName`` defaulted for a lone profile."""
        items = list(iter_maps(self.raw, "profiles"))
        lone = len(get_list(self.raw, "profiles")) == 1
        found = []
        for index, item in items:
            name = get_str(item, "schedulerName")
            if not name and lone and get_path(item, "schedulerName") is None:
                name = DEFAULT_SCHEDULER
            found.append(Profile(index, item, name))
        return tuple(found)

    @property
    def scheduler_names(self) -> tuple[str, ...]:
        """The scheduler names this configuration serves."""
        if not get_list(self.raw, "profiles"):
            return (DEFAULT_SCHEDULER,)  # an empty list gets one default profile
        return tuple(p.scheduler_name for p in self.profiles if p.scheduler_name)


def _is_config(raw: Any) -> bool:
    if not isinstance(raw, Mapping) or raw.get("kind") != KIND:
        return False
    version = raw.get("apiVersion")
    return isinstance(version, str) and version.startswith(GROUP + "/")


@lru_cache(maxsize=32)
def _embedded(text: str) -> tuple[Raw, ...]:
    """Configurations in one ConfigMap value; anchors and aliases are refused."""
    if len(text) > _MAX_EMBEDDED_CHARS:
        return ()
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            if isinstance(event, yaml.AliasEvent):
                return ()
        documents = list(yaml.load_all(text, Loader=_LOADER))
    except (yaml.YAMLError, RecursionError, ValueError):
        return ()
    return tuple(d for d in documents if _is_config(d))


def configs_in(resource: Resource) -> tuple[SchedulerConfig, ...]:
    """The configurations an object holds (none for kinds that hold none)."""
    kind = resource.kind
    if kind == KIND:
        if resource.group != GROUP:
            return ()
        return (SchedulerConfig(resource, resource.raw),)
    if kind == AKS_KIND:
        if resource.group != AKS_GROUP:
            return ()
        texts = [(("spec", "rawConfig"), get_path(resource.raw, "spec", "rawConfig"))]
    elif kind == "ConfigMap":
        data = get_map(resource.raw, "data")
        texts = [(("data", key), value) for key, value in data.items()]
    else:
        return ()
    found: list[SchedulerConfig] = []
    for path, value in texts:
        if isinstance(value, str) and KIND in value and isinstance(path[-1], str):
            found.extend(
                SchedulerConfig(resource, raw, path) for raw in _embedded(value)
            )
    return tuple(found)


@dataclass(frozen=True, slots=True)
class AcceleratorUser:
    """A workload in the input whose pods request accelerators."""

    resource: Resource
    names: tuple[str, ...]


class SchedulerIndex:
    """What the input says about schedulers, computed once per object graph."""

    def __init__(self, graph: ObjectGraph) -> None:
        # A weak reference: the index is the value of a WeakKeyDictionary
        # keyed by the graph, which a strong one would keep alive forever.
        self._ref = weakref.ref(graph)

    @property
    def _graph(self) -> ObjectGraph:
        graph = self._ref()
        return graph if graph is not None else ObjectGraph(())

    @cached_property
    def configs(self) -> tuple[SchedulerConfig, ...]:
        """Every KubeSchedulerConfiguration in the input."""
        graph = self._graph
        return tuple(
            config
            for kind in sorted(CARRIER_KINDS)
            for resource in graph.of_kind(kind)
            for config in configs_in(resource)
        )

    @cached_property
    def profile_names(self) -> frozenset[str]:
        """Scheduler names the configurations in the input serve."""
        return frozenset(n for c in self.configs for n in c.scheduler_names)

    @cached_property
    def config_folders(self) -> frozenset[str]:
        """Folders of the files that hold the configurations."""
        return frozenset(folder_of(c.resource) for c in self.configs)

    @cached_property
    def mentioned_names(self) -> frozenset[str]:
        """Scheduler names set up elsewhere in the input.

        ``--scheduler-name`` flags in container commands, and ``schedulerName:``
        in ConfigMap text (configurations of other schedulers or versions).
        """
        names: set[str] = set()
        for resource in self._graph.of_kind("ConfigMap"):
            for value in get_map(resource.raw, "data").values():
                if isinstance(value, str) and "schedulerName" in value:
                    names.update(_SCHEDULER_NAME_FIELD.findall(value))
        for resource in self._graph.resources:
            for template in resource.templates:
                for container in template.containers:
                    words = [
                        w
                        for key in ("command", "args")
                        for w in get_list(container.raw, key)
                        if isinstance(w, str)
                    ]
                    if any("--scheduler-name" in w for w in words):
                        names.update(_SCHEDULER_NAME_FLAG.findall(" ".join(words)))
        return frozenset(names)

    @cached_property
    def accelerator_users(self) -> Mapping[str, tuple[AcceleratorUser, ...]]:
        """Workloads requesting accelerators, by the scheduler name their pods set."""
        users: dict[str, list[AcceleratorUser]] = {}
        for resource in self._graph.resources:
            for template in resource.templates:
                names = tuple(
                    dict.fromkeys(
                        n for c in template.containers for n in accelerator_names(c)
                    )
                )
                if not names:
                    continue
                scheduler = get_str(template.spec, "schedulerName") or DEFAULT_SCHEDULER
                users.setdefault(scheduler, []).append(AcceleratorUser(resource, names))
        return {name: tuple(found) for name, found in users.items()}


def folder_of(resource: Resource) -> str:
    """The folder of the file an object was read from (its bundle)."""
    return posixpath.dirname(resource.source.file.replace("\\", "/"))


_INDEXES: weakref.WeakKeyDictionary[ObjectGraph, SchedulerIndex] = (
    weakref.WeakKeyDictionary()
)


def scheduler_index(graph: ObjectGraph) -> SchedulerIndex:
    """The scheduler index of ``graph`` (built on first use, then reused)."""
    index = _INDEXES.get(graph)
    if index is None:
        index = _INDEXES[graph] = SchedulerIndex(graph)
    return index


def accelerators_in(strategy: ScoringStrategy) -> Iterator[WeightedResource]:
    """The strategy's resources that are accelerators."""
    return (r for r in strategy.resources if is_accelerator(r.name))


@cache
def external_schedulers() -> frozenset[str]:
    """Default names of schedulers that run outside kube-scheduler profiles."""
    text = (
        resources.files("kubernai")
        .joinpath("data/external_schedulers.json")
        .read_text("utf-8")
    )
    return frozenset(item["name"] for item in json.loads(text)["schedulers"])
