"""TRN003 checkpoint-dir-on-read-only-volume."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.checkpoint_storage import (
    checkpoint_targets,
    names_output,
    read_only_reason,
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


class CheckpointDirOnReadOnlyVolume(Rule):
    """Training told to save checkpoints into a directory mounted read-only.

    ## Mechanism
    A volumeMount with `readOnly: true`, a volume source with its own
    `readOnly: true` (`persistentVolumeClaim.readOnly`, `nfs.readOnly`,
    `csi.readOnly`), and every `configMap`, `secret`, `downwardAPI`,
    `projected` and `image` volume (read-only since Kubernetes 1.10, and by
    design for image volumes) are mounted read-only. The first save, or the
    trainer creating its output directory at start-up, then fails with
    `OSError: [Errno 30] Read-only file system`, often after the model has
    been loaded and the first interval trained. A read-only mount is right
    for base weights and datasets; the directory checkpoints are written to
    must be a writable mount of its own.

    The rule looks at Kubeflow training jobs and runtimes, and at Jobs,
    CronJobs, Volcano Jobs and JobSets that request accelerators, at
    absolute paths given to options that can only mean writing: Hugging
    Face `--output_dir`, `--save_dir`, `OUTPUT_DIR`, Megatron `--save`,
    Lightning `default_root_dir`, NeMo `exp_manager.exp_dir`, torchtune
    `output_dir`, and checkpoint options with `save` or `output` in their
    name. A bare `--checkpoint_dir` or `CHECKPOINT_DIR` is left alone (jobs
    load checkpoints from it too), as are options that read
    (`--resume_from_checkpoint`, `--load`, torchtune
    `checkpointer.checkpoint_dir`), and `ReadOnlyMany` claims, which
    Kubernetes does not enforce as read-only.

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
          containers:
            - name: trainer
              image: ghcr.io/example/finetune:1.0
              args:
                - --model_name_or_path=/models/base
                - --output_dir=/models/run1
              resources:
                limits:
                  nvidia.com/gpu: 1
              volumeMounts:
                - name: models
                  mountPath: /models
                  readOnly: true
          volumes:
            - name: models
              persistentVolumeClaim:
                claimName: models
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
          containers:
            - name: trainer
              image: ghcr.io/example/finetune:1.0
              args:
                - --model_name_or_path=/models/base
                - --output_dir=/output/run1
              resources:
                limits:
                  nvidia.com/gpu: 1
              volumeMounts:
                - name: models
                  mountPath: /models
                  readOnly: true
                - name: output
                  mountPath: /output
          volumes:
            - name: models
              persistentVolumeClaim:
                claimName: models
            - name: output
              persistentVolumeClaim:
                claimName: finetune-output
    ```

    ## References
    - https://kubernetes.io/docs/concepts/storage/volumes/#read-only-mounts
    - https://github.com/kubernetes/kubernetes/pull/58720 (configMap, secret,
      downwardAPI and projected volumes mounted read-only)
    - https://kubernetes.io/docs/tasks/configure-pod-container/image-volumes/
    - https://github.com/kubernetes/kubernetes/issues/37465 (ReadOnlyMany is
      not enforced; `persistentVolumeClaim.readOnly` is)
    """

    code = "TRN003"
    name = "checkpoint-dir-on-read-only-volume"
    severity = Severity.ERROR
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
            for container in template.containers:
                if container.init:
                    continue
                reported: set[str] = set()
                for target in checkpoint_targets(template, container):
                    option = target.option
                    if option is None or not names_output(option):
                        continue
                    if target.path in reported:
                        continue
                    why = read_only_reason(target)
                    if not why:
                        continue
                    reported.add(target.path)
                    storage = target.storage
                    yield self.finding(
                        resource,
                        f"{container.label} writes checkpoints to {target.path} "
                        f"({target.evidence}), on {storage.kind} volume "
                        f"{storage.volume!r} mounted at {storage.mount_path}, "
                        f"which is read-only: {why}",
                        path=target.field,
                    )
