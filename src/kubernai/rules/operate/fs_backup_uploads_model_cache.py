"""OPS010 fs-backup-uploads-model-cache."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gpu import requests_accelerator
from kubernai.model.graph import ObjectGraph
from kubernai.model.model_download import WeightDir, mount_for, weight_dirs
from kubernai.model.resource import Resource, get_str
from kubernai.model.velero import (
    BACKUP_VOLUMES_EXCLUDES,
    BackupSpec,
    PodVolume,
    claim_template_volumes,
    covering_backups,
    fs_backup_by_default,
    fs_backup_copies,
    pod_volumes,
    snapshot_move_data,
)
from kubernai.model.workload import PodTemplate
from kubernai.rules.base import Finding, Rule, Severity

_FRESH_EACH_POD = frozenset({"emptyDir", "ephemeral"})
"""Volumes created empty with each pod: weights in them were fetched at start."""
_RUN_TO_COMPLETION = frozenset({"Job", "CronJob"})
_PERSISTENT = frozenset({"persistentVolumeClaim", "nfs"})
_CACHE_ENV = frozenset(
    {"HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "NIM_CACHE_PATH"}
)
_CACHE_REASONS = ("the target of ", "download directory", " cache")


def _is_download_cache(weight_dir: WeightDir) -> bool:
    """Whether the directory is filled by a download (not a model store)."""
    why = weight_dir.why
    return why in _CACHE_ENV or any(part in why for part in _CACHE_REASONS)


class FsBackupUploadsModelCache(Rule):
    """Velero copies a re-downloadable model cache with file-system backup.

    ## Mechanism
    With `defaultVolumesToFsBackup: true` on a Backup or Schedule (or the
    server flag `--default-volumes-to-fs-backup`), Velero's file-system
    backup (kopia or restic in the node-agent DaemonSet) copies every volume
    of every pod it backs up into the backup repository, except hostPath,
    Secret, ConfigMap, projected and downwardAPI volumes and the volumes a
    pod lists in `backup.velero.io/backup-volumes-excludes`. A model cache
    is therefore uploaded too: tens to hundreds of GB of weights that the
    pod downloads again anyway. For an `emptyDir` the incremental chain is
    lost whenever the pod is recreated (a rollout, an eviction, a node
    drain), so the next backup uploads the whole cache again; large files
    are slow to scan for deduplication, and a volume copy that outlasts
    `--fs-backup-timeout` (4 hours by default) is cancelled. Every retained
    backup keeps its copy until its `ttl` expires.

    The rule runs only when the input holds a Velero Backup or Schedule
    whose namespaces, resource filters and label selectors surely take the
    workload's pods, and which copies pod volumes by default. It reports
    volumes that hold model weights (Hugging Face cache variables, download
    targets, serving-engine download directories, `/models`-style mount
    paths): an emptyDir or generic ephemeral volume always, a
    PersistentVolumeClaim (a StatefulSet's claim templates included) or NFS
    volume only when weights are downloaded into it (a volume holding the
    only copy of a model is left alone).
    Backups with a `resourcePolicy` are skipped (volume policies decide), and
    so are Jobs without accelerators (staging jobs that download weights and
    exit: file-system backup only reads the volumes of running pods).
    Exclude the volume with the pod-template annotation, or skip such
    volumes in a volume policy.

    ## Example
    ```yaml
    apiVersion: velero.io/v1
    kind: Schedule
    metadata:
      name: nightly
      namespace: velero
    spec:
      schedule: "0 2 * * *"
      template:
        includedNamespaces: ["llm"]
        defaultVolumesToFsBackup: true
        ttl: 168h
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
      namespace: llm
    spec:
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.8.5
              args: ["--model", "meta-llama/Llama-3.1-70B-Instruct"]
              env:
                - name: HF_HOME
                  value: /cache
              volumeMounts:
                - name: hf-cache
                  mountPath: /cache
          volumes:
            - name: hf-cache
              emptyDir: {}
    ```

    ## Use instead
    ```yaml
    apiVersion: velero.io/v1
    kind: Schedule
    metadata:
      name: nightly
      namespace: velero
    spec:
      schedule: "0 2 * * *"
      template:
        includedNamespaces: ["llm"]
        defaultVolumesToFsBackup: true
        ttl: 168h
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
      namespace: llm
    spec:
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
          annotations:
            backup.velero.io/backup-volumes-excludes: hf-cache
        spec:
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.8.5
              args: ["--model", "meta-llama/Llama-3.1-70B-Instruct"]
              env:
                - name: HF_HOME
                  value: /cache
              volumeMounts:
                - name: hf-cache
                  mountPath: /cache
          volumes:
            - name: hf-cache
              emptyDir: {}
    ```

    ## References
    - https://velero.io/docs/main/file-system-backup/ (opt-out approach,
      limitations: emptyDir backups are full after the pod is recreated)
    - https://velero.io/docs/main/resource-filtering/ (volume policies)
    - vmware-tanzu/velero `internal/volumehelper/volume_policy_helper.go`
      (`shouldIncludeVolumeInBackup`, `shouldPerformFSBackupLegacy`)
    """

    code = "OPS010"
    name = "fs-backup-uploads-model-cache"
    severity = Severity.WARNING
    mechanism = "velero-backup-for-ai-clusters"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        run_to_completion = resource.kind in _RUN_TO_COMPLETION
        for template in resource.templates:
            if run_to_completion and not requests_accelerator(template):
                continue  # a staging job: its pod lives minutes, not backups
            backups = covering_backups(resource, template, graph)
            if not backups:
                continue
            caches = _model_caches(resource, template, graph)
            if not caches:
                continue
            for volume, mount_path, why in caches:
                backup, shown = _copying_backup(template, volume, backups, graph)
                if backup is None:
                    continue
                yield self.finding(
                    resource,
                    f"volume {volume.name!r} ({volume.source} at {mount_path}: "
                    f"{why}) holds downloaded model weights, and "
                    f"{backup.label} copies it with file-system backup ({shown}): "
                    f"it is not in {BACKUP_VOLUMES_EXCLUDES}",
                    path=volume.path,
                )


def _model_caches(
    resource: Resource, template: PodTemplate, graph: ObjectGraph
) -> list[tuple[PodVolume, str, str]]:
    """Volumes holding a model cache, with the mount path and the reason."""
    volumes = {
        v.name: v for v in (*claim_template_volumes(resource), *pod_volumes(template))
    }
    found: dict[str, tuple[PodVolume, str, str]] = {}
    for weight_dir in weight_dirs(template, graph):
        mount = mount_for(weight_dir.container, weight_dir.path)
        if mount is None:
            continue
        volume = volumes.get(get_str(mount[1], "name"))
        if volume is None or volume.name in found:
            continue
        if volume.source in _FRESH_EACH_POD or (
            volume.source in _PERSISTENT and _is_download_cache(weight_dir)
        ):
            mount_path = get_str(mount[1], "mountPath")
            why = weight_dir.why
            if weight_dir.path != mount_path:
                why = f"{why} {weight_dir.path}"
            found[volume.name] = (volume, mount_path, why)
    return [found[name] for name in volumes if name in found]


def _copying_backup(
    template: PodTemplate,
    volume: PodVolume,
    backups: tuple[BackupSpec, ...],
    graph: ObjectGraph,
) -> tuple[BackupSpec | None, str]:
    for backup in backups:
        if backup.has_volume_policy:
            continue
        opt_out = fs_backup_by_default(backup, graph)
        if opt_out.value is not True:
            continue
        move_data = snapshot_move_data(backup, graph).value is True
        if fs_backup_copies(template, volume, opt_out=True, move_data=move_data):
            return backup, opt_out.shown
    return None, ""
