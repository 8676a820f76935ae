"""SRV010 kserve-knative-setting-in-standard-mode."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from kubernai.model.graph import ObjectGraph
from kubernai.model.kserve import components, deployment_mode, is_inference_service
from kubernai.model.quantity import format_quantity, parse_count
from kubernai.model.resource import Path, Resource
from kubernai.rules.base import Finding, Rule, Severity

_KNATIVE_PREFIXES = ("autoscaling.knative.dev/", "serving.knative.dev/")


class KserveKnativeSettingInStandardMode(Rule):
    """InferenceService in Standard mode sets a canary split or other Knative setting.

    ## Mechanism
    In Knative mode (`Serverless` before KServe 0.16) each change of a
    component makes a new Knative revision, and `canaryTrafficPercent` splits
    traffic between it and the last revision that was rolled out; the Knative
    reconciler is the only code that reads the field. In Standard mode
    (`RawDeployment` before 0.16) KServe makes a plain Deployment, and a
    change of the spec is an ordinary rolling update: no revision is kept and
    the new pods take all the traffic as soon as they are ready, whatever
    `canaryTrafficPercent` says. KServe's docs say it plainly: "Canary rollout
    strategy is only supported in serverless deployment mode." The same goes
    for `containerConcurrency` (a Knative hard limit) and for
    `autoscaling.knative.dev/*` and `serving.knative.dev/*` annotations: in
    Standard mode nothing reads them, and the HPA that KServe makes scales on
    CPU instead. The mode comes from the `serving.kserve.io/deploymentMode`
    annotation, or from `defaultDeploymentMode` in the `inferenceservice-config`
    ConfigMap when that is in the input; without either the mode is unknown
    and nothing is reported. A `canaryTrafficPercent` of 100 is the same as no
    split and is not reported.

    ## Example
    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata:
      name: llama
      annotations:
        serving.kserve.io/deploymentMode: RawDeployment
    spec:
      predictor:
        canaryTrafficPercent: 10
        model:
          modelFormat: {name: huggingface}
          storageUri: hf://meta-llama/Llama-3.1-8B-Instruct
          resources:
            limits: {nvidia.com/gpu: 1}
    ```

    ## Use instead
    ```yaml
    # Knative mode keeps revisions and honours the split; in Standard mode,
    # split traffic in the gateway (HTTPRoute weights) between two services.
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata:
      name: llama
      annotations:
        serving.kserve.io/deploymentMode: Knative
    spec:
      predictor:
        canaryTrafficPercent: 10
        model:
          modelFormat: {name: huggingface}
          storageUri: hf://meta-llama/Llama-3.1-8B-Instruct
          resources:
            limits: {nvidia.com/gpu: 1}
    ```

    ## References
    - https://kserve.github.io/website/docs/model-serving/predictive-inference/rollout-strategies/canary
    - the only reader of CanaryTrafficPercent and ContainerConcurrency: https://github.com/kserve/kserve/blob/master/pkg/controller/v1beta1/inferenceservice/reconcilers/knative/ksvc_reconciler.go
    - LegacyRawDeployment, Standard: https://github.com/kserve/kserve/blob/master/pkg/constants/constants.go
    """

    code = "SRV010"
    name = "kserve-knative-setting-in-standard-mode"
    severity = Severity.WARNING
    mechanism = "kserve-vs-roll-your-own"
    kinds = frozenset({"InferenceService"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if not is_inference_service(resource):
            return
        mode = deployment_mode(resource, graph)
        if not mode.standard:
            return
        where = f"in {mode.describe()}"
        yield from self._annotations(
            resource, resource.annotations, ("metadata", "annotations"), where
        )
        for component in components(resource):
            canary = parse_count(component.spec.get("canaryTrafficPercent"))
            if canary is not None and canary != 100:
                yield self.finding(
                    resource,
                    f"{component.name} canaryTrafficPercent {canary} is ignored "
                    f"{where}: a spec change rolls out to all traffic",
                    path=component.field_path("canaryTrafficPercent"),
                )
            concurrency = parse_count(component.spec.get("containerConcurrency"))
            if concurrency:
                yield self.finding(
                    resource,
                    f"{component.name} containerConcurrency {concurrency} is a "
                    f"Knative limit and is ignored {where}",
                    path=component.field_path("containerConcurrency"),
                )
            yield from self._annotations(
                resource,
                component.annotations,
                component.field_path("annotations"),
                where,
            )

    def _annotations(
        self, resource: Resource, annotations: Mapping[str, Any], base: Path, where: str
    ) -> Iterator[Finding]:
        for key, value in annotations.items():
            if isinstance(key, str) and key.startswith(_KNATIVE_PREFIXES):
                yield self.finding(
                    resource,
                    f"annotation {key}: {format_quantity(value)} is read only by "
                    f"Knative and is ignored {where}",
                    path=(*base, key),
                )
