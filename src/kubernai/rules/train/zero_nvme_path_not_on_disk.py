"""TRN034 zero-nvme-path-not-on-disk."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from kubernai.model.checkpoint import storage_of
from kubernai.model.features import LAUNCHER
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, iter_maps
from kubernai.model.workload import Container
from kubernai.model.zero_config import NVME
from kubernai.model.zero_memory import zero_runs
from kubernai.rules.base import Finding, Rule, Severity


class ZeroNvmePathNotOnDisk(Rule):
    """ZeRO-3 NVMe offload writes its swap files where no disk volume is mounted.

    ## Mechanism
    With `device: nvme`, ZeRO-3 (ZeRO-Infinity) creates
    `<nvme_path>/zero_stage_3/...` at start-up and streams optimizer states
    or parameters through it with asynchronous I/O for the whole run: tens to
    hundreds of gigabytes, read and written at every step. In a pod, a path
    that no `volumeMount` covers lands in the container's writable layer, on
    the node's root or image disk (usually not the local NVMe drives the
    config is named after): it is slow, counts against the pod's
    ephemeral storage, and can get the pod evicted (`The node was low on
    resource: ephemeral-storage`). An `emptyDir` with `medium: Memory` is a
    tmpfs: the "swap" then sits in RAM and is charged to the container's
    memory limit, which defeats the offload. Mount a local NVMe volume
    (hostPath, a local PersistentVolume or an `emptyDir` on an NVMe-backed
    kubelet disk) at `nvme_path`.

    ## Example
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: ds-config
    data:
      ds.json: |
        {"train_micro_batch_size_per_gpu": 1,
         "zero_optimization": {"stage": 3,
           "offload_param": {"device": "nvme", "nvme_path": "/local_nvme"}}}
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: finetune
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: train
              image: ghcr.io/acme/train:1
              command: ["deepspeed", "train.py", "--deepspeed", "/config/ds.json"]
              resources:
                limits:
                  nvidia.com/gpu: 8
              volumeMounts:
                - name: config
                  mountPath: /config
          volumes:
            - name: config
              configMap:
                name: ds-config
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: ds-config
    data:
      ds.json: |
        {"train_micro_batch_size_per_gpu": 1,
         "zero_optimization": {"stage": 3,
           "offload_param": {"device": "nvme", "nvme_path": "/local_nvme"}}}
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: finetune
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: train
              image: ghcr.io/acme/train:1
              command: ["deepspeed", "train.py", "--deepspeed", "/config/ds.json"]
              resources:
                limits:
                  nvidia.com/gpu: 8
              volumeMounts:
                - name: config
                  mountPath: /config
                - name: nvme
                  mountPath: /local_nvme
          volumes:
            - name: config
              configMap:
                name: ds-config
            - name: nvme
              hostPath:
                path: /mnt/nvme0
                type: Directory
    ```

    ## References
    - https://www.deepspeed.ai/docs/config-json/#parameter-offloading
    - deepspeed/runtime/zero/stage3.py (`_configure_tensor_swapping`)
    - deepspeed/runtime/swap_tensor/partitioned_param_swapper.py (`_configure_aio`)
    - https://kubernetes.io/docs/concepts/storage/volumes/#emptydir
    - https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/
    """

    code = "TRN034"
    name = "zero-nvme-path-not-on-disk"
    severity = Severity.WARNING
    mechanism = "deepspeed-zero-stages"
    workloads_only = True
    requires = frozenset({LAUNCHER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for run in zero_runs(resource, graph):
            if run.zero.stage != 3:
                continue
            template = run.template_launch.template
            container = run.launch.container
            if not _mounts_readable(container):
                continue
            for offload in run.zero.offloads:
                path = offload.nvme_path
                if offload.device != NVME or not path or not path.startswith("/"):
                    continue
                storage = storage_of(template, container, posixpath.normpath(path))
                if storage is None:
                    continue
                where = f"{run.source} sets {offload.field('nvme_path')} {path}"
                if storage.kind == "container":
                    yield self.finding(
                        resource,
                        f"{where}, but no volume of {container.label} is mounted "
                        "there: the swap files go to the container's writable "
                        "layer",
                        path=run.where,
                    )
                elif storage.kind == "emptyDir" and storage.medium == "Memory":
                    yield self.finding(
                        resource,
                        f"{where}, on volume {storage.volume!r} (emptyDir medium "
                        f"Memory at {storage.mount_path}): the swap files sit in "
                        "RAM, charged to the container's memory limit",
                        path=run.where,
                    )


def _mounts_readable(container: Container) -> bool:
    """Whether every volumeMount has a string mountPath (else a mount is unknown)."""
    return all(
        isinstance(mount.get("mountPath"), str)
        for _, mount in iter_maps(container.raw, "volumeMounts")
    )
