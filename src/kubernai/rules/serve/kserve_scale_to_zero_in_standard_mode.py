"""SRV011 kserve-scale-to-zero-in-standard-mode."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.kserve import (
    autoscaler_class,
    components,
    deployment_mode,
    is_inference_service,
)
from kubernai.model.quantity import parse_count
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class KserveScaleToZeroInStandardMode(Rule):
    """`minReplicas: 0` on an InferenceService whose Standard-mode HPA cannot reach 0.

    ## Mechanism
    In Standard mode (`RawDeployment` before KServe 0.16) KServe scales a
    component with the autoscaler named by the `serving.kserve.io/autoscalerClass`
    annotation, `hpa` when it is absent. The HPA reconciler raises any
    `minReplicas` below 1 to 1 (`DefaultMinReplicas`) before it writes the
    HorizontalPodAutoscaler, without a warning: the component never scales
    to zero, and an idle GPU model keeps its GPUs. Only Knative mode (scale to
    zero through the activator) and the `keda` class (the value goes to the
    ScaledObject's `minReplicaCount` unchanged) reach zero replicas. The mode
    comes from the `serving.kserve.io/deploymentMode` annotation, or from the
    `inferenceservice-config` ConfigMap when that is in the input; without
    either nothing is reported. The classes `external` and `none` leave the
    replica count to something else and are not reported.

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
        minReplicas: 0
        maxReplicas: 2
        model:
          modelFormat: {name: huggingface}
          storageUri: hf://meta-llama/Llama-3.1-8B-Instruct
          resources:
            limits: {nvidia.com/gpu: 1}
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
        minReplicas: 0
        maxReplicas: 2
        autoScaling:
          metrics:
            - type: External
              external:
                metric:
                  backend: prometheus
                  serverAddress: http://prometheus.monitoring:9090
                  query: sum(rate(gateway_requests_total{service="llama"}[1m]))
                target:
                  type: Value
                  value: "1"
        model:
          modelFormat: {name: huggingface}
          storageUri: hf://meta-llama/Llama-3.1-8B-Instruct
          resources:
            limits: {nvidia.com/gpu: 1}
    ```

    ## References
    - createHPA: minReplicas < DefaultMinReplicas becomes 1: https://github.com/kserve/kserve/blob/master/pkg/controller/v1beta1/inferenceservice/reconcilers/hpa/hpa_reconciler.go
    - MinReplicaCount from minReplicas: https://github.com/kserve/kserve/blob/master/pkg/controller/v1beta1/inferenceservice/reconcilers/keda/keda_reconciler.go
    - class hpa by default: https://github.com/kserve/kserve/blob/master/pkg/controller/v1beta1/inferenceservice/reconcilers/autoscaler/autoscaler_reconciler.go
    - https://kserve.github.io/website/docs/model-serving/predictive-inference/autoscaling/keda-autoscaler
    """

    code = "SRV011"
    name = "kserve-scale-to-zero-in-standard-mode"
    severity = Severity.WARNING
    mechanism = "kserve-vs-roll-your-own"
    kinds = frozenset({"InferenceService"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if not is_inference_service(resource):
            return
        mode = None
        for component in components(resource):
            if parse_count(component.spec.get("minReplicas")) != 0:
                continue
            mode = mode or deployment_mode(resource, graph)
            if not mode.standard:
                return
            scaler = autoscaler_class(resource, component, graph)
            if not scaler.hpa:
                continue
            shown = f"class {scaler.value}" if scaler.value else "default class hpa"
            yield self.finding(
                resource,
                f"{component.name} minReplicas 0 is raised to 1 by the HPA that "
                f"KServe makes in {mode.describe()} ({shown}); the component "
                "never scales to zero",
                path=component.field_path("minReplicas"),
            )
