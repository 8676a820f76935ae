"""OPS014 backup-annotation-unsupported-volume."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, get_str, is_placeholder
from kubernai.model.velero import (
    BACKUP_VOLUMES,
    annotation_names,
    annotation_path,
    annotation_value,
    block_volumes,
    mounted_volumes,
    pod_volumes,
)
from kubernai.model.workload import PodTemplate
from kubernai.rules.base import Finding, Rule, Severity


class BackupAnnotationUnsupportedVolume(Rule):
    """`backup.velero.io/backup-volumes` opts in a volume that file-system backup skips.

    ## Mechanism
    Velero's file-system backup reads a pod volume through the node's
    `/var/lib/kubelet/pods/<pod UID>/volumes/...` directory, from the
    node-agent DaemonSet. Three kinds of volume listed in the opt-in
    annotation cannot be read that way and are skipped, while the backup
    still completes:
    - a `hostPath` volume: "hostPath volumes are not supported" (the
      node-agent logs `Volume ... is a hostPath volume which is not
      supported for pod volume backup, skipping`);
    - a volume no regular container mounts (only an init container, or
      none): `volume ... is declared in pod ... but not mounted by any
      container, skipping`;
    - a raw block volume (`volumeDevices`): `Block volumes are not supported
      for fs backup, skipping`.
    Datasets or checkpoints kept there are in no backup. Move the data to a
    PersistentVolumeClaim (snapshotted or copied), or mount the volume in
    the main container.

    ## Example
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: finetune
    spec:
      template:
        metadata:
          annotations:
            backup.velero.io/backup-volumes: scratch
        spec:
          restartPolicy: Never
          containers:
            - name: train
              image: nvcr.io/nvidia/pytorch:24.05-py3
              volumeMounts:
                - name: scratch
                  mountPath: /scratch
          volumes:
            - name: scratch
              hostPath:
                path: /mnt/nvme/scratch
    ```

    ## Use instead
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: finetune
    spec:
      template:
        metadata:
          annotations:
            backup.velero.io/backup-volumes: scratch
        spec:
          restartPolicy: Never
          containers:
            - name: train
              image: nvcr.io/nvidia/pytorch:24.05-py3
              volumeMounts:
                - name: scratch
                  mountPath: /scratch
          volumes:
            - name: scratch
              persistentVolumeClaim:
                claimName: finetune-scratch
    ```

    ## References
    - https://velero.io/docs/main/file-system-backup/ (Limitations)
    - vmware-tanzu/velero `pkg/podvolume/backupper.go` (`BackupPodVolumes`)
    - vmware-tanzu/velero `internal/volumehelper/volume_policy_helper.go`
      (`shouldIncludeVolumeInBackup`)
    """

    code = "OPS014"
    name = "backup-annotation-unsupported-volume"
    severity = Severity.WARNING
    mechanism = "velero-backup-for-ai-clusters"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            value = annotation_value(template, BACKUP_VOLUMES)
            if not value or is_placeholder(value):
                continue
            listed = set(annotation_names(value))
            for volume in pod_volumes(template):
                if volume.name not in listed:
                    continue
                if volume.source == "hostPath":
                    node_dir = get_str(volume.raw, "hostPath", "path")
                    why = (
                        f"is a hostPath volume ({node_dir or 'no path'}), "
                        "which file-system backup does not support"
                    )
                elif volume.name in block_volumes(template):
                    why = (
                        "is a raw block volume (volumeDevices), which file-system "
                        "backup does not read"
                    )
                elif (
                    volume.source
                    and _mounts_readable(template)
                    and volume.name not in mounted_volumes(template)
                ):
                    why = (
                        "is mounted by no regular container (init containers "
                        "do not count), so it is skipped"
                    )
                else:
                    continue
                yield self.finding(
                    resource,
                    f"{BACKUP_VOLUMES} lists {volume.name!r} for file-system backup, "
                    f"but the volume {why}",
                    path=annotation_path(resource, template, BACKUP_VOLUMES),
                )


def _mounts_readable(template: PodTemplate) -> bool:
    """Whether every regular container is in the manifest with a mount list."""
    return template.complete and all(
        isinstance(container.raw.get("volumeMounts", []), list)
        for container in template.containers
        if not container.init
    )
