"""TRN001 checkpoints-on-host-path."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.checkpoint_storage import (
    checkpoint_targets,
    host_path,
    is_shared_host_path,
    read_only_reason,
    single_node,
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


class CheckpointsOnHostPath(Rule):
    """Training checkpoints written to a node-local hostPath directory.

    ## Mechanism
    A `hostPath` volume is a directory on the node's own disk. It outlives
    the pod, which makes it look durable, but only that node can see it.
    When the pod is evicted, preempted, drained, retried by the Job
    controller (`restartPolicy: Never`) or rescheduled after a node failure,
    the replacement pod can start on another node, finds an empty (or older)
    checkpoint directory there and resumes from step zero. torchrun's own
    documentation asks for checkpoints that a restarted worker can load, and
    the Kubernetes volume documentation warns that pods with identical
    configuration behave differently on different nodes through hostPath.
    In a multi-node job each rank writes its shard to its own node, so no
    node ever holds a complete checkpoint: PyTorch distributed checkpointing
    writes the `.metadata` file only on the coordinator rank's node.

    The rule looks at Kubeflow training jobs and runtimes, and at Jobs,
    CronJobs, Volcano Jobs and JobSets that request accelerators. It reports
    a writable hostPath volume mounted at a path named for checkpoints, and
    absolute checkpoint directories given to options (`--checkpoint_dir`,
    `--output_dir`, Megatron `--save`, `CHECKPOINT_DIR`...) that land on a
    hostPath volume. It stays silent when the pods are pinned to one node
    (`nodeName`, a `kubernetes.io/hostname` selector, pod affinity on the
    hostname) and when the host directory looks like a network filesystem
    mounted on every node (`/fsx`, `/lustre`, `/mnt/nfs`, `/gpfs`...).
    Checkpoints on emptyDir or in the container layer are CLU054's.

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: llama-pretrain
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 4
          template:
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.05-py3
                  command: ["torchrun", "train.py", "--checkpoint_dir=/ckpt/run1"]
                  resources:
                    limits:
                      nvidia.com/gpu: 8
                  volumeMounts:
                    - name: scratch
                      mountPath: /ckpt
              volumes:
                - name: scratch
                  hostPath:
                    path: /mnt/local-nvme/ckpt
                    type: DirectoryOrCreate
    ```

    ## Use instead
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: llama-pretrain
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 4
          template:
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.05-py3
                  command: ["torchrun", "train.py", "--checkpoint_dir=/ckpt/run1"]
                  resources:
                    limits:
                      nvidia.com/gpu: 8
                  volumeMounts:
                    - name: ckpt
                      mountPath: /ckpt
              volumes:
                - name: ckpt
                  persistentVolumeClaim:
                    claimName: llama-ckpt-rwx
    ```

    ## References
    - https://kubernetes.io/docs/concepts/storage/volumes/#hostpath
    - https://pytorch.org/docs/stable/elastic/run.html (torch/distributed/run.py:
      "Make sure to checkpoint your progress")
    - https://docs.pytorch.org/docs/stable/distributed.checkpoint.html
    """

    code = "TRN001"
    name = "checkpoints-on-host-path"
    severity = Severity.WARNING
    mechanism = "checkpoint-storage-patterns"
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
            if single_node(template):
                continue
            for container in template.containers:
                if container.init:
                    continue
                reported: set[str] = set()
                for target in checkpoint_targets(template, container):
                    storage = target.storage
                    if storage.kind != "hostPath" or storage.mount_path in reported:
                        continue
                    node_dir = host_path(target)
                    if (
                        not node_dir
                        or is_shared_host_path(node_dir)
                        or read_only_reason(target)
                    ):
                        continue
                    reported.add(storage.mount_path)
                    volume = f"hostPath volume {storage.volume!r} ({node_dir})"
                    if target.option is not None:
                        where = (
                            f"writes checkpoints to {target.path} "
                            f"({target.evidence}), on {volume}"
                        )
                    else:
                        where = f"mounts {volume} at {target.path} for checkpoints"
                    yield self.finding(
                        resource,
                        f"{container.label} {where}: only the node the pod ran on "
                        "has them; a pod rescheduled elsewhere starts over",
                        path=target.field,
                    )
