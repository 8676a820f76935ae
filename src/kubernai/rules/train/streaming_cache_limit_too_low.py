"""TRN052 streaming-cache-limit-too-low."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.data_streaming import (
    CACHE_LIMIT_SHARD_FACTOR,
    MDS_DEFAULT_SHARD_BYTES,
    cache_limit_bytes,
    format_bytes,
    streaming_configs,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity

MINIMUM = CACHE_LIMIT_SHARD_FACTOR * MDS_DEFAULT_SHARD_BYTES


class StreamingCacheLimitTooLow(Rule):
    """StreamingDataset cache_limit below four default-sized shards.

    ## Mechanism
    When `cache_limit` is set, `StreamingDataset` checks it against the
    shards listed in the dataset's index as it is built. A limit below four
    times the largest shard (raw plus compressed size) raises `ValueError:
    Cache limit (X bytes) is too low. Increase the cache_limit to at-least
    four times the largest shard size (Z bytes) ...`; a limit at or below
    the size of the index files raises `Minimum cache usage ... is larger
    than the cache limit`. `MDSWriter` cuts shards at `size_limit`, 64 MiB
    by default, so a dataset written with the defaults needs at least
    256 MiB, and more when its shards are compressed or larger. The shard
    size is not in the manifest: the message says what was assumed. A bare
    number is bytes, so `cache_limit: 100` means 100 bytes, not gigabytes.
    `cache_limit: 0` (or unset) switches eviction off and is not reported
    here.

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
              args: ["train_loader.dataset.remote=s3://corpus/c4-mds",
                     "train_loader.dataset.local=/cache/c4",
                     "train_loader.dataset.cache_limit=100mb"]
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
              args: ["train_loader.dataset.remote=s3://corpus/c4-mds",
                     "train_loader.dataset.local=/cache/c4",
                     "train_loader.dataset.cache_limit=50gb"]
              resources:
                limits: {nvidia.com/gpu: 8}
    ```

    ## References
    - mosaicml/streaming `streaming/base/dataset.py` (cache limit checks)
    - mosaicml/streaming `streaming/base/format/mds/writer.py`
      (`size_limit = 1 << 26`)
    - https://docs.mosaicml.com/projects/streaming/en/stable/dataset_configuration/shard_retrieval.html
    """

    code = "TRN052"
    name = "streaming-cache-limit-too-low"
    severity = Severity.WARNING
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
                count = cache_limit_bytes(limit.value)
                if count is None or count >= MINIMUM:
                    continue
                if (limit.where, limit.shown) in seen:
                    continue
                seen.add((limit.where, limit.shown))
                if count < 0:
                    why = "is negative"
                else:
                    why = (
                        f"is {format_bytes(count)}, below {format_bytes(MINIMUM)} "
                        f"({CACHE_LIMIT_SHARD_FACTOR} x the "
                        f"{format_bytes(MDS_DEFAULT_SHARD_BYTES)} shards MDSWriter "
                        "writes by default)"
                    )
                yield self.finding(
                    resource,
                    f"{limit.shown} {why}: "
                    "StreamingDataset refuses a limit under 4 x its largest shard",
                    path=limit.where,
                )
