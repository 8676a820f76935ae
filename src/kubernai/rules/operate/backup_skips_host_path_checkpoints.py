"""OPS012 backup-skips-host-path-checkpoints."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.checkpoint_storage import (
    checkpoint_targets,
    host_path,
    is_shared_host_path,
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
from kubernai.model.velero import (
    BACKUP_VOLUMES,
    annotation_names,
    annotation_value,
    covering_backups,
)
from kubernai.rules.base import Finding, Rule, Severity


class BackupSkipsHostPathCheckpoints(Rule):
    """Velero backs up the training job's pods, but its checkpoints sit on a hostPath.

    ## Mechanism
    Velero captures volume data with volume snapshots (of PersistentVolumes)
    or with file-system backup of pod volumes. A `hostPath` volume is
    neither: it is not a PersistentVolume, and it is not mounted under
    `/var/lib/kubelet/pods`, where the node-agent reads pod volumes. The
    file-system backup documentation says it plainly: "hostPath volumes are
    not supported". In opt-out mode (`defaultVolumesToFsBackup: true`) such
    volumes are skipped without a word; listed in
    `backup.velero.io/backup-volumes`, they are skipped as well. The backup
    completes with the job's manifests and none of its checkpoints.

    The rule looks at Kubeflow training jobs and runtimes, and at Jobs,
    CronJobs, Volcano Jobs and JobSets that request accelerators, whose
    checkpoints land on a writable hostPath volume, and fires when a Backup
    or Schedule of the input surely takes the pods (namespaces, resource
    filters, label selectors). Host directories that look like a network
    filesystem mounted on every node (`/fsx`, `/lustre`, `/mnt/nfs`...) are
    left alone: their storage has its own backups. Keep checkpoints on a
    PersistentVolumeClaim that Velero snapshots or copies, or in object
    storage.

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
        defaultVolumesToFsBackup: true
        ttl: 168h
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: finetune
      namespace: training
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: train
              image: nvcr.io/nvidia/pytorch:24.05-py3
              args: ["--output_dir", "/data/run1"]
              resources:
                limits:
                  nvidia.com/gpu: 8
              volumeMounts:
                - name: data
                  mountPath: /data
          volumes:
            - name: data
              hostPath:
                path: /mnt/local-nvme/finetune
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
        defaultVolumesToFsBackup: true
        ttl: 168h
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: finetune
      namespace: training
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: train
              image: nvcr.io/nvidia/pytorch:24.05-py3
              args: ["--output_dir", "/data/run1"]
              resources:
                limits:
                  nvidia.com/gpu: 8
              volumeMounts:
                - name: data
                  mountPath: /data
          volumes:
            - name: data
              persistentVolumeClaim:
                claimName: finetune-output
    ```

    ## References
    - https://velero.io/docs/main/file-system-backup/ ("hostPath volumes are
      not supported", Limitations)
    - vmware-tanzu/velero `pkg/util/podvolume/pod_volume.go` (`GetVolumesByPod`:
      "cannot backup hostpath volumes as they are not mounted into
      /var/lib/kubelet/pods")
    - vmware-tanzu/velero `pkg/podvolume/backupper.go` ("is a hostPath volume
      which is not supported for pod volume backup, skipping")
    """

    code = "OPS012"
    name = "backup-skips-host-path-checkpoints"
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
            opted_in = annotation_names(annotation_value(template, BACKUP_VOLUMES))
            reported: set[str] = set()
            for container in template.containers:
                if container.init:
                    continue
                for target in checkpoint_targets(template, container):
                    storage = target.storage
                    if storage.kind != "hostPath" or storage.volume in reported:
                        continue
                    node_dir = host_path(target)
                    if (
                        not node_dir
                        or is_shared_host_path(node_dir)
                        or read_only_reason(target)
                    ):
                        continue
                    reported.add(storage.volume)
                    listed = (
                        f", even though {BACKUP_VOLUMES} lists it"
                        if storage.volume in opted_in
                        else ""
                    )
                    more = (
                        f" and {len(backups) - 1} more back"
                        if len(backups) > 1
                        else " backs"
                    )
                    yield self.finding(
                        resource,
                        f"{container.label} keeps checkpoints on hostPath volume "
                        f"{storage.volume!r} ({node_dir}; {target.evidence}): "
                        f"{backups[0].label}{more} up these pods, but Velero "
                        f"cannot back up hostPath volumes{listed}",
                        path=target.field,
                    )
