"""The NVIDIA GPU Operator's driver upgrade policy, read as its upgrade controller does.

Sources (NVIDIA/gpu-operator a22dbf6, NVIDIA/k8s-operator-libs 11e747a):
- k8s-operator-libs ``api/upgrade/v1alpha1/upgrade_spec.go`` and the ClusterPolicy
  CRD (``deployments/gpu-operator/crds/nvidia.com_clusterpolicies.yaml``):
  ``DriverUpgradePolicySpec`` fields and their CRD defaults: ``autoUpgrade``
  false, ``maxParallelUpgrades`` 1 (0 = no limit), ``maxUnavailable`` "25%",
  ``podDeletion`` {force false, timeoutSeconds 300, deleteEmptyDir false},
  ``drain`` {enable false, force false, podSelector, timeoutSeconds 300 (0 =
  infinite), deleteEmptyDir false}, ``waitForCompletion`` {podSelector,
  timeoutSeconds 0 (infinite)}. The defaults of a sub-object's fields apply
  only when the sub-object is written; ``upgradePolicy`` itself has none;
- gpu-operator ``controllers/upgrade_controller.go``: the ClusterPolicy's policy
  is skipped when ``upgradePolicy`` is missing or ``autoUpgrade`` is false, when
  ``driver.useNvidiaDriverCRD`` is true (NVIDIADriver objects then carry the
  policy) and when ``sandboxWorkloads.enabled`` is true;
  ``api/nvidia/v1/clusterpolicy_types.go``: ``driver.enabled`` defaults to true;
- gpu-operator ``api/nvidia/v1alpha1/nvidiadriver_types.go`` (v26.7 and later):
  ``NVIDIADriver.spec.upgradePolicy``, ``GetUpgradePolicyWithDefaults``: autoUpgrade
  defaults to true and a missing sub-object gets its defaults;
- gpu-operator ``cmd/gpu-operator/main.go`` (``gpuPodSpecFilter``): the pods the
  controller deletes before reloading the driver are running or pending pods
  whose containers (not init containers) request or limit a resource named
  ``nvidia.com/gpu*`` or ``nvidia.com/mig-*``;
- k8s-operator-libs ``pkg/upgrade/pod_manager.go`` and ``drain_manager.go``: both
  steps use ``k8s.io/kubectl/pkg/drain.Helper`` (eviction API, DaemonSet pods
  skipped, ``DeleteEmptyDirData`` and ``Force`` from the spec, timeout 0 =
  infinite).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import (
    Path,
    Resource,
    get_map,
    get_path,
    get_str,
    iter_maps,
)
from kubernai.model.workload import PodTemplate, memoised

GROUP = "nvidia.com"
CLUSTER_POLICY = "ClusterPolicy"
NVIDIA_DRIVER = "NVIDIADriver"
POLICY_KINDS = frozenset({CLUSTER_POLICY, NVIDIA_DRIVER})
DRAIN_SKIP_LABEL = "nvidia.com/gpu-driver-upgrade-drain.skip"
"""Pods labelled ``"true"`` are left out of the drain (not of the pod deletion)."""

POD_DELETION = "podDeletion"
DRAIN = "drain"
WAIT_FOR_COMPLETION = "waitForCompletion"

DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    "": {"maxParallelUpgrades": 1, "maxUnavailable": "25%"},
    POD_DELETION: {"force": False, "timeoutSeconds": 300, "deleteEmptyDir": False},
    DRAIN: {
        "enable": False,
        "force": False,
        "podSelector": "",
        "timeoutSeconds": 300,
        "deleteEmptyDir": False,
    },
    WAIT_FOR_COMPLETION: {"podSelector": "", "timeoutSeconds": 0},
}
"""CRD defaults of the policy's fields, by sub-object ("" for top-level fields)."""

_PERCENT = re.compile(r"[+-]?[0-9]+%")
"""What ``intstr.GetScaledValueFromIntOrPercent`` accepts in a string."""
_GPU_PREFIXES = ("nvidia.com/gpu", "nvidia.com/mig-")


@dataclass(frozen=True, slots=True)
class Setting:
    """One policy field: its value after defaulting and where it is (or would be).

    ``value`` is what the manifest holds when ``explicit``, else the default;
    a value of the wrong type is kept as written (rules check the type).
    """

    value: Any
    path: Path
    explicit: bool

    def describe(self) -> str:
        """``drain.timeoutSeconds: 0`` or ``drain.timeoutSeconds: 300 (default)``."""
        name = ".".join(str(step) for step in self.path[-2:] if step != "upgradePolicy")
        text = f"{name}: {_show(self.value)}"
        return text if self.explicit else f"{text} (default)"


@dataclass(frozen=True, slots=True)
class UpgradePolicy:
    """The driver upgrade policy of a ClusterPolicy or an NVIDIADriver that is on."""

    owner: Resource
    path: Path
    """Path of ``upgradePolicy`` in the owner."""
    raw: Mapping[str, Any]

    @property
    def fills_missing_sections(self) -> bool:
        """NVIDIADriver defaults a missing sub-object; ClusterPolicy leaves it nil."""
        return self.owner.kind == NVIDIA_DRIVER

    def section(self, name: str) -> Mapping[str, Any] | None:
        """A sub-object as written; ``None`` when it is missing or not a mapping."""
        value = self.raw.get(name)
        return value if isinstance(value, Mapping) else None

    def setting(self, section: str, key: str) -> Setting:
        """A field of the policy (``section`` "" for top-level fields), defaulted."""
        holder = self.raw if not section else self.section(section)
        path = (*self.path, key) if not section else (*self.path, section, key)
        value = None if holder is None else holder.get(key)
        if value is None:
            return Setting(DEFAULTS[section][key], path, explicit=False)
        return Setting(value, path, explicit=True)

    @property
    def pod_deletion_missing(self) -> bool:
        """A ClusterPolicy policy without ``podDeletion``: the controller gets nil."""
        return not self.fills_missing_sections and self.raw.get(POD_DELETION) is None

    def describe(self) -> str:
        """``ClusterPolicy cluster-policy`` for messages."""
        return self.owner.display()


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value and value.strip() == value else repr(value)
    return str(value)


def is_gpu_operator_policy(resource: Resource) -> bool:
    """A GPU Operator ClusterPolicy or NVIDIADriver (not Kyverno's ClusterPolicy)."""
    return resource.kind in POLICY_KINDS and resource.group == GROUP


def _enabled(value: Any, *, default: bool) -> bool | None:
    """A ``*bool`` field: its value, its default when unset, else ``None``."""
    if value is None:
        return default
    return value if isinstance(value, bool) else None


def upgrade_policy(resource: Resource) -> UpgradePolicy | None:
    """The automatic driver upgrade policy ``resource`` sets, when it is in force.

    ``None`` for other objects, and where the controller would not apply this
    policy: ``autoUpgrade`` off, the driver disabled or handed to NVIDIADriver
    objects, sandbox workloads enabled, or a field of the wrong type that the
    API server rejects.
    """
    if not is_gpu_operator_policy(resource):
        return None
    return memoised(resource, "gpu-operator-upgrade-policy", lambda: _read(resource))


def _read(resource: Resource) -> UpgradePolicy | None:
    if resource.kind == CLUSTER_POLICY:
        driver = get_map(resource.raw, "spec", "driver")
        if _enabled(driver.get("enabled"), default=True) is not True:
            return None
        if _enabled(driver.get("useNvidiaDriverCRD"), default=False) is not False:
            return None
        sandbox = get_path(resource.raw, "spec", "sandboxWorkloads", "enabled")
        if _enabled(sandbox, default=False) is not False:
            return None
        path: Path = ("spec", "driver", "upgradePolicy")
        raw = get_path(resource.raw, *path)
        if not isinstance(raw, Mapping):
            return None  # no policy: automatic upgrades are off
        auto_default = False
    else:
        path = ("spec", "upgradePolicy")
        raw = get_path(resource.raw, *path)
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            return None
        auto_default = True
    if _enabled(raw.get("autoUpgrade"), default=auto_default) is not True:
        return None
    return UpgradePolicy(owner=resource, path=path, raw=raw)


def cluster_upgrade_policy(graph: ObjectGraph) -> UpgradePolicy | None:
    """The driver upgrade policy of the input's ClusterPolicy, when it is in force.

    The operator honours one ClusterPolicy and ignores the others; the first
    GPU Operator ClusterPolicy of the input stands for it. ``None`` when the
    input holds none (unknown) or its policy is off.
    """

    def build(graph: ObjectGraph) -> UpgradePolicy | None:
        for resource in graph.of_kind(CLUSTER_POLICY):
            if resource.group == GROUP:
                return upgrade_policy(resource)
        return None

    return graph.derived("gpu-operator-cluster-upgrade-policy", build)


def policy_in_force(resource: Resource, graph: ObjectGraph) -> UpgradePolicy | None:
    """:func:`upgrade_policy`; an NVIDIADriver's only if the ClusterPolicy lets it.

    NVIDIADriver objects drive upgrades when the ClusterPolicy sets
    ``driver.useNvidiaDriverCRD: true`` (or there is no ClusterPolicy); an
    input whose ClusterPolicy keeps the driver leaves them unused.
    """
    policy = upgrade_policy(resource)
    if policy is None or resource.kind != NVIDIA_DRIVER:
        return policy
    for cluster_policy in graph.of_kind(CLUSTER_POLICY):
        if cluster_policy.group == GROUP:
            value = get_path(cluster_policy.raw, "spec", "driver", "useNvidiaDriverCRD")
            if _enabled(value, default=False) is False:
                return None
            break
    return policy


# -- numbers as the controller reads them ---------------------------------------------


def as_int(value: Any) -> int | None:
    """An integer field's value (``300``, ``300.0``); ``None`` for other types."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def percent(value: Any) -> int | None:
    """The number of a ``"25%"`` int-or-string; ``None`` when it is not a percentage."""
    if isinstance(value, str) and _PERCENT.fullmatch(value) is not None:
        return int(value[:-1])
    return None


def is_int_or_percent(value: Any) -> bool:
    """Whether ``GetScaledValueFromIntOrPercent`` accepts ``value`` (int or "N%").

    Note it does not strip blanks: ``" 25%"`` fails there.
    """
    if isinstance(value, str):
        return _PERCENT.fullmatch(value) is not None
    return as_int(value) is not None


# -- the pods a driver upgrade removes -------------------------------------------------


def deleted_for_driver_upgrade(template: PodTemplate) -> bool:
    """Whether the controller deletes this template's pods before a driver reload.

    Its ``gpuPodSpecFilter``: a container (init containers do not count) names
    an ``nvidia.com/gpu*`` or ``nvidia.com/mig-*`` resource in its limits or
    requests, whatever the quantity.
    """
    return memoised(
        template,
        "gpu-operator-deletes",
        lambda: any(
            name.startswith(_GPU_PREFIXES)
            for container in template.containers
            if not container.init
            for name in container.names
        ),
    )


@dataclass(frozen=True, slots=True)
class EmptyDirVolume:
    """An ``emptyDir`` volume of a pod template."""

    name: str
    path: Path
    """Path of the volume's ``emptyDir`` field."""


def empty_dir_volumes(template: PodTemplate) -> tuple[EmptyDirVolume, ...]:
    """The template's ``emptyDir`` volumes (the drain helper's "local storage")."""
    found: list[EmptyDirVolume] = []
    for index, volume in iter_maps(template.spec, "volumes"):
        if isinstance(volume.get("emptyDir"), Mapping):
            found.append(
                EmptyDirVolume(
                    name=get_str(volume, "name"),
                    path=template.field_path("volumes", index, "emptyDir"),
                )
            )
    return tuple(found)


def has_controller(resource: Resource) -> bool:
    """Whether the object names a controller in ``metadata.ownerReferences``."""
    return any(
        owner.get("controller") is True
        for _, owner in iter_maps(resource.raw, "metadata", "ownerReferences")
    )
