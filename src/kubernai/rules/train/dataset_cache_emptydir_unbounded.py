"""TRN050 dataset-cache-emptydir-unbounded."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.data_streaming import (
    HF_DATASETS_CACHE,
    MOSAICML,
    absolute_dir,
    env_setting,
    streaming_configs,
    volume_of,
)
from kubernai.model.eviction import has_unbounded_empty_dir, unbounded_empty_dir
from kubernai.model.graph import ObjectGraph
from kubernai.model.model_download import weight_volumes
from kubernai.model.resource import Resource
from kubernai.model.workload import Container, PodTemplate
from kubernai.rules.base import Finding, Rule, Severity

EPHEMERAL_STORAGE = "ephemeral-storage"


def _caches(
    resource: Resource, template: PodTemplate, graph: ObjectGraph
) -> Iterator[tuple[Container, str, str]]:
    """(container, directory, why) of each dataset cache that nothing bounds."""
    for config in streaming_configs(resource, template, graph):
        directory = config.local_dir
        if (
            directory is not None
            and config.complete
            and config.downloads
            and not config.limit_set
        ):
            local = config.local.shown if config.local is not None else ""
            why = f"the {MOSAICML} cache ({local}, no cache_limit)"
            yield config.container, directory, why
    for container in template.containers:
        setting = env_setting(container, HF_DATASETS_CACHE)
        if setting is not None and setting.known:
            directory = absolute_dir(setting.text)
            if directory is not None:
                why = f"the Hugging Face datasets cache ({setting.shown})"
                yield container, directory, why


class DatasetCacheEmptydirUnbounded(Rule):
    """Downloaded training data piles up on a disk emptyDir that nothing bounds.

    ## Mechanism
    MosaicML streaming copies every shard it reads from `remote` into its
    `local` directory and keeps it: without `cache_limit` nothing is ever
    evicted, so by the end of an epoch the directory holds the whole
    dataset, often terabytes. Hugging Face `datasets` likewise downloads
    and converts a dataset into `HF_DATASETS_CACHE` before training starts.
    On an `emptyDir` without `medium` that data sits on the node's disk and
    counts as the pod's ephemeral storage. When the volume has no
    `sizeLimit` and no container requests `ephemeral-storage`, the scheduler
    places the pod without regard for disk, the node fills up, and the
    kubelet evicts pods under disk pressure (`The node was low on resource:
    ephemeral-storage.`), hours into the run and not necessarily this pod.
    Set `cache_limit` (streaming evicts the least recently used shards to
    stay under it; it must be at least four times the largest shard), and
    give the volume a `sizeLimit` and the pod an `ephemeral-storage`
    request. Volumes that hold model weights are SRV002's concern, and a
    cache on a relative path or left to the library's default is not
    reported.

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: mpt-pretrain
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 4
          template:
            spec:
              serviceAccountName: trainer
              containers:
                - name: pytorch
                  image: mosaicml/llm-foundry:2.7.0_cu128-latest
                  command: ["composer", "train/train.py", "/config/mpt-1b.yaml"]
                  args: ["train_loader.dataset.remote=s3://corpus/c4-mds",
                         "train_loader.dataset.local=/cache/c4"]
                  resources:
                    limits:
                      nvidia.com/gpu: 8
                  volumeMounts:
                    - {name: config, mountPath: /config}
                    - {name: shards, mountPath: /cache}
              volumes:
                - name: config
                  configMap: {name: mpt-config}
                - name: shards
                  emptyDir: {}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: mpt-config
    data:
      mpt-1b.yaml: |
        train_loader:
          name: text
          dataset:
            split: train
            shuffle: true
    ```

    ## Use instead
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: mpt-pretrain
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 4
          template:
            spec:
              serviceAccountName: trainer
              containers:
                - name: pytorch
                  image: mosaicml/llm-foundry:2.7.0_cu128-latest
                  command: ["composer", "train/train.py", "/config/mpt-1b.yaml"]
                  args: ["train_loader.dataset.remote=s3://corpus/c4-mds",
                         "train_loader.dataset.local=/cache/c4",
                         "train_loader.dataset.cache_limit=200gb"]
                  resources:
                    requests:
                      ephemeral-storage: 250Gi
                    limits:
                      nvidia.com/gpu: 8
                  volumeMounts:
                    - {name: config, mountPath: /config}
                    - {name: shards, mountPath: /cache}
              volumes:
                - name: config
                  configMap: {name: mpt-config}
                - name: shards
                  emptyDir:
                    sizeLimit: 240Gi
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: mpt-config
    data:
      mpt-1b.yaml: |
        train_loader:
          name: text
          dataset:
            split: train
            shuffle: true
    ```

    ## References
    - mosaicml/streaming `streaming/base/dataset.py` (`local`, `cache_limit`:
      "Set to None to disable shard eviction")
    - https://docs.mosaicml.com/projects/streaming/en/stable/dataset_configuration/shard_retrieval.html
    - huggingface/datasets `src/datasets/config.py` (`HF_DATASETS_CACHE`)
    - https://kubernetes.io/docs/concepts/storage/volumes/#emptydir
    - https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/
    """

    code = "TRN050"
    name = "dataset-cache-emptydir-unbounded"
    severity = Severity.WARNING
    mechanism = "dataset-streaming-from-object-storage"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            if not has_unbounded_empty_dir(template) or any(
                EPHEMERAL_STORAGE in c.requests or EPHEMERAL_STORAGE in c.limits
                for c in template.containers
            ):
                continue
            reported: set[str] = set()
            weights: set[str] | None = None
            for container, directory, why in _caches(resource, template, graph):
                volume = volume_of(template, container, directory)
                if volume is None or volume.name in reported:
                    continue
                if not unbounded_empty_dir(volume.volume):
                    continue
                if weights is None:
                    weights = {v.name for v in weight_volumes(template, graph)}
                if volume.name in weights:
                    continue  # SRV002 reports weight caches
                reported.add(volume.name)
                yield self.finding(
                    resource,
                    f"emptyDir {volume.name!r} (mounted at {volume.mount_path} in "
                    f"{container.label}) holds {why} with no sizeLimit, and no "
                    "container requests ephemeral-storage",
                    path=template.field_path("volumes", volume.index, "emptyDir"),
                )
