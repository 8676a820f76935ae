"""OPS013 backup-annotation-unknown-volume."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, is_placeholder
from kubernai.model.velero import (
    VOLUME_ANNOTATIONS,
    annotation_names,
    annotation_path,
    annotation_value,
    volume_names,
)
from kubernai.rules.base import Finding, Rule, Severity


class BackupAnnotationUnknownVolume(Rule):
    """A Velero volume annotation names a volume the pod does not have.

    ## Mechanism
    `backup.velero.io/backup-volumes` (opt-in) and
    `backup.velero.io/backup-volumes-excludes` (opt-out) list pod volumes by
    their `spec.volumes[].name`, separated by commas. Velero splits the
    value at each comma and does not trim spaces, then walks the pod's
    volumes and compares names exactly. A name that matches no volume (a
    typo, the claim name instead of the volume name, a volume renamed since,
    or `data, logs` with a space after the comma) is ignored: the volume
    meant to be backed up is not, or the model cache meant to be excluded
    is uploaded with every backup. Nothing fails; older Velero releases only
    log `No volume named ... found in pod ..., skipping`.

    The rule checks the annotation on pod templates whose volumes are all in
    the manifest (a StatefulSet's `volumeClaimTemplates` count as volumes);
    templates completed at admission (KServe runtimes, Trainer runtimes) are
    skipped.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: StatefulSet
    metadata:
      name: trainer
    spec:
      serviceName: trainer
      selector:
        matchLabels: {app: trainer}
      template:
        metadata:
          labels: {app: trainer}
          annotations:
            backup.velero.io/backup-volumes: checkpoints, logs
        spec:
          containers:
            - name: train
              image: nvcr.io/nvidia/pytorch:24.05-py3
              volumeMounts:
                - {name: checkpoints, mountPath: /ckpt}
                - {name: logs, mountPath: /logs}
          volumes:
            - name: checkpoints
              persistentVolumeClaim: {claimName: trainer-ckpt}
            - name: logs
              persistentVolumeClaim: {claimName: trainer-logs}
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: StatefulSet
    metadata:
      name: trainer
    spec:
      serviceName: trainer
      selector:
        matchLabels: {app: trainer}
      template:
        metadata:
          labels: {app: trainer}
          annotations:
            backup.velero.io/backup-volumes: checkpoints,logs
        spec:
          containers:
            - name: train
              image: nvcr.io/nvidia/pytorch:24.05-py3
              volumeMounts:
                - {name: checkpoints, mountPath: /ckpt}
                - {name: logs, mountPath: /logs}
          volumes:
            - name: checkpoints
              persistentVolumeClaim: {claimName: trainer-ckpt}
            - name: logs
              persistentVolumeClaim: {claimName: trainer-logs}
    ```

    ## References
    - https://velero.io/docs/main/file-system-backup/ ("where the volume
      names are the names of the volumes in the pod spec")
    - vmware-tanzu/velero `pkg/util/podvolume/pod_volume.go`
      (`GetVolumesToBackup`, `GetVolumesToExclude`: `strings.Split(value, ",")`)
    - vmware-tanzu/velero `pkg/backup/item_backupper.go` (walks
      `pod.Spec.Volumes`)
    """

    code = "OPS013"
    name = "backup-annotation-unknown-volume"
    severity = Severity.WARNING
    mechanism = "velero-backup-for-ai-clusters"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            if not template.complete:
                continue
            for key in VOLUME_ANNOTATIONS:
                value = annotation_value(template, key)
                if not value or is_placeholder(value):
                    continue
                known = volume_names(resource, template)
                unknown = [n for n in annotation_names(value) if n not in known]
                if not unknown:
                    continue
                yield self.finding(
                    resource,
                    f"{key}: {value!r} names {_describe(unknown, known)}: Velero "
                    "ignores names that match no volume",
                    path=annotation_path(resource, template, key),
                )


def _describe(unknown: list[str], known: frozenset[str]) -> str:
    spaced = [name for name in unknown if name.strip() in known]
    missing = [name for name in unknown if name not in spaced]
    parts: list[str] = []
    if missing:
        names = " and ".join(repr(name) for name in missing)
        verb = "is" if len(missing) == 1 else "are"
        parts.append(f"{names}, which {verb} not in spec.volumes")
    if spaced:
        names = " and ".join(repr(name) for name in spaced)
        parts.append(f"{names} (a space: Velero splits at commas without trimming)")
    return "; ".join(parts)
