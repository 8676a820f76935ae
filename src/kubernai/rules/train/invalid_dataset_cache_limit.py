"""TRN051 invalid-dataset-cache-limit."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.data_streaming import (
    WDS_CACHE_SIZE,
    cache_limit_bytes,
    env_setting,
    parses_as_int,
    streaming_configs,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class InvalidDatasetCacheLimit(Rule):
    """Shard cache limit written in a form the data loader cannot read.

    ## Mechanism
    MosaicML `StreamingDataset` converts a string `cache_limit` with
    `bytes_to_int`, which knows only a plain number of bytes, a `b` suffix
    and the suffixes `kb`, `mb`, `gb`, `tb`, `pb`, `eb`, `zb`, `yb` (any
    case, all powers of 1024). Kubernetes-style quantities such as `10Gi`,
    `10G` or `10GiB` raise `ValueError: Unsupported value/suffix 10gi.
    Supported suffix are ['b', 'kb', 'mb', 'gb', 'tb', 'pb', 'eb', 'zb',
    'yb'].` when the dataset is built, so every rank fails before the first
    step. WebDataset reads `WDS_CACHE_SIZE` with Python's `int()` whenever a
    `WebDataset(...)` is constructed, so `10GB` or `1e10` raise `ValueError:
    invalid literal for int() with base 10` (WebDataset 0.2.x to 0.3.x).

    ## Example
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: finetune
    spec:
      template:
        spec:
          restartPolicy: Never
          serviceAccountName: trainer
          containers:
            - name: train
              image: mosaicml/llm-foundry:2.7.0_cu128-latest
              command: ["composer", "train/train.py", "/config/ft.yaml"]
              args: ["train_loader.dataset.remote=s3://corpus/chat-mds",
                     "train_loader.dataset.local=/cache/chat",
                     "train_loader.dataset.cache_limit=100Gi"]
              resources:
                limits: {nvidia.com/gpu: 8}
    ```

    ## Use instead
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: finetune
    spec:
      template:
        spec:
          restartPolicy: Never
          serviceAccountName: trainer
          containers:
            - name: train
              image: mosaicml/llm-foundry:2.7.0_cu128-latest
              command: ["composer", "train/train.py", "/config/ft.yaml"]
              args: ["train_loader.dataset.remote=s3://corpus/chat-mds",
                     "train_loader.dataset.local=/cache/chat",
                     "train_loader.dataset.cache_limit=100gb"]
              resources:
                limits: {nvidia.com/gpu: 8}
    ```

    ## References
    - mosaicml/streaming `streaming/base/util.py` (`bytes_to_int`)
    - mosaicml/streaming `streaming/base/dataset.py` (`cache_limit`)
    - webdataset/webdataset `src/webdataset/compat.py`
      (`int(os.environ.get("WDS_CACHE_SIZE", ...))`)
    """

    code = "TRN051"
    name = "invalid-dataset-cache-limit"
    severity = Severity.ERROR
    mechanism = "dataset-streaming-from-object-storage"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        seen: set[tuple[object, str]] = set()
        for template in resource.templates:
            for config in streaming_configs(resource, template, graph):
                limit = config.cache_limit
                if limit is None or not limit.known or not limit.value:
                    continue
                if isinstance(limit.value, bool):
                    continue
                if cache_limit_bytes(limit.value) is not None:
                    continue
                if (limit.where, limit.shown) in seen:
                    continue
                seen.add((limit.where, limit.shown))
                yield self.finding(
                    resource,
                    f"{limit.shown} is not a size StreamingDataset reads "
                    "(ValueError: Unsupported value/suffix): it takes bytes or a "
                    "kb, mb, gb, tb... suffix (powers of 1024)",
                    path=limit.where,
                )
            for container in template.containers:
                size = env_setting(container, WDS_CACHE_SIZE)
                if size is None or not size.known or parses_as_int(size.text):
                    continue
                yield self.finding(
                    resource,
                    f"{size.shown} in {container.label}: WebDataset reads it with "
                    "int(), which refuses it; give a whole number of bytes",
                    path=size.where,
                )
