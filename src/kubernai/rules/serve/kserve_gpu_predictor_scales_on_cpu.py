"""SRV012 kserve-gpu-predictor-scales-on-cpu."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gpu import accelerator_names
from kubernai.model.graph import ObjectGraph
from kubernai.model.kserve import (
    DEFAULT_CPU_UTILIZATION,
    autoscaler_class,
    components,
    deployment_mode,
    is_inference_service,
)
from kubernai.model.quantity import parse_count
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class KserveGpuPredictorScalesOnCpu(Rule):
    """GPU InferenceService in Standard mode left on KServe's default CPU autoscaler.

    ## Mechanism
    In Standard mode (`RawDeployment` before KServe 0.16) KServe makes a
    HorizontalPodAutoscaler for each component unless the
    `serving.kserve.io/autoscalerClass` annotation says `keda`, `external` or
    `none`. With neither `scaleMetric` nor `autoScaling` set, that HPA has one
    metric: average CPU utilization at 80 % (`DefaultCPUUtilization`), or at
    `scaleTarget` % when that is set. A model server that decodes on a GPU
    keeps a few CPU cores busy however long its request queue grows, so the
    HPA does not add replicas while time to first token climbs; the class
    `hpa` cannot scale on anything but CPU or memory (the webhook rejects
    other metrics). Scale GPU models on their queue (vLLM's
    `vllm:num_requests_waiting`, TGI's `tgi_queue_size`) with the `keda`
    class and `autoScaling.metrics`. Only components that request an
    accelerator and can grow (`maxReplicas` above `minReplicas`; KServe
    otherwise pins the HPA to `minReplicas`) are reported, and only when the
    mode is known (annotation, or the `inferenceservice-config` ConfigMap in
    the input).

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
        minReplicas: 1
        maxReplicas: 4
        model:
          modelFormat: {name: huggingface}
          storageUri: hf://meta-llama/Llama-3.1-8B-Instruct
          resources:
            limits: {cpu: "4", memory: 32Gi, nvidia.com/gpu: 1}
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
        minReplicas: 1
        maxReplicas: 4
        autoScaling:
          metrics:
            - type: External
              external:
                metric:
                  backend: prometheus
                  serverAddress: http://prometheus.monitoring:9090
                  query: sum(vllm:num_requests_waiting{namespace="default"})
                target:
                  type: Value
                  value: "4"
        model:
          modelFormat: {name: huggingface}
          storageUri: hf://meta-llama/Llama-3.1-8B-Instruct
          resources:
            limits: {cpu: "4", memory: 32Gi, nvidia.com/gpu: 1}
    ```

    ## References
    - getHPAMetrics, createHPA: https://github.com/kserve/kserve/blob/master/pkg/controller/v1beta1/inferenceservice/reconcilers/hpa/hpa_reconciler.go
    - DefaultCPUUtilization = 80, DefaultAutoscalerClass = hpa: https://github.com/kserve/kserve/blob/master/pkg/constants/constants.go
    - validateScalingHPACompExtension: https://github.com/kserve/kserve/blob/master/pkg/apis/serving/v1beta1/inference_service_validation.go
    - https://kserve.github.io/website/docs/model-serving/generative-inference/autoscaling
    """

    code = "SRV012"
    name = "kserve-gpu-predictor-scales-on-cpu"
    severity = Severity.WARNING
    mechanism = "kserve-vs-roll-your-own"
    kinds = frozenset({"InferenceService"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if not is_inference_service(resource):
            return
        mode = None
        templates = {t.role: t for t in resource.templates}
        for component in components(resource):
            if component.has("scaleMetric") or component.has("autoScaling"):
                continue
            floor = max(1, parse_count(component.spec.get("minReplicas")) or 1)
            ceiling = parse_count(component.spec.get("maxReplicas")) or 0
            if ceiling <= floor:
                continue  # KServe sets maxReplicas = minReplicas: nothing scales
            template = templates.get(component.name)
            if template is None:
                continue
            gpus = [n for c in template.containers for n in accelerator_names(c)]
            if not gpus:
                continue
            mode = mode or deployment_mode(resource, graph)
            if not mode.standard:
                return
            scaler = autoscaler_class(resource, component, graph)
            if not scaler.hpa:
                continue
            target = parse_count(component.spec.get("scaleTarget"))
            detail = (
                f"CPU utilization {target}% (scaleTarget)"
                if target is not None
                else f"CPU utilization {DEFAULT_CPU_UTILIZATION}% (KServe default)"
            )
            yield self.finding(
                resource,
                f"{component.name} requests {gpus[0]} and scales {floor}..{ceiling} "
                f"replicas on the HPA KServe makes in {mode.describe()}: {detail}, "
                "as neither scaleMetric nor autoScaling is set",
                path=component.field_path("maxReplicas"),
            )
