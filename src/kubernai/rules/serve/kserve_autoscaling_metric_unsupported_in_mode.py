"""SRV017 kserve-autoscaling-metric-unsupported-in-mode."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.kserve import (
    AUTOSCALER_CLASS,
    DEFAULT_CPU_UTILIZATION,
    KNATIVE_AUTOSCALING_CLASS,
    KNATIVE_HPA_CLASS,
    Component,
    autoscaler_class,
    components,
    deployment_mode,
    is_inference_service,
)
from kubernai.model.resource import Resource, get_str, iter_maps
from kubernai.rules.base import Finding, Rule, Severity

_HPA_METRICS = ("cpu", "memory")
_KPA_METRICS = ("concurrency", "rps")
_SCALE_METRICS = (*_HPA_METRICS, *_KPA_METRICS)
"""The ``scaleMetric`` enum of the InferenceService CRD (KServe 0.13 and later)."""


class KserveAutoscalingMetricUnsupportedInMode(Rule):
    """InferenceService scales on a metric that its mode and autoscaler cannot use.

    ## Mechanism
    Which `scaleMetric` and `autoScaling.metrics` work depends on the mode and
    on the `serving.kserve.io/autoscalerClass` annotation, and KServe reacts
    in two ways. The validating webhook refuses, in Standard mode with class
    `hpa` written out, a `scaleMetric` other than `cpu` or `memory` (`[rps]
    is not a supported metric`) and any `autoScaling` metric that is not of
    type `Resource` (`invalid HPA metric source type with value [External],
    valid metric source types are Resource`); with class `keda`, any
    `scaleMetric` (`ScaleMetric is not supported for KEDA`); in Knative mode,
    a `scaleMetric` other than `concurrency` or `rps` unless
    `autoscaling.knative.dev/class` selects Knative's HPA. Worse, when the
    class annotation is simply absent in Standard mode, nothing is validated:
    the HPA reconciler keeps only cpu and memory metrics (memory only with a
    `scaleTarget`), drops `concurrency`, `rps` and every `External` or
    `PodMetric` entry (those are KEDA's), and an HPA left without metrics is
    defaulted by Kubernetes to CPU utilization 80 %. Whatever the mode, the
    CRD accepts only `cpu`, `memory`, `concurrency` and `rps` (`qps` and
    `gpu` are refused by the API server). The mode comes from the
    `serving.kserve.io/deploymentMode` annotation or the
    `inferenceservice-config` ConfigMap in the input; without either only
    that last check is made.

    ## Example
    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata:
      name: llama
      annotations:
        serving.kserve.io/deploymentMode: Standard
    spec:
      predictor:
        maxReplicas: 4
        autoScaling:
          metrics:
            - type: External
              external:
                metric:
                  backend: prometheus
                  serverAddress: http://prometheus.monitoring:9090
                  query: sum(vllm:num_requests_waiting{namespace="default"})
                target: {type: Value, value: "4"}
        model:
          modelFormat: {name: huggingface}
          storageUri: hf://meta-llama/Llama-3.1-8B-Instruct
    ```

    ## Use instead
    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata:
      name: llama
      annotations:
        serving.kserve.io/deploymentMode: Standard
        serving.kserve.io/autoscalerClass: keda
    spec:
      predictor:
        maxReplicas: 4
        autoScaling:
          metrics:
            - type: External
              external:
                metric:
                  backend: prometheus
                  serverAddress: http://prometheus.monitoring:9090
                  query: sum(vllm:num_requests_waiting{namespace="default"})
                target: {type: Value, value: "4"}
        model:
          modelFormat: {name: huggingface}
          storageUri: hf://meta-llama/Llama-3.1-8B-Instruct
    ```

    ## References
    - the validate*CompExtension functions: https://github.com/kserve/kserve/blob/master/pkg/apis/serving/v1beta1/inference_service_validation.go
    - getHPAMetrics: https://github.com/kserve/kserve/blob/master/pkg/controller/v1beta1/inferenceservice/reconcilers/hpa/hpa_reconciler.go
    - no metrics: cpu Utilization 80: https://github.com/kubernetes/kubernetes/blob/master/pkg/apis/autoscaling/v2/defaults.go
    - https://kserve.github.io/website/docs/model-serving/predictive-inference/autoscaling/keda-autoscaler
    """

    code = "SRV017"
    name = "kserve-autoscaling-metric-unsupported-in-mode"
    severity = Severity.ERROR
    mechanism = "kserve-vs-roll-your-own"
    kinds = frozenset({"InferenceService"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if not is_inference_service(resource):
            return
        mode = None
        for component in components(resource):
            metric = get_str(component.spec, "scaleMetric")
            if metric and metric not in _SCALE_METRICS:
                yield self.finding(
                    resource,
                    f"{component.name} scaleMetric {metric!r} is not one of "
                    f"{', '.join(_SCALE_METRICS)}; the API server refuses it "
                    "(the InferenceService CRD's enum)",
                    path=component.field_path("scaleMetric"),
                )
                continue
            if not (metric or component.has("autoScaling")):
                continue
            mode = mode or deployment_mode(resource, graph)
            if mode.mode is None or (mode.written and mode.origin != "annotation"):
                return  # unknown, or an unknown annotation value (see SRV014)
            if mode.standard:
                yield from self._standard(resource, component, graph, mode.describe())
            elif mode.knative:
                yield from self._knative(resource, component, mode.describe())

    def _standard(
        self, resource: Resource, component: Component, graph: ObjectGraph, where: str
    ) -> Iterator[Finding]:
        written = resource.annotations.get(AUTOSCALER_CLASS)
        metric = get_str(component.spec, "scaleMetric") or None
        if written == "hpa":
            yield from self._hpa_refusals(
                resource, component, f"in {where} with {AUTOSCALER_CLASS}: hpa"
            )
        elif written == "keda":
            if metric is not None:
                yield self.finding(
                    resource,
                    f"{component.name} scaleMetric {metric} with "
                    f"{AUTOSCALER_CLASS}: keda is refused by the webhook "
                    "(ScaleMetric is not supported for KEDA); use autoScaling.metrics",
                    path=component.field_path("scaleMetric"),
                )
        elif written is None and autoscaler_class(resource, component, graph).hpa:
            yield from self._hpa_drops(resource, component, where)

    def _hpa_refusals(
        self, resource: Resource, component: Component, where: str
    ) -> Iterator[Finding]:
        metric = get_str(component.spec, "scaleMetric") or None
        if metric is not None and metric not in _HPA_METRICS:
            yield self.finding(
                resource,
                f"{component.name} scaleMetric {metric} is refused by the webhook "
                f"{where} ([{metric}] is not a supported metric; cpu or memory only)",
                path=component.field_path("scaleMetric"),
            )
        for index, entry in iter_maps(component.spec, "autoScaling", "metrics"):
            kind = get_str(entry, "type")
            if kind and kind != "Resource":
                yield self.finding(
                    resource,
                    f"{component.name} autoScaling metric of type {kind} is refused "
                    f"by the webhook {where} (valid metric source types are "
                    "Resource)",
                    path=component.field_path("autoScaling", "metrics", index, "type"),
                )

    def _hpa_drops(
        self, resource: Resource, component: Component, where: str
    ) -> Iterator[Finding]:
        fallback = f"the HPA falls back to CPU utilization {DEFAULT_CPU_UTILIZATION}%"
        entries = list(iter_maps(component.spec, "autoScaling", "metrics"))
        if entries:
            kept = [
                e for _, e in entries if get_str(e, "resource", "name") in _HPA_METRICS
            ]
            if kept:
                return
            for index, entry in entries:
                kind = get_str(entry, "type") or "(none)"
                yield self.finding(
                    resource,
                    f"{component.name} autoScaling metric of type {kind} is dropped "
                    f"by the HPA KServe makes in {where} (no {AUTOSCALER_CLASS}: "
                    f"keda); {fallback}",
                    path=component.field_path("autoScaling", "metrics", index, "type"),
                )
            return
        if component.has("autoScaling"):
            return
        metric = get_str(component.spec, "scaleMetric") or None
        if metric in ("cpu", None):  # the default, or not a string
            return
        if metric == "memory":
            if component.has("scaleTarget"):
                return
            why = "memory without scaleTarget"
        else:
            why = f"{metric} (a Knative metric)"
        yield self.finding(
            resource,
            f"{component.name} scaleMetric {why} is dropped by the HPA KServe makes "
            f"in {where}; {fallback}",
            path=component.field_path("scaleMetric"),
        )

    def _knative(
        self, resource: Resource, component: Component, where: str
    ) -> Iterator[Finding]:
        knative_class = resource.annotations.get(KNATIVE_AUTOSCALING_CLASS)
        if knative_class == KNATIVE_HPA_CLASS:
            yield from self._hpa_refusals(
                resource,
                component,
                f"in {where} with {KNATIVE_AUTOSCALING_CLASS}: {KNATIVE_HPA_CLASS}",
            )
            return
        metric = get_str(component.spec, "scaleMetric") or None
        if metric is not None and metric not in _KPA_METRICS:
            yield self.finding(
                resource,
                f"{component.name} scaleMetric {metric} is refused by the webhook in "
                f"{where} ([{metric}] is not a supported metric; concurrency or rps "
                f"unless {KNATIVE_AUTOSCALING_CLASS}: {KNATIVE_HPA_CLASS})",
                path=component.field_path("scaleMetric"),
            )
