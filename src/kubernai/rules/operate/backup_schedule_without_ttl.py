"""OPS016 backup-schedule-without-ttl."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, get_path
from kubernai.model.velero import (
    DEFAULT_BACKUP_TTL,
    TTL_FLAG,
    backup_spec,
    is_zero_duration,
    server_flags,
)
from kubernai.rules.base import Finding, Rule, Severity


class BackupScheduleWithoutTtl(Rule):
    """A Velero Schedule leaves the retention of its backups to the server default.

    ## Mechanism
    Each backup a Schedule creates expires after its `ttl`. When
    `spec.template.ttl` is unset, or zero (`0s`), Velero uses the server's
    `--default-backup-ttl`, 720h (30 days) unless the server sets another;
    there is no "keep forever". On an AI cluster a backup can hold
    file-system copies of checkpoint and cache volumes and snapshots of
    multi-terabyte claims, so a daily schedule keeps about thirty full sets
    of them, whatever the team meant. Set `ttl` to the retention you want
    to pay for (`168h` for a week of dailies).

    ## Example
    ```yaml
    apiVersion: velero.io/v1
    kind: Schedule
    metadata:
      name: training-daily
      namespace: velero
    spec:
      schedule: "0 3 * * *"
      template:
        includedNamespaces: ["training"]
        defaultVolumesToFsBackup: true
    ```

    ## Use instead
    ```yaml
    apiVersion: velero.io/v1
    kind: Schedule
    metadata:
      name: training-daily
      namespace: velero
    spec:
      schedule: "0 3 * * *"
      template:
        includedNamespaces: ["training"]
        defaultVolumesToFsBackup: true
        ttl: 168h0m0s
    ```

    ## References
    - https://velero.io/docs/main/api-types/schedule/ (`ttl`: "If not
      specified, a default value of 30 days will be used")
    - https://velero.io/docs/main/how-velero-works/ (Set a backup to expire)
    - vmware-tanzu/velero `pkg/controller/backup_controller.go`
      (`if request.Spec.TTL.Duration == 0`), `pkg/cmd/server/config/config.go`
      (`defaultBackupTTL = 30 * 24 * time.Hour`)
    - https://github.com/vmware-tanzu/velero/issues/5381 (no TTL means "forever")
    """

    code = "OPS016"
    name = "backup-schedule-without-ttl"
    severity = Severity.INFO
    mechanism = "velero-backup-for-ai-clusters"
    kinds = frozenset({"Schedule"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        backup = backup_spec(resource)
        if backup is None:
            return
        ttl = get_path(backup.spec, "ttl")
        if ttl is not None and not (isinstance(ttl, str) and is_zero_duration(ttl)):
            return
        flags = server_flags(graph, resource.namespace)
        if flags is not None and TTL_FLAG in flags:
            default = f"{flags[TTL_FLAG]} (the server's {TTL_FLAG})"
        else:
            default = (
                f"the server's {TTL_FLAG}, {DEFAULT_BACKUP_TTL} (30 days) unless "
                "the server sets another"
            )
        if ttl is None:
            what, path = "spec.template sets no ttl", backup.path
        else:
            what, path = f"spec.template.ttl is {ttl} (zero)", backup.field("ttl")
        yield self.finding(
            resource,
            f"{what}: every backup it creates is kept for {default}",
            path=path,
        )
