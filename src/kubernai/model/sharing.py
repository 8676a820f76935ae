"""GPU sharing as the NVIDIA device plugin configures it, and what the input says of it.

The device plugin reads a config file (``--config-file``; the GPU Operator's
``ClusterPolicy.spec.devicePlugin.config`` and the plugin chart's
``config.map`` mount one from a ConfigMap, one config per ``data`` key, chosen
per node by the node label ``nvidia.com/device-plugin.config``). Field names,
defaults and checks follow NVIDIA/k8s-device-plugin ``api/config/v1``
(``config.go``, ``sharing.go``, ``replicas.go``, ``resources.go``) at v0.20.0:

- ``version`` must be ``v1`` when set; ``flags.migStrategy`` is ``none``
  (default), ``single`` or ``mixed``; a ``MIG_STRATEGY`` environment variable
  or ``--mig-strategy`` flag overrides it, and the GPU Operator sets
  ``MIG_STRATEGY`` from ``ClusterPolicy.spec.mig.strategy`` when that is set;
- ``sharing.timeSlicing`` and ``sharing.mps`` hold ``renameByDefault``,
  ``failRequestsGreaterThanOne`` and ``resources[]`` of ``name`` (``gpu`` means
  ``nvidia.com/gpu``) and ``replicas``; a block without ``resources`` fails
  with "no resources specified", an entry without ``name`` with "no resource
  name specified", without ``replicas`` with "no replicas specified", and
  ``replicas`` below 2 with "number of replicas must be >= 2";
- when MPS is replicated it wins and ``timeSlicing`` is ignored
  (``Sharing.SharingStrategy``); ``renameByDefault`` advertises
  ``<name>.shared``; ``failRequestsGreaterThanOne`` defaults to false for
  time-slicing and to true for MPS (``NewConfig``).

Cluster-level objects (device-plugin ConfigMaps, ClusterPolicies) are taken to
describe the cluster of the workloads in their own folder and below it: a
repository that keeps one cluster's operator settings next to unrelated
examples must not have those settings applied to the examples.

``selected_values`` reads which values of a node label (GPU feature discovery's
``nvidia.com/gpu.product``, ``nvidia.com/device-plugin.config``) a pod template
restricts its nodes to.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import yaml

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import (
    Path,
    Raw,
    Resource,
    format_path,
    get_map,
    get_path,
    get_str,
    iter_maps,
)
from kubernai.model.scope import describes
from kubernai.model.workload import PodTemplate

RESOURCE_PREFIX = "nvidia.com/"
SHARED_SUFFIX = ".shared"
TIME_SLICING = "timeSlicing"
MPS = "mps"
CONFIG_LABEL = "nvidia.com/device-plugin.config"
"""Node label that picks a ConfigMap key per node (plugin chart and GPU Operator)."""
PRODUCT_LABEL = "nvidia.com/gpu.product"
MIG_STRATEGY_LABEL = "nvidia.com/mig.strategy"
"""GFD label: ``single`` or ``mixed``, not set under ``none`` (``mig-strategy.go``)."""
POLICY_GROUP = "nvidia.com"
POLICY_KIND = "ClusterPolicy"
_MAX_EMBEDDED_CHARS = 200_000
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def as_int(value: Any) -> int | None:
    """An integer as YAML gives it; ``None`` for booleans, floats and text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def full_resource_name(name: str) -> str:
    """``nvidia.com/gpu`` for ``gpu``, as ``NewResourceName`` prefixes it."""
    return name if name.startswith(RESOURCE_PREFIX) else RESOURCE_PREFIX + name


@dataclass(frozen=True, slots=True)
class ReplicatedResource:
    """One ``resources[]`` entry of a sharing block."""

    index: int
    raw: Raw

    @property
    def name(self) -> str:
        """The full resource name, or ``""`` when missing or not text."""
        name = get_str(self.raw, "name")
        return full_resource_name(name) if name else ""

    @property
    def replicas(self) -> int | None:
        """``replicas`` when it is an integer."""
        return as_int(self.raw.get("replicas"))


@dataclass(frozen=True, slots=True)
class SharingBlock:
    """``sharing.timeSlicing`` or ``sharing.mps``."""

    key: str
    raw: Raw

    @property
    def path(self) -> Path:
        """Path of the block inside the config."""
        return ("sharing", self.key)

    @property
    def label(self) -> str:
        """How messages name the sharing method."""
        return "MPS" if self.key == MPS else "time-slicing"

    @property
    def rename_by_default(self) -> bool:
        """Whether shared resources are advertised as ``<name>.shared``."""
        return self.raw.get("renameByDefault") is True

    @property
    def rejects_above_one(self) -> bool:
        """Whether the plugin fails requests for more than one shared replica."""
        value = self.raw.get("failRequestsGreaterThanOne")
        if isinstance(value, bool):
            return value
        return self.key == MPS

    @property
    def resources(self) -> tuple[ReplicatedResource, ...]:
        """The ``resources[]`` entries that are mappings."""
        entries = iter_maps(self.raw, "resources")
        return tuple(ReplicatedResource(i, r) for i, r in entries)

    @property
    def replicated(self) -> bool:
        """Whether some entry has more than one replica (``isReplicated``)."""
        return any((r.replicas or 0) > 1 for r in self.resources)

    def advertised(self) -> dict[str, ReplicatedResource]:
        """The shared resource names this block advertises, with their entries."""
        found: dict[str, ReplicatedResource] = {}
        for entry in self.resources:
            name = entry.name
            if name and (entry.replicas or 0) >= 2:
                shown = name + SHARED_SUFFIX if self.rename_by_default else name
                found.setdefault(shown, entry)
        return found


@dataclass(frozen=True)
class PluginConfig:
    """One device-plugin config held in a ConfigMap ``data`` key."""

    resource: Resource
    data_key: str
    raw: Raw

    @property
    def finding_path(self) -> Path:
        """Where findings on this config point: its ``data`` key."""
        return ("data", self.data_key)

    def describe(self, inner: Path) -> str:
        """How messages name the field at ``inner``."""
        return f"data[{self.data_key}]: {format_path(inner)}"

    @property
    def mig_strategy(self) -> str:
        """``flags.migStrategy`` as written, ``""`` when not set."""
        return get_str(self.raw, "flags", "migStrategy")

    def block(self, key: str) -> SharingBlock | None:
        """``sharing.<key>`` when it is a mapping."""
        raw = get_path(self.raw, "sharing", key)
        return SharingBlock(key, raw) if isinstance(raw, Mapping) else None

    @cached_property
    def active(self) -> SharingBlock | None:
        """The block the plugin shares with: MPS when replicated, else time-slicing."""
        for key in (MPS, TIME_SLICING):
            block = self.block(key)
            if block is not None and block.replicated:
                return block
        return None

    @cached_property
    def shared_names(self) -> frozenset[str]:
        """The resource names this config advertises as shared."""
        block = self.active
        return frozenset(block.advertised()) if block is not None else frozenset()


def _is_plugin_config(raw: Any) -> bool:
    if not isinstance(raw, Mapping):
        return False
    version = raw.get("version")
    if version is not None and version != "v1":
        return False
    sharing = raw.get("sharing")
    if isinstance(sharing, Mapping) and (TIME_SLICING in sharing or MPS in sharing):
        return True
    return isinstance(get_path(raw, "flags", "migStrategy"), str)


@lru_cache(maxsize=256)
def _embedded(text: str) -> Raw | None:
    """The device-plugin config in one ConfigMap value; aliases are refused."""
    if len(text) > _MAX_EMBEDDED_CHARS or "{{" in text:
        return None  # too large, or a template that is not rendered yet
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            if isinstance(event, yaml.AliasEvent):
                return None
        raw = yaml.load(text, Loader=_LOADER)  # a safe loader (CSafeLoader)
    except (yaml.YAMLError, RecursionError, ValueError):
        return None
    return raw if _is_plugin_config(raw) else None


def plugin_configs_in(resource: Resource) -> tuple[PluginConfig, ...]:
    """The device-plugin configs a ConfigMap holds, one per ``data`` key."""
    if resource.kind != "ConfigMap":
        return ()
    found = []
    for key, value in get_map(resource.raw, "data").items():
        if not isinstance(key, str) or not isinstance(value, str):
            continue
        if "sharing" not in value and "migStrategy" not in value:
            continue
        raw = _embedded(value)
        if raw is not None:
            found.append(PluginConfig(resource, key, raw))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class ClusterPolicyFacts:
    """What a GPU Operator ClusterPolicy says about MIG and the plugin config."""

    resource: Resource

    @property
    def mig_strategy(self) -> str:
        """``spec.mig.strategy`` (``""`` when unset: the plugin decides per node)."""
        return get_str(self.resource.raw, "spec", "mig", "strategy")

    @property
    def plugin_config_name(self) -> str:
        """``spec.devicePlugin.config.name``: the ConfigMap of plugin configs."""
        return get_str(self.resource.raw, "spec", "devicePlugin", "config", "name")


class SharingIndex:
    """Device-plugin configs and ClusterPolicies of the input, parsed once per graph."""

    def __init__(self, graph: ObjectGraph) -> None:
        self._graph = graph
        self._configs_by_file: dict[str, tuple[PluginConfig, ...]] = {}

    @cached_property
    def _by_configmap(self) -> dict[int, tuple[PluginConfig, ...]]:
        found = {}
        for configmap in self._graph.of_kind("ConfigMap"):
            configs = plugin_configs_in(configmap)
            if configs:
                found[id(configmap)] = configs
        return found

    def configs_of(self, configmap: Resource) -> tuple[PluginConfig, ...]:
        """The plugin configs held by one ConfigMap of the graph."""
        return self._by_configmap.get(id(configmap), ())

    @cached_property
    def configs(self) -> tuple[PluginConfig, ...]:
        """Every plugin config in the input."""
        return tuple(c for configs in self._by_configmap.values() for c in configs)

    @cached_property
    def policies(self) -> tuple[ClusterPolicyFacts, ...]:
        """Every GPU Operator ClusterPolicy in the input."""
        return tuple(
            ClusterPolicyFacts(r)
            for r in self._graph.of_kind(POLICY_KIND)
            if r.group == POLICY_GROUP
        )

    def configs_for(self, workload: Resource) -> tuple[PluginConfig, ...]:
        """Plugin configs taken to describe the workload's cluster."""
        file = workload.source.file
        found = self._configs_by_file.get(file)
        if found is None:
            found = tuple(c for c in self.configs if describes(c.resource, workload))
            self._configs_by_file[file] = found
        return found

    def policies_for(self, workload: Resource) -> tuple[ClusterPolicyFacts, ...]:
        """ClusterPolicies taken to describe the workload's cluster."""
        if not self.policies:
            return ()
        return tuple(p for p in self.policies if describes(p.resource, workload))

    def policies_naming(self, configmap: Resource) -> tuple[ClusterPolicyFacts, ...]:
        """ClusterPolicies over a ConfigMap's cluster that name it as plugin config."""
        return tuple(
            p
            for p in self.policies
            if p.plugin_config_name == configmap.name
            and describes(p.resource, configmap)
        )


_INDEXES: weakref.WeakKeyDictionary[ObjectGraph, SharingIndex] = (
    weakref.WeakKeyDictionary()
)


def sharing_index(graph: ObjectGraph) -> SharingIndex:
    """The sharing index of ``graph`` (built on first use, then reused)."""
    index = _INDEXES.get(graph)
    if index is None:
        index = _INDEXES[graph] = SharingIndex(graph)
    return index


# -- node labels a pod template selects ----------------------------------------------


def selected_values(template: PodTemplate, key: str) -> tuple[str, ...] | None:
    """The values a template restricts node label ``key`` to; ``None`` if it does not.

    ``nodeSelector`` gives one value. Otherwise every required node-affinity
    term (terms are alternatives) must hold ``key In [...]``; the answer is
    the union of their values.
    """
    spec = template.spec
    selector = spec.get("nodeSelector")
    if selector is not None and isinstance(selector, Mapping) and key in selector:
        value = selector[key]
        return (value,) if isinstance(value, str) else None
    affinity = spec.get("affinity")
    if affinity is None:
        return None
    terms = get_path(
        affinity,
        "nodeAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
        "nodeSelectorTerms",
    )
    if not isinstance(terms, list) or not terms:
        return None
    values: list[str] = []
    for term in terms:
        if not isinstance(term, Mapping):
            return None
        allowed = _term_values(term, key)
        if allowed is None:
            return None
        values.extend(allowed)
    return tuple(dict.fromkeys(values))


def _term_values(term: Raw, key: str) -> list[str] | None:
    for _, expression in iter_maps(term, "matchExpressions"):
        if expression.get("key") == key and expression.get("operator") == "In":
            found = expression.get("values")
            if isinstance(found, list) and all(isinstance(v, str) for v in found):
                return list(found)
            return None
    return None
