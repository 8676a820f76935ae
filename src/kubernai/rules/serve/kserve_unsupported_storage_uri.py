"""SRV015 kserve-unsupported-storage-uri."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.kserve import (
    Mode,
    deployment_mode,
    is_inference_service,
    storage_container_formats,
    storage_uri_hint,
    storage_uri_supported,
    storage_uris,
)
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class KserveUnsupportedStorageUri(Rule):
    """InferenceService `storageUri` with a scheme KServe cannot download from.

    ## Mechanism
    Before it creates the pods, the InferenceService controller checks each
    component's `storageUri` (for custom containers, the `STORAGE_URI` env of
    `kserve-container`). A value without `scheme://` is a local path and
    passes; otherwise it must start with one of `gs://`, `s3://`, `pvc://`,
    `file://`, `https://`, `http://`, `hdfs://`, `webhdfs://`, `oci://`,
    `hf://` (0.15 and later), `oci+native://` (0.20), match an Azure blob URL
    `https://<account>.blob.core.windows.net/<path>`, or be claimed by a
    ClusterStorageContainer (the `default` one a current install ships adds
    `modelscope://`). The comparison is case-sensitive. Anything else (`s3a://`,
    `gcs://`, `abfs://`, `S3://`) stops the reconcile: the InferenceService
    never becomes ready and reports `StorageURI not supported: storageUri,
    must be one of: [gs://, s3://, ...] or match
    https://{}.blob.core.windows.net/{}/{} or be an absolute or relative local
    path. StorageUri [...] is not supported`. A ClusterStorageContainer can
    claim any scheme, so when the input holds none, only known slips are
    reported: a built-in scheme in other letter case, an Azure blob URL
    without container and path, and schemes other storage libraries read
    (`s3a://`, `s3n://`, `gcs://`, `abfs://`, `abfss://`, `az://`, `wasb://`,
    `wasbs://`, `huggingface://`). When the input holds ClusterStorageContainers,
    every scheme that none of them claims is reported. ModelMesh
    InferenceServices are not checked.

    ## Example
    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata:
      name: llama
    spec:
      predictor:
        model:
          modelFormat: {name: huggingface}
          storageUri: s3a://models/llama-3.1-8b-instruct
          resources:
            limits: {nvidia.com/gpu: 1}
    ```

    ## Use instead
    ```yaml
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata:
      name: llama
    spec:
      predictor:
        model:
          modelFormat: {name: huggingface}
          storageUri: s3://models/llama-3.1-8b-instruct
          resources:
            limits: {nvidia.com/gpu: 1}
    ```

    ## References
    - SupportedStorageURIPrefixList, ValidateStorageURI: https://github.com/kserve/kserve/blob/master/pkg/controller/v1beta1/inferenceservice/utils/utils.go
    - UnsupportedStorageURIFormatError: https://github.com/kserve/kserve/blob/master/pkg/apis/serving/v1beta1/component.go
    - https://github.com/kserve/kserve/blob/master/config/storagecontainers/default.yaml
    - https://kserve.github.io/website/docs/model-serving/storage/storage-containers
    """

    code = "SRV015"
    name = "kserve-unsupported-storage-uri"
    severity = Severity.ERROR
    mechanism = "kserve-vs-roll-your-own"
    kinds = frozenset({"InferenceService"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if not is_inference_service(resource):
            return
        for found in storage_uris(resource):
            if storage_uri_supported(found.uri):
                continue
            declared = bool(graph.of_kind("ClusterStorageContainer"))
            formats = storage_container_formats(graph) if declared else ()
            if formats and storage_uri_supported(found.uri, formats):
                continue
            hint = storage_uri_hint(found.uri)
            if not declared and not hint:
                continue  # a ClusterStorageContainer in the cluster may claim it
            if deployment_mode(resource, graph).mode is Mode.MODEL_MESH:
                return
            scheme = found.uri.split("://", 1)[0] + "://"
            problem = (
                "an Azure blob URL needs a container and a path"
                if "blob.core.windows.net" in found.uri
                else f"scheme {scheme} is not one KServe downloads from"
            )
            claims = (
                "; no ClusterStorageContainer in the input claims it"
                if declared
                else ""
            )
            advice = f"; write {hint}" if hint else ""
            yield self.finding(
                resource,
                f"{found.component} storageUri {found.uri!r}: {problem}"
                f"{claims}{advice}",
                path=found.path,
            )
