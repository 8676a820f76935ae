"""TRN053 streaming-cache-limit-exceeds-volume."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from fractions import Fraction

from kubernai.model.data_streaming import (
    CacheVolume,
    StreamingConfig,
    cache_limit_bytes,
    format_bytes,
    streaming_configs,
    volume_of,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.quantity import parse_quantity
from kubernai.model.resource import Resource, get_path
from kubernai.rules.base import Finding, Rule, Severity


class StreamingCacheLimitExceedsVolume(Rule):
    """StreamingDataset may cache more than the emptyDir under it may hold.

    ## Mechanism
    With `cache_limit` set, MosaicML streaming lets its `local` directory
    grow up to that many bytes before it evicts the least recently used
    shard. When `local` is on an `emptyDir` whose `sizeLimit` is smaller, the
    kubelet gets there first: once the volume's usage passes `sizeLimit` it
    evicts the whole pod (`Usage of EmptyDir volume "shards" exceeds the
    limit "200Gi".`), and a training job restarts from its last checkpoint
    or fails. Every `StreamingDataset` keeps its own cache (a training and
    an evaluation loader both count), so their limits add up on a shared
    volume. `cache_limit` strings are binary (`200gb` is 200 GiB), and the
    `sizeLimit` is a Kubernetes quantity (`200G` is 200 x 10^9 bytes); both
    are compared in bytes. Leave room below `sizeLimit` for anything else
    written to the volume.

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
                     "train_loader.dataset.cache_limit=500gb"]
              resources:
                limits: {nvidia.com/gpu: 8}
              volumeMounts:
                - {name: shards, mountPath: /cache}
          volumes:
            - name: shards
              emptyDir:
                sizeLimit: 200Gi
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
                     "train_loader.dataset.cache_limit=180gb"]
              resources:
                limits: {nvidia.com/gpu: 8}
              volumeMounts:
                - {name: shards, mountPath: /cache}
          volumes:
            - name: shards
              emptyDir:
                sizeLimit: 200Gi
    ```

    ## References
    - mosaicml/streaming `streaming/base/dataset.py` (`cache_limit`, eviction
      before each download)
    - mosaicml/streaming `streaming/base/util.py` (`bytes_to_int`)
    - https://kubernetes.io/docs/concepts/storage/volumes/#emptydir
    - https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/
    """

    code = "TRN053"
    name = "streaming-cache-limit-exceeds-volume"
    severity = Severity.WARNING
    mechanism = "dataset-streaming-from-object-storage"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            by_volume: dict[str, tuple[CacheVolume, dict[object, StreamingConfig]]] = {}
            for config in streaming_configs(resource, template, graph):
                limit = config.cache_limit
                directory = config.local_dir
                if limit is None or not limit.known or directory is None:
                    continue
                if not config.downloads:
                    continue
                count = cache_limit_bytes(limit.value)
                if not count or count < 0 or isinstance(limit.value, bool):
                    continue
                volume = volume_of(template, config.container, directory)
                if volume is None or not isinstance(
                    get_path(volume.volume, "emptyDir"), Mapping
                ):
                    continue
                dataset = config.name.split(".streams.", 1)[0]
                key = (config.container.path, dataset, limit.where, limit.shown)
                entry = by_volume.setdefault(volume.name, (volume, {}))
                entry[1].setdefault(key, config)
            for volume, configs in by_volume.values():
                size = get_path(volume.volume, "emptyDir", "sizeLimit")
                capacity = parse_quantity(size)
                if capacity is None or capacity <= 0:
                    continue
                total = sum(
                    (
                        Fraction(cache_limit_bytes(c.cache_limit.value) or 0)
                        for c in configs.values()
                        if c.cache_limit is not None
                    ),
                    Fraction(0),
                )
                if total <= capacity:
                    continue
                limits = " and ".join(
                    c.cache_limit.shown
                    for c in configs.values()
                    if c.cache_limit is not None
                )
                verb = "lets" if len(configs) == 1 else "let"
                yield self.finding(
                    resource,
                    f"{limits} {verb} streaming keep up to {format_bytes(int(total))} "
                    "of shards in "
                    f"emptyDir {volume.name!r} (mounted at {volume.mount_path}), "
                    f"whose sizeLimit {size} is {format_bytes(int(capacity))}",
                    path=(
                        *template.field_path("volumes", volume.index),
                        "emptyDir",
                        "sizeLimit",
                    ),
                )
