"""SRV016 kserve-unknown-autoscaler-class."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.kserve import (
    AUTOSCALER_CLASS,
    autoscaler_classes,
    components,
    deployment_mode,
    is_inference_service,
)
from kubernai.model.resource import Resource, is_placeholder
from kubernai.rules.base import Finding, Rule, Severity


class KserveUnknownAutoscalerClass(Rule):
    """`serving.kserve.io/autoscalerClass` with a value KServe refuses.

    ## Mechanism
    The annotation picks what scales a Standard-mode component: `hpa` (the
    default), `keda`, `external` (an autoscaler you run) or `none` (a fixed
    `minReplicas`); `keda` exists since KServe 0.15 and `none` since 0.16. The
    validating webhook compares the InferenceService's annotation exactly
    with that list and refuses anything else, whatever the mode:
    `[kpa] is not a supported autoscaler class type`. `kpa` is Knative's own
    autoscaler and is chosen by the Knative mode, not by this annotation;
    `HPA` or `KEDA` in capitals fail too. On a component's `annotations` the
    webhook does not look, and in Standard mode the reconcile fails instead:
    `unknown autoscaler class type: ...`.

    ## Example
    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata:
      name: llama
      annotations:
        serving.kserve.io/deploymentMode: Standard
        serving.kserve.io/autoscalerClass: KEDA
    spec:
      predictor:
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
        model:
          modelFormat: {name: huggingface}
          storageUri: hf://meta-llama/Llama-3.1-8B-Instruct
    ```

    ## References
    - AutoscalerAllowedClassList: https://github.com/kserve/kserve/blob/master/pkg/constants/constants.go
    - validateInferenceServiceAutoscaler: https://github.com/kserve/kserve/blob/master/pkg/apis/serving/v1beta1/inference_service_validation.go
    - createAutoscaler: https://github.com/kserve/kserve/blob/master/pkg/controller/v1beta1/inferenceservice/reconcilers/autoscaler/autoscaler_reconciler.go
    """

    code = "SRV016"
    name = "kserve-unknown-autoscaler-class"
    severity = Severity.ERROR
    mechanism = "kserve-vs-roll-your-own"
    kinds = frozenset({"InferenceService"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if not is_inference_service(resource):
            return
        allowed = autoscaler_classes()
        shown = ", ".join(allowed)
        value = resource.annotations.get(AUTOSCALER_CLASS)
        if (
            isinstance(value, str)
            and not is_placeholder(value)
            and value not in allowed
        ):
            yield self.finding(
                resource,
                f"{AUTOSCALER_CLASS}: {value!r} is not one of {shown}; the webhook "
                f"refuses the InferenceService ([{value}] is not a supported "
                "autoscaler class type)",
                path=("metadata", "annotations", AUTOSCALER_CLASS),
            )
        mode = None
        for component in components(resource):
            value = component.annotations.get(AUTOSCALER_CLASS)
            if not isinstance(value, str) or is_placeholder(value) or value in allowed:
                continue
            mode = mode or deployment_mode(resource, graph)
            if not mode.standard:
                return
            yield self.finding(
                resource,
                f"{component.name} annotation {AUTOSCALER_CLASS}: {value!r} is not "
                f"one of {shown}; in {mode.describe()} the reconcile fails "
                f"(unknown autoscaler class type: {value})",
                path=component.field_path("annotations", AUTOSCALER_CLASS),
            )
