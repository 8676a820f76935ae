"""OPS011 backup-skips-checkpoint-volume."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.checkpoint_storage import checkpoint_targets
from kubernai.model.eviction import (
    TRAINING_KIND_NAMES,
    is_kubeflow_training,
    is_training_kind,
)
from kubernai.model.features import CHECKPOINT_HINTS
from kubernai.model.gpu import requests_accelerator
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, get_str
from kubernai.model.velero import (
    BACKUP_VOLUMES,
    BACKUP_VOLUMES_EXCLUDES,
    EXCLUDE_LABEL,
    BackupSpec,
    PodVolume,
    covering_backups,
    fs_backup_by_default,
    fs_backup_copies,
    pod_volumes,
    snapshot_move_data,
)
from kubernai.model.workload import PodTemplate
from kubernai.rules.base import Finding, Rule, Severity


class BackupSkipsCheckpointVolume(Rule):
    """Velero backs up a training job's pods but not the data of its checkpoint claim.

    ## Mechanism
    Velero captures the data of a PersistentVolumeClaim in one of two ways:
    a volume snapshot (native or CSI), or file-system backup of the pod
    volume that mounts it. `snapshotVolumes: false` turns snapshots off, CSI
    ones included. File-system backup then copies the claim only when the
    pod opts it in (`backup.velero.io/backup-volumes` lists the volume) or
    when the backup copies all volumes by default
    (`defaultVolumesToFsBackup: true`) and the pod does not opt it out
    (`backup.velero.io/backup-volumes-excludes`). Otherwise the backup
    completes, the claim's definition is in it, and its data is not: a
    restore after losing the cluster or the volume brings back an empty
    claim, and training restarts from step zero.

    The rule looks at Kubeflow training jobs and runtimes, and at Jobs,
    CronJobs, Volcano Jobs and JobSets that request accelerators, whose
    checkpoints (`--checkpoint_dir`, `--output_dir`, Megatron `--save`, a
    mount at `/checkpoints`...) land on a PersistentVolumeClaim. It fires
    when Backups or Schedules of the input surely take the pods, and every
    one of them has `snapshotVolumes: false` and does not copy the volume
    with file-system backup. A backup that leaves `defaultVolumesToFsBackup`
    unset follows the Velero server Deployment when it is in the input (its
    `--default-volumes-to-fs-backup` decides); without it, both settings are
    tried and the volume counts as copied if either copies it. Backups with a
    `resourcePolicy` are left alone (volume policies decide).

    ## Example
    ```yaml
    apiVersion: velero.io/v1
    kind: Schedule
    metadata:
      name: daily
      namespace: velero
    spec:
      schedule: "0 3 * * *"
      template:
        includedNamespaces: ["training"]
        snapshotVolumes: false
        defaultVolumesToFsBackup: false
        ttl: 168h
    ---
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: llama-pretrain
      namespace: training
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 2
          template:
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.05-py3
                  args: ["--checkpoint_dir", "/ckpt/run1"]
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
    apiVersion: velero.io/v1
    kind: Schedule
    metadata:
      name: daily
      namespace: velero
    spec:
      schedule: "0 3 * * *"
      template:
        includedNamespaces: ["training"]
        snapshotVolumes: false
        defaultVolumesToFsBackup: false
        ttl: 168h
    ---
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: llama-pretrain
      namespace: training
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 2
          template:
            metadata:
              annotations:
                backup.velero.io/backup-volumes: ckpt
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.05-py3
                  args: ["--checkpoint_dir", "/ckpt/run1"]
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
    - https://velero.io/docs/main/file-system-backup/ (opt-in and opt-out)
    - https://velero.io/docs/main/api-types/backup/ (`snapshotVolumes`)
    - vmware-tanzu/velero `internal/volumehelper/volume_policy_helper.go`
      (`ShouldPerformSnapshot`, `ShouldPerformFSBackup`)
    """

    code = "OPS011"
    name = "backup-skips-checkpoint-volume"
    severity = Severity.WARNING
    mechanism = "velero-backup-for-ai-clusters"
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
            backups = covering_backups(resource, template, graph)
            if not backups:
                continue
            volumes = {v.name: v for v in pod_volumes(template)}
            reported: set[str] = set()
            for container in template.containers:
                if container.init:
                    continue
                for target in checkpoint_targets(template, container):
                    storage = target.storage
                    volume = volumes.get(storage.volume)
                    if (
                        storage.kind != "persistentVolumeClaim"
                        or volume is None
                        or volume.name in reported
                        or _claim_excluded(resource, volume, graph)
                    ):
                        continue
                    why = _not_captured(template, volume, backups, graph)
                    if not why:
                        continue
                    reported.add(volume.name)
                    claim = get_str(volume.raw, "persistentVolumeClaim", "claimName")
                    on = f"volume {volume.name!r} (claim {claim or '?'})"
                    if target.option is None:
                        where = f"mounts {on} at {target.path} for checkpoints"
                    else:
                        where = (
                            f"writes checkpoints to {target.path} "
                            f"({target.evidence}) on {on}"
                        )
                    yield self.finding(
                        resource,
                        f"{container.label} {where}, but {why}",
                        path=volume.path,
                    )


def _claim_excluded(resource: Resource, volume: PodVolume, graph: ObjectGraph) -> bool:
    """Whether the claim in the input is labelled out of backups on purpose."""
    name = get_str(volume.raw, "persistentVolumeClaim", "claimName")
    claim = graph.get("PersistentVolumeClaim", resource.namespace, name)
    return claim is not None and (
        str(claim.labels.get(EXCLUDE_LABEL, "")).lower() == "true"
    )


def _not_captured(
    template: PodTemplate,
    volume: PodVolume,
    backups: tuple[BackupSpec, ...],
    graph: ObjectGraph,
) -> str:
    """Why none of the backups captures the volume's data, or ``""``."""
    reasons: list[str] = []
    hint = ""
    for backup in backups:
        if backup.has_volume_policy or backup.flag("snapshotVolumes") is not False:
            return ""
        opt_out = fs_backup_by_default(backup, graph)
        move_data = snapshot_move_data(backup, graph).value is True
        modes = (False, True) if opt_out.value is None else (opt_out.value,)
        if any(
            fs_backup_copies(template, volume, opt_out=mode, move_data=move_data)
            for mode in modes
        ):
            return ""
        reasons.append(f"{backup.label} (snapshotVolumes: false, {opt_out.shown})")
        if not hint:
            if volume.source == "persistentVolumeClaim" and move_data:
                hint = "snapshotMoveData keeps claims out of file-system backup"
            elif opt_out.value is False:
                hint = f"{BACKUP_VOLUMES} does not list it"
            else:
                hint = f"{BACKUP_VOLUMES_EXCLUDES} lists it"
    if not reasons:
        return ""
    first = reasons[0]
    more = f" and {len(reasons) - 1} more" if len(reasons) > 1 else ""
    return (
        f"{first}{more} neither snapshots it nor copies it with file-system "
        f"backup ({hint}): the backup holds the claim without its data"
    )
