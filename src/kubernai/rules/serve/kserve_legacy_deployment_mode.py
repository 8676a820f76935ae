"""SRV013 kserve-legacy-deployment-mode."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.kserve import (
    ANNOTATION_PATH,
    CONFIG_MAP,
    DEPLOYMENT_MODE,
    configured_default_mode,
    is_inference_service,
    is_legacy_mode,
    parse_mode,
)
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class KserveLegacyDeploymentMode(Rule):
    """KServe deployment mode written with a name deprecated in KServe 0.16.

    ## Mechanism
    KServe 0.16 renamed the deployment modes: `RawDeployment` became
    `Standard` and `Serverless` became `Knative`. The old names still work:
    the defaulting webhook rewrites the `serving.kserve.io/deploymentMode`
    annotation to the new name, and the `defaultDeploymentMode` of the
    `inferenceservice-config` ConfigMap is translated when it is read. They
    are marked deprecated in the source, and current documentation, error
    messages and `kubectl get isvc` use the new names only, so a manifest with
    the old name reads differently from what the cluster shows. Switch to the
    new name once every cluster the manifest goes to runs KServe 0.16 or
    later: releases up to 0.15 know only the old names and silently ignore
    `Standard` and `Knative`, falling back to the cluster default.

    ## Example
    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata:
      name: sklearn-iris
      annotations:
        serving.kserve.io/deploymentMode: RawDeployment
    spec:
      predictor:
        model:
          modelFormat: {name: sklearn}
          storageUri: gs://kfserving-examples/models/sklearn/1.0/model
    ```

    ## Use instead
    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata:
      name: sklearn-iris
      annotations:
        serving.kserve.io/deploymentMode: Standard
    spec:
      predictor:
        model:
          modelFormat: {name: sklearn}
          storageUri: gs://kfserving-examples/models/sklearn/1.0/model
    ```

    ## References
    - LegacyRawDeployment, LegacyServerless (v0.16.0 on): https://github.com/kserve/kserve/blob/master/pkg/constants/constants.go
    - annotation normalized: https://github.com/kserve/kserve/blob/master/pkg/apis/serving/v1beta1/inference_service_defaults.go
    - NewDeployConfig: https://github.com/kserve/kserve/blob/master/pkg/apis/serving/v1beta1/configmap.go
    - GetDeploymentMode accepts RawDeployment, Serverless, ModelMesh only: https://github.com/kserve/kserve/blob/v0.15.2/pkg/controller/v1beta1/inferenceservice/utils/utils.go
    """

    code = "SRV013"
    name = "kserve-legacy-deployment-mode"
    severity = Severity.INFO
    mechanism = "kserve-vs-roll-your-own"
    kinds = frozenset({"InferenceService", "ConfigMap"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if resource.kind == "ConfigMap":
            if resource.name != CONFIG_MAP:
                return
            value = configured_default_mode(resource)
            if is_legacy_mode(value):
                yield self.finding(
                    resource,
                    f"defaultDeploymentMode {value} is the pre-0.16 name of "
                    f"{parse_mode(value)}",
                    path=("data", "deploy"),
                )
            return
        if not is_inference_service(resource):
            return
        written = resource.annotations.get(DEPLOYMENT_MODE)
        if isinstance(written, str) and is_legacy_mode(written):
            yield self.finding(
                resource,
                f"{DEPLOYMENT_MODE}: {written} is the pre-0.16 name of "
                f"{parse_mode(written)}",
                path=ANNOTATION_PATH,
            )
