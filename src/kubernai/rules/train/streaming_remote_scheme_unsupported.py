"""TRN054 streaming-remote-scheme-unsupported."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.data_streaming import (
    STREAMING_SCHEMES,
    scheme_of,
    streaming_configs,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, is_placeholder
from kubernai.rules.base import Finding, Rule, Severity

_HINTS = {
    "gcs": "gs://",
    "s3a": "s3://",
    "s3n": "s3://",
    "az": "azure:// or azure-dl://",
    "abfs": "azure-dl://",
    "abfss": "azure-dl://",
    "wasb": "azure://",
    "wasbs": "azure://",
}


class StreamingRemoteSchemeUnsupported(Rule):
    """StreamingDataset remote uses a URI scheme streaming cannot download from.

    ## Mechanism
    MosaicML streaming picks a downloader by the scheme of `remote`. It has
    downloaders for `s3://`, `gs://`, `oci://`, `azure://`, `azure-dl://`,
    `hf://`, `sftp://`, `dbfs:/` and `alipan://`, plus plain local paths.
    Schemes that other tools accept for the same stores, such as `gcs://`
    (gcsfs), `s3a://` (Hadoop), `az://`, `abfss://` or `wasbs://` (fsspec,
    Spark), and also `http(s)://` and `file://`, are not among them:
    streaming 0.10 and later raise `ValueError: Unsupported remote path:
    gcs://...` as soon as the dataset is built, and earlier versions treat
    the URI as a local path and fail on the missing index file.

    ## Example
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: pretrain
    spec:
      template:
        spec:
          restartPolicy: Never
          serviceAccountName: trainer
          containers:
            - name: train
              image: mosaicml/llm-foundry:2.7.0_cu128-latest
              command: ["composer", "train/train.py", "/config/pretrain.yaml"]
              args: ["train_loader.dataset.remote=gcs://corpus/c4-mds",
                     "train_loader.dataset.local=/cache/c4"]
              resources:
                limits: {nvidia.com/gpu: 8}
    ```

    ## Use instead
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: pretrain
    spec:
      template:
        spec:
          restartPolicy: Never
          serviceAccountName: trainer
          containers:
            - name: train
              image: mosaicml/llm-foundry:2.7.0_cu128-latest
              command: ["composer", "train/train.py", "/config/pretrain.yaml"]
              args: ["train_loader.dataset.remote=gs://corpus/c4-mds",
                     "train_loader.dataset.local=/cache/c4"]
              resources:
                limits: {nvidia.com/gpu: 8}
    ```

    ## References
    - mosaicml/streaming `streaming/base/storage/download.py`
      (`CloudDownloader.get`, `_client_identifier` of each downloader)
    - https://docs.mosaicml.com/projects/streaming/en/stable/how_to_guides/configure_cloud_storage_credentials.html
    """

    code = "TRN054"
    name = "streaming-remote-scheme-unsupported"
    severity = Severity.ERROR
    mechanism = "dataset-streaming-from-object-storage"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        seen: set[tuple[object, str]] = set()
        for template in resource.templates:
            for config in streaming_configs(resource, template, graph):
                remote = config.remote
                if remote is None or not remote.known:
                    continue
                text = remote.text
                scheme = scheme_of(text)
                if not scheme or scheme in STREAMING_SCHEMES or is_placeholder(text):
                    continue
                if (remote.where, remote.shown) in seen:
                    continue
                seen.add((remote.where, remote.shown))
                hint = _HINTS.get(scheme)
                advice = f"; write it as {hint}" if hint else ""
                yield self.finding(
                    resource,
                    f"{remote.shown}: MosaicML streaming has no downloader for "
                    f"{scheme}:// (it reads s3, gs, oci, azure, azure-dl, hf, sftp, "
                    f"dbfs, alipan){advice}",
                    path=remote.where,
                )
