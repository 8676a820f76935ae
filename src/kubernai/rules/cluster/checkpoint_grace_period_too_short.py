"""CLU050 checkpoint-grace-period-too-short."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.checkpoint import checkpoint_evidence
from kubernai.model.eviction import (
    DEFAULT_TERMINATION_GRACE_SECONDS,
    TRAINING_KIND_NAMES,
    is_training_kind,
    termination_grace,
)
from kubernai.model.features import CHECKPOINT_HINTS
from kubernai.model.gpu import requests_accelerator
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class CheckpointGracePeriodTooShort(Rule):
    """GPU training pod that saves checkpoints but gets 30 s or less to stop.

    ## Mechanism
    When a pod is deleted (preemption, `kubectl drain`, a Kueue or JobSet
    restart, a spot node being reclaimed) the kubelet sends SIGTERM and waits
    `terminationGracePeriodSeconds`, 30 s unless set, before SIGKILL. A
    training loop that saves a checkpoint on SIGTERM, or is in the middle of
    writing one, needs the time to flush optimizer state for every rank: tens
    to hundreds of gigabytes for a large model. Killed half-way, the run
    leaves a truncated checkpoint that the next attempt may load or choke on,
    and resumes from the previous one, losing everything since. Set the grace
    period above the time a checkpoint takes to write, and trap SIGTERM in the
    training script. Hard node-pressure eviction ignores the grace period (it
    kills at once), so this does not protect against memory pressure.

    The rule looks at Kubeflow training jobs and runtimes, and at Jobs,
    CronJobs, Volcano Jobs and JobSets that request accelerators, when a
    container shows that it checkpoints: an option or env var named for
    checkpoints (`--checkpoint_dir`, `CHECKPOINT_DIR`; activation and gradient
    checkpointing do not count) or a writable volume mounted for them.

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
                  args: ["--checkpoint_dir=/ckpt", "--save_interval=500"]
                  resources:
                    limits:
                      nvidia.com/gpu: 8
                  volumeMounts:
                    - name: ckpt
                      mountPath: /ckpt
              volumes:
                - name: ckpt
                  persistentVolumeClaim:
                    claimName: llama-ckpt
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
              terminationGracePeriodSeconds: 600
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.05-py3
                  args: ["--checkpoint_dir=/ckpt", "--save_interval=500"]
                  resources:
                    limits:
                      nvidia.com/gpu: 8
                  volumeMounts:
                    - name: ckpt
                      mountPath: /ckpt
              volumes:
                - name: ckpt
                  persistentVolumeClaim:
                    claimName: llama-ckpt
    ```

    ## References
    - https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination
    - https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/
    - kubernetes/kubernetes pkg/apis/core/v1/defaults.go
      (DefaultTerminationGracePeriodSeconds = 30)
    """

    code = "CLU050"
    name = "checkpoint-grace-period-too-short"
    severity = Severity.WARNING
    mechanism = "eviction-and-gpu-workloads"
    kinds = TRAINING_KIND_NAMES
    workloads_only = True
    requires = frozenset({CHECKPOINT_HINTS})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if not is_training_kind(resource.group, resource.kind):
            return
        evidence = ""
        for template in resource.templates:
            for container in template.containers:
                if not container.init:
                    evidence = checkpoint_evidence(container)
                    if evidence:
                        break
            if evidence:
                break
        if not evidence:
            return
        for template in resource.templates:
            if not requests_accelerator(template):
                continue
            grace = termination_grace(template)
            if grace is None or grace.seconds > DEFAULT_TERMINATION_GRACE_SECONDS:
                continue
            role = f" ({template.role})" if template.role else ""
            yield self.finding(
                resource,
                f"pod template{role} saves checkpoints ({evidence}) but has "
                f"{grace.describe()}: a checkpoint still being written "
                "when SIGKILL arrives is lost",
                path=grace.path if grace.explicit else template.path,
            )
