"""Autoscalers: what an HPA or a KEDA ScaledObject scales, on which metrics, how fast.

Sources:
- HPA API and defaulting: kubernetes ``pkg/apis/autoscaling/{v1,v2,v2beta1,
  v2beta2}`` (``SetDefaults_HorizontalPodAutoscaler``: no metrics means one
  ``Resource`` metric, cpu, ``Utilization`` 80 %; autoscaling/v1 without
  ``targetCPUUtilizationPercentage`` gets the same in conversion), and
  ``pkg/controller/podautoscaler`` (``calculatePodRequests`` sums the requests
  of the app containers and, since 1.29, of restartable init containers;
  the scale-down stabilization window defaults to the kube-controller-manager
  flag ``--horizontal-pod-autoscaler-downscale-stabilization``, 5m0s);
- KEDA ``keda.sh/v1alpha1`` ScaledObject (keda-docs ``reference/
  scaledobject-spec.md``, ``scalers/cpu.md``): ``scaleTargetRef`` defaults to
  ``apps/v1`` ``Deployment``; ``minReplicaCount`` 0; ``cooldownPeriod`` 300 s
  and only for scaling to zero; ``advanced.horizontalPodAutoscalerConfig``
  ``{name (keda-hpa-<name>), behavior}``; cpu and memory triggers take
  ``metricType`` (or the deprecated ``metadata.type``) and
  ``metadata.containerName``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kubernai.model.graph import ObjectGraph
from kubernai.model.quantity import parse_count
from kubernai.model.resource import (
    Path,
    Resource,
    get_map,
    get_path,
    get_str,
    iter_maps,
)
from kubernai.model.workload import Container, PodTemplate

HPA = "HorizontalPodAutoscaler"
SCALED_OBJECT = "ScaledObject"
AUTOSCALER_KINDS = frozenset({HPA, SCALED_OBJECT})

UTILIZATION = "Utilization"
HOST_RESOURCES = frozenset({"cpu", "memory"})
"""What the resource metrics API (metrics-server) reports per pod."""

DEFAULT_CPU_UTILIZATION = 80
DEFAULT_SCALE_DOWN_WINDOW_S = 300
"""kube-controller-manager ``--horizontal-pod-autoscaler-downscale-stabilization``."""
KEDA_DEFAULT_MIN_REPLICAS = 0
KEDA_DEFAULT_MAX_REPLICAS = 100
KEDA_DEFAULT_COOLDOWN_S = 300
KEDA_HPA_PREFIX = "keda-hpa-"
KEDA_TRANSFER_OWNERSHIP = "scaledobject.keda.sh/transfer-hpa-ownership"

_V2BETA1_TARGETS = (
    ("targetAverageUtilization", UTILIZATION),
    ("targetAverageValue", "AverageValue"),
)


@dataclass(frozen=True, slots=True)
class ScaleMetric:
    """One signal an autoscaler scales on.

    ``source`` is the HPA metric type (``Resource``, ``ContainerResource``,
    ``Pods``, ``Object``, ``External``) or the KEDA trigger type (``cpu``,
    ``prometheus``...). ``resource`` is the resource name of a Resource or
    ContainerResource metric and of KEDA cpu/memory triggers, else ``""``.
    """

    source: str
    resource: str
    target_type: str
    """``Utilization``, ``AverageValue``, ``Value``, or ``""`` when not said."""
    container: str
    """The one container measured (ContainerResource, KEDA containerName)."""
    name: str
    """The metric name (Pods, Object, External) or a KEDA trigger's query."""
    path: Path
    defaulted: bool = False
    """The API server filled it in: the manifest names no metric."""

    @property
    def on_host_resource(self) -> bool:
        """Scales on pod cpu or memory as the resource metrics API reports it."""
        return self.resource in HOST_RESOURCES

    @property
    def utilization(self) -> bool:
        """A percentage of the containers' requests."""
        return self.target_type == UTILIZATION

    def describe(self) -> str:
        """How messages name the metric."""
        if self.defaulted:
            return f"cpu {UTILIZATION} {DEFAULT_CPU_UTILIZATION}% (the default)"
        if self.resource:
            what = f"{self.resource} {self.target_type}".strip()
            if self.source in HOST_RESOURCES:
                return f"{what} trigger"
            return f"{self.source} {what}"
        return f"{self.source or 'unknown'} metric {self.name}".strip()


@dataclass(frozen=True, slots=True)
class TargetRef:
    """What an autoscaler's ``scaleTargetRef`` names (KEDA defaults applied)."""

    kind: str
    name: str
    path: Path


@dataclass(frozen=True, slots=True)
class Window:
    """A time window of an autoscaler, in seconds, and where it is set.

    ``seconds`` is ``None`` when the field is written but is not a count.
    """

    seconds: int | None
    explicit: bool
    path: Path


def target_ref(scaler: Resource) -> TargetRef | None:
    """The workload an HPA or ScaledObject names; ``None`` without a name."""
    path: Path = ("spec", "scaleTargetRef")
    ref = get_map(scaler.raw, *path)
    name = get_str(ref, "name")
    kind = get_str(ref, "kind")
    if scaler.kind == SCALED_OBJECT and not kind:
        kind = "Deployment"
    if not name or not kind:
        return None
    return TargetRef(kind=kind, name=name, path=path)


def scale_target(graph: ObjectGraph, scaler: Resource) -> Resource | None:
    """The workload an autoscaler scales, when the input holds exactly one.

    Two objects of the same kind, namespace and name (example folders, a
    sample copied twice) leave it unknown which one the cluster runs.
    """
    found = graph.scale_target(scaler)
    if found is None:
        return None
    copies = sum(
        1 for r in graph.of_kind(found.kind, found.namespace) if r.name == found.name
    )
    return found if copies == 1 else None


def metrics(scaler: Resource) -> tuple[ScaleMetric, ...]:
    """The metrics an HPA or the triggers a ScaledObject scales on.

    An HPA that names none gets the API default (cpu, 80 % utilization). An
    entry of the wrong shape is kept with an empty ``source`` so that callers
    asking "only cpu?" do not answer yes for it.
    """
    if scaler.kind == SCALED_OBJECT:
        return tuple(_triggers(scaler))
    if scaler.kind != HPA:
        return ()
    spec = get_map(scaler.raw, "spec")
    if scaler.api_version == "autoscaling/v1":
        field = spec.get("targetCPUUtilizationPercentage")
        if field is None:
            return (_default_metric(),)
        path: Path = ("spec", "targetCPUUtilizationPercentage")
        return (ScaleMetric("Resource", "cpu", UTILIZATION, "", "", path),)
    entries = spec.get("metrics")
    if entries is None or entries == []:
        return (_default_metric(),)
    if not isinstance(entries, list):
        return (ScaleMetric("", "", "", "", "", ("spec", "metrics")),)
    v2beta1 = scaler.api_version == "autoscaling/v2beta1"
    return tuple(_hpa_metric(entries, index, v2beta1) for index in range(len(entries)))


def _default_metric() -> ScaleMetric:
    return ScaleMetric("Resource", "cpu", UTILIZATION, "", "", ("spec",), True)


_SOURCE_KEYS = {
    "Resource": "resource",
    "ContainerResource": "containerResource",
    "Pods": "pods",
    "Object": "object",
    "External": "external",
}


def _hpa_metric(entries: list[object], index: int, v2beta1: bool) -> ScaleMetric:
    path: Path = ("spec", "metrics", index)
    entry = entries[index]
    kind = get_str(entry, "type")
    key = _SOURCE_KEYS.get(kind)
    if key is None:
        return ScaleMetric("", "", "", "", "", path)
    source = get_map(entry, key)
    if kind in ("Resource", "ContainerResource"):
        target = get_str(source, "target", "type")
        if v2beta1:
            target = next((t for f, t in _V2BETA1_TARGETS if f in source), "")
        return ScaleMetric(
            kind,
            get_str(source, "name"),
            target,
            get_str(source, "container"),
            "",
            path,
        )
    name = get_str(source, "metric", "name") or get_str(source, "metricName")
    target = get_str(source, "target", "type")
    return ScaleMetric(kind, "", target, "", name, path)


def _triggers(scaled_object: Resource) -> Iterator[ScaleMetric]:
    for index, trigger in iter_maps(scaled_object.raw, "spec", "triggers"):
        kind = get_str(trigger, "type")
        metadata = get_map(trigger, "metadata")
        path: Path = ("spec", "triggers", index)
        if kind in HOST_RESOURCES:
            target = get_str(trigger, "metricType") or get_str(metadata, "type")
            container = get_str(metadata, "containerName")
            yield ScaleMetric(kind, kind, target, container, "", path)
        else:
            query = get_str(metadata, "query") or get_str(metadata, "metricName")
            target = get_str(trigger, "metricType") or "AverageValue"
            yield ScaleMetric(kind, "", target, "", query, path)


def scale_down_window(scaler: Resource) -> Window:
    """The scale-down stabilization window of an HPA or of the HPA KEDA makes.

    ``spec.behavior.scaleDown.stabilizationWindowSeconds``, or for a
    ScaledObject the same under ``advanced.horizontalPodAutoscalerConfig``.
    """
    base: Path = ("spec",)
    if scaler.kind == SCALED_OBJECT:
        base = ("spec", "advanced", "horizontalPodAutoscalerConfig")
    path: Path = (*base, "behavior", "scaleDown", "stabilizationWindowSeconds")
    value = get_path(scaler.raw, *path)
    if value is None:
        return Window(DEFAULT_SCALE_DOWN_WINDOW_S, False, base)
    return Window(parse_count(value), True, path)


def keda_cooldown(scaled_object: Resource) -> Window:
    """``cooldownPeriod``: idle seconds before KEDA scales the target to zero."""
    path: Path = ("spec", "cooldownPeriod")
    value = get_path(scaled_object.raw, *path)
    if value is None:
        return Window(KEDA_DEFAULT_COOLDOWN_S, False, ("spec",))
    return Window(parse_count(value), True, path)


def keda_min_replicas(scaled_object: Resource) -> int | None:
    """``minReplicaCount`` (default 0); ``None`` when it is not a count."""
    value = get_path(scaled_object.raw, "spec", "minReplicaCount")
    if value is None:
        return KEDA_DEFAULT_MIN_REPLICAS
    return parse_count(value)


def keda_scales_to_zero(scaled_object: Resource) -> bool:
    """Whether KEDA may take the target to zero pods when its triggers are idle.

    That is ``minReplicaCount`` 0 (the default) or an ``idleReplicaCount`` of 0.
    """
    if keda_min_replicas(scaled_object) == 0:
        return True
    idle = get_path(scaled_object.raw, "spec", "idleReplicaCount")
    return idle is not None and parse_count(idle) == 0


def keda_hpa_name(scaled_object: Resource) -> str:
    """The name of the HPA that KEDA creates for a ScaledObject."""
    custom = get_str(
        scaled_object.raw, "spec", "advanced", "horizontalPodAutoscalerConfig", "name"
    )
    return custom or KEDA_HPA_PREFIX + scaled_object.name


def owner_scaled_object(hpa: Resource) -> str:
    """The ScaledObject named in an HPA's ``ownerReferences``, or ``""``."""
    for _, owner in iter_maps(hpa.raw, "metadata", "ownerReferences"):
        if get_str(owner, "kind") == SCALED_OBJECT:
            return get_str(owner, "name")
    return ""


def measured_containers(
    template: PodTemplate, container: str = ""
) -> Iterator[Container]:
    """Containers whose requests a utilization metric divides by.

    The app containers and the restartable init containers ("sidecars",
    counted since Kubernetes 1.29); only the named one for a
    ContainerResource metric or a KEDA ``containerName``.
    """
    for item in template.containers:
        if item.init and get_str(item.raw, "restartPolicy") != "Always":
            continue
        if container and item.name != container:
            continue
        yield item
