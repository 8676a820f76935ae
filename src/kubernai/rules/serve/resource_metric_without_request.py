"""SRV031 resource-metric-without-request."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.autoscaling import (
    AUTOSCALER_KINDS,
    SCALED_OBJECT,
    ScaleMetric,
    measured_containers,
    metrics,
    scale_target,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, get_map, get_str, iter_maps
from kubernai.model.workload import Container, PodTemplate
from kubernai.rules.base import Finding, Rule, Severity

_KEDA_CHECKED_KINDS = frozenset({"Deployment", "StatefulSet"})
"""Targets whose pod spec KEDA's webhook reads (``verifyCPUMemoryScalers``)."""


class ResourceMetricWithoutRequest(Rule):
    """Autoscaler scales on CPU or memory of containers that request none.

    ## Mechanism
    A `Utilization` target is a percentage of the pods' requests: the HPA
    controller adds up `resources.requests` of every app container (and,
    since Kubernetes 1.29, of sidecar init containers), or of the one
    container a `ContainerResource` metric names. If any of them has no
    request for the resource, the HPA computes nothing: its `ScalingActive`
    condition turns False with reason `FailedGetResourceMetric`, `kubectl
    get hpa` shows `<unknown>/80%`, and events read `failed to get cpu
    utilization: missing request for cpu in container sidecar of Pod
    llama-7d9c...`. The workload then stays at whatever replica count it
    had. A limit without a request is fine (the API server copies the
    limit into the request), and so is a LimitRange default in the
    namespace or a pod-level `spec.resources.requests`; the check sees only
    LimitRanges in the input. KEDA's admission webhook refuses a
    ScaledObject with a cpu or memory trigger, whatever its `metricType`,
    when a container of the target Deployment or StatefulSet has neither a
    request nor a limit: `the scaledobject has a cpu trigger but the
    container sidecar doesn't have the cpu request defined`. GPU server
    manifests that set only `nvidia.com/gpu` are the usual case.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: embed
    spec:
      selector:
        matchLabels: {app: embed}
      template:
        metadata:
          labels: {app: embed}
        spec:
          containers:
            - name: server
              image: ghcr.io/huggingface/text-embeddings-inference:1.5
              resources:
                limits: {nvidia.com/gpu: 1}
    ---
    apiVersion: autoscaling/v2
    kind: HorizontalPodAutoscaler
    metadata:
      name: embed
    spec:
      scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: embed}
      maxReplicas: 4
      metrics:
        - type: Resource
          resource:
            name: cpu
            target: {type: Utilization, averageUtilization: 60}
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: embed
    spec:
      selector:
        matchLabels: {app: embed}
      template:
        metadata:
          labels: {app: embed}
        spec:
          containers:
            - name: server
              image: ghcr.io/huggingface/text-embeddings-inference:1.5
              resources:
                requests: {cpu: "2"}
                limits: {nvidia.com/gpu: 1}
    ---
    apiVersion: autoscaling/v2
    kind: HorizontalPodAutoscaler
    metadata:
      name: embed
    spec:
      scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: embed}
      maxReplicas: 4
      metrics:
        - type: Resource
          resource:
            name: cpu
            target: {type: Utilization, averageUtilization: 60}
    ```

    ## References
    - kubernetes `pkg/controller/podautoscaler/replica_calculator.go`
      (`calculatePodRequests`: "missing request for %s in container %s of
      Pod %s") and `horizontal.go` ("failed to get %s utilization: %v",
      reason `FailedGetResourceMetric`)
    - https://github.com/kubernetes/kubernetes/pull/120001 (sidecars counted)
    - kedacore/keda `apis/keda/v1alpha1/scaledobject_webhook.go`
      (`verifyCPUMemoryScalers`)
    - https://keda.sh/docs/latest/scalers/cpu/#prerequisites
    """

    code = "SRV031"
    name = "resource-metric-without-request"
    severity = Severity.ERROR
    mechanism = "hpa-for-token-throughput"
    kinds = AUTOSCALER_KINDS

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        wanted = [m for m in metrics(resource) if m.on_host_resource]
        if not wanted:
            return
        target = scale_target(graph, resource)
        if target is None or not target.templates:
            return
        keda = resource.kind == SCALED_OBJECT
        if keda and target.kind not in _KEDA_CHECKED_KINDS:
            wanted = [m for m in wanted if m.utilization]
        for metric in wanted:
            if not keda and not metric.utilization:
                continue
            if _defaulted_by_limit_range(graph, target.namespace, metric.resource):
                continue
            missing = sorted(
                {
                    c.name or "(unnamed)"
                    for t in target.templates
                    for c in _lacking(t, metric, keda=keda)
                }
            )
            if not missing:
                continue
            names = ", ".join(repr(n) for n in missing)
            yield self.finding(
                resource,
                f"scales {target.kind} {target.name!r} on {metric.describe()} but "
                f"container{'s' if len(missing) > 1 else ''} {names} set"
                f"{'' if len(missing) > 1 else 's'} no {metric.resource} request "
                "or limit",
                path=metric.path,
            )


def _lacking(
    template: PodTemplate, metric: ScaleMetric, *, keda: bool
) -> Iterator[Container]:
    """Containers without a request (or a limit, copied into it) for the metric."""
    name = metric.resource
    if name in get_map(template.spec, "resources", "requests"):
        return  # pod-level resources: the HPA uses them (Kubernetes 1.34+)
    chosen = list(measured_containers(template, metric.container))
    if keda and not metric.utilization:
        chosen = [c for c in chosen if not c.init]  # the webhook reads containers
    for container in chosen:
        if name not in container.requests and name not in container.limits:
            yield container


def _defaulted_by_limit_range(graph: ObjectGraph, namespace: str, name: str) -> bool:
    """Whether a LimitRange in the input gives containers a request for ``name``.

    LimitRanger fills a missing request from ``defaultRequest``, else from
    ``default``; ``max`` stands in for a missing ``default`` and ``min`` for a
    missing ``defaultRequest`` (``SetDefaults_LimitRangeItem``).
    """
    for limit_range in graph.limit_ranges(namespace):
        for _, item in iter_maps(limit_range.raw, "spec", "limits"):
            if get_str(item, "type") != "Container":
                continue
            if any(
                name in get_map(item, key)
                for key in ("defaultRequest", "default", "max", "min")
            ):
                return True
    return False
