"""CLU054 checkpoints-on-ephemeral-storage."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.checkpoint import (
    Storage,
    checkpoint_mounts,
    checkpoint_options,
    is_checkpoint_dir_key,
    storage_of,
)
from kubernai.model.eviction import (
    TRAINING_KIND_NAMES,
    is_kubeflow_training,
    is_training_kind,
)
from kubernai.model.features import CHECKPOINT_HINTS
from kubernai.model.gpu import requests_accelerator
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class CheckpointsOnEphemeralStorage(Rule):
    """Training checkpoints written to an emptyDir or to the container's own filesystem.

    ## Mechanism
    An emptyDir volume lives as long as its pod: it survives a container
    restart, but is deleted when the pod is evicted, preempted, drained or
    rescheduled after a node failure, which is when a checkpoint is needed. A
    path that no volume covers is in the container's writable layer, which is
    gone even after a container restart. The replacement pod then starts
    from step zero, or from whatever older checkpoint exists elsewhere. Both
    also count as the pod's ephemeral storage: past a container's
    `ephemeral-storage` limit or the emptyDir's `sizeLimit` the kubelet
    evicts the pod (`Pod ephemeral local storage usage exceeds the total
    limit of containers ...`, `Usage of EmptyDir volume ... exceeds the
    limit ...`), and a node disk filled with checkpoints brings
    `DiskPressure` evictions. An emptyDir with `medium: Memory` is tmpfs,
    charged to the pod's memory. Write checkpoints to a
    PersistentVolumeClaim or to object storage.

    The rule looks at Kubeflow training jobs and runtimes, and at Jobs,
    CronJobs, Volcano Jobs and JobSets that request accelerators. It reports
    a writable emptyDir mounted at a path named for checkpoints (`/ckpt`,
    `/checkpoints`), and absolute paths given to checkpoint options
    (`--checkpoint_dir`, `CHECKPOINT_DIR`, Hugging Face `--output_dir`,
    Megatron `--save`, Lightning `default_root_dir`) that land on an emptyDir
    or on no volume. Options that read a checkpoint (`--resume_from_checkpoint`,
    `--load`) and volumes added at admission are left alone.

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: llama-finetune
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 2
          template:
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.05-py3
                  args: ["--output_dir", "/output/run1", "--save_steps", "500"]
                  resources:
                    limits:
                      nvidia.com/gpu: 8
                  volumeMounts:
                    - name: output
                      mountPath: /output
              volumes:
                - name: output
                  emptyDir: {}
    ```

    ## Use instead
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: llama-finetune
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 2
          template:
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.05-py3
                  args: ["--output_dir", "/output/run1", "--save_steps", "500"]
                  resources:
                    limits:
                      nvidia.com/gpu: 8
                  volumeMounts:
                    - name: output
                      mountPath: /output
              volumes:
                - name: output
                  persistentVolumeClaim:
                    claimName: llama-finetune-output
    ```

    ## References
    - https://kubernetes.io/docs/concepts/storage/volumes/#emptydir
    - https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/
    - https://huggingface.co/docs/transformers/main_classes/trainer#transformers.TrainingArguments.output_dir
    """

    code = "CLU054"
    name = "checkpoints-on-ephemeral-storage"
    severity = Severity.WARNING
    mechanism = "eviction-and-gpu-workloads"
    kinds = TRAINING_KIND_NAMES
    workloads_only = True
    requires = frozenset({CHECKPOINT_HINTS})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if not is_training_kind(resource.group, resource.kind):
            return
        if not is_kubeflow_training(resource.group, resource.kind) and not any(
            requests_accelerator(t) for t in resource.templates
        ):
            return
        for template in resource.templates:
            for container in template.containers:
                if container.init:
                    continue
                reported: set[tuple[str, str]] = set()
                for index, mount_path, _ in checkpoint_mounts(container):
                    storage = storage_of(template, container, mount_path)
                    if storage is None or storage.kind != "emptyDir":
                        continue
                    reported.add((storage.kind, storage.mount_path))
                    yield self.finding(
                        resource,
                        f"{container.label} mounts {_emptydir(storage)} at "
                        f"{mount_path} for checkpoints: it is deleted with the pod",
                        path=(*container.path, "volumeMounts", index),
                    )
                for option in checkpoint_options(container):
                    value = option.value
                    if not value.startswith("/") or not is_checkpoint_dir_key(option):
                        continue
                    storage = storage_of(template, container, value)
                    if storage is None or storage.kind not in ("emptyDir", "container"):
                        continue
                    target = (storage.kind, storage.mount_path)
                    if target in reported:
                        continue
                    reported.add(target)
                    if storage.kind == "emptyDir":
                        where = f"on {_emptydir(storage)}: it is deleted with the pod"
                    else:
                        where = (
                            "which no volume covers: the container's writable layer, "
                            "lost when the container restarts or the pod goes"
                        )
                    yield self.finding(
                        resource,
                        f"{container.label} writes checkpoints to {value} "
                        f"({option.shown}), {where}",
                        path=option.path,
                    )


def _emptydir(storage: Storage) -> str:
    medium = f" (medium: {storage.medium})" if storage.medium else ""
    return f"emptyDir volume {storage.volume!r}{medium}"
