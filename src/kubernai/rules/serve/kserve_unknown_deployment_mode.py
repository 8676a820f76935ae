"""SRV014 kserve-unknown-deployment-mode."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.kserve import (
    ANNOTATION_PATH,
    CONFIG_MAP,
    DEPLOYMENT_MODE,
    configured_default_mode,
    default_mode,
    is_inference_service,
    known_mode_values,
    parse_mode,
)
from kubernai.model.resource import Resource, is_placeholder
from kubernai.rules.base import Finding, Rule, Severity


class KserveUnknownDeploymentMode(Rule):
    """KServe deployment mode that KServe does not know, so the default applies.

    ## Mechanism
    The controller compares `serving.kserve.io/deploymentMode` exactly with
    the names it knows (`Standard`, `Knative`, `ModelMesh`, and the older
    `RawDeployment` and `Serverless`). Any other value, `standard`, `Raw` or
    `rawDeployment` included, is ignored without an error or a warning, and
    the InferenceService gets the cluster's `defaultDeploymentMode` from the
    `inferenceservice-config` ConfigMap: a manifest meant for a plain
    Deployment comes up as a Knative Service (or the other way round), with
    another autoscaler, another network path and, in Knative mode,
    scale-to-zero. The mode cannot be changed later: the webhook refuses
    `update rejected: deploymentMode cannot be changed from '...' to '...'`.
    In the ConfigMap itself an unknown `defaultDeploymentMode` is an error:
    `invalid deployment mode. Supported modes are Knative, Standard and
    ModelMesh`.

    ## Example
    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata:
      name: llama
      annotations:
        serving.kserve.io/deploymentMode: rawDeployment
    spec:
      predictor:
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
    spec:
      predictor:
        model:
          modelFormat: {name: huggingface}
          storageUri: hf://meta-llama/Llama-3.1-8B-Instruct
          resources:
            limits: {nvidia.com/gpu: 1}
    ```

    ## References
    - GetDeploymentMode: unknown values fall back to defaultDeploymentMode: https://github.com/kserve/kserve/blob/master/pkg/controller/v1beta1/inferenceservice/utils/utils.go
    - NewDeployConfig: https://github.com/kserve/kserve/blob/master/pkg/apis/serving/v1beta1/configmap.go
    - validateDeploymentMode: https://github.com/kserve/kserve/blob/master/pkg/apis/serving/v1beta1/inference_service_validation.go
    """

    code = "SRV014"
    name = "kserve-unknown-deployment-mode"
    severity = Severity.WARNING
    mechanism = "kserve-vs-roll-your-own"
    kinds = frozenset({"InferenceService", "ConfigMap"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        known = ", ".join(known_mode_values())
        if resource.kind == "ConfigMap":
            if resource.name != CONFIG_MAP:
                return
            value = configured_default_mode(resource)
            if value and not is_placeholder(value) and parse_mode(value) is None:
                yield self.finding(
                    resource,
                    f"defaultDeploymentMode {value!r} is not one of {known}",
                    path=("data", "deploy"),
                )
            return
        if not is_inference_service(resource):
            return
        written = resource.annotations.get(DEPLOYMENT_MODE)
        if not isinstance(written, str) or is_placeholder(written):
            return
        if parse_mode(written) is not None:
            return
        fallback, origin = default_mode(graph)
        applies = (
            f"{fallback} from {origin}" if fallback else "the cluster default mode"
        )
        yield self.finding(
            resource,
            f"{DEPLOYMENT_MODE}: {written!r} is not one of {known}; KServe ignores "
            f"it and uses {applies}",
            path=ANNOTATION_PATH,
        )
