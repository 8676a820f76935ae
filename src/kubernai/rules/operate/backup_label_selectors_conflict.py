"""OPS018 backup-label-selectors-conflict."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.velero import backup_spec, selectors_conflict
from kubernai.rules.base import Finding, Rule, Severity


class BackupLabelSelectorsConflict(Rule):
    """A Velero backup sets both `labelSelector` and `orLabelSelectors`.

    ## Mechanism
    A BackupSpec filters objects by one `labelSelector` or by a list of
    `orLabelSelectors`, never both. Velero validates this when it starts a
    backup; with both set, the backup ends in phase `FailedValidation` with
    `encountered labelSelector as well as orLabelSelectors in backup spec,
    only one can be specified`, and backs up nothing. A Schedule with both
    in `spec.template` is accepted, and every backup it creates fails.
    Merge the selectors into `orLabelSelectors`.

    ## Example
    ```yaml
    apiVersion: velero.io/v1
    kind: Schedule
    metadata:
      name: ml-daily
      namespace: velero
    spec:
      schedule: "0 1 * * *"
      template:
        ttl: 168h
        labelSelector:
          matchLabels: {team: ml}
        orLabelSelectors:
          - matchLabels: {app: trainer}
          - matchLabels: {app: vllm}
    ```

    ## Use instead
    ```yaml
    apiVersion: velero.io/v1
    kind: Schedule
    metadata:
      name: ml-daily
      namespace: velero
    spec:
      schedule: "0 1 * * *"
      template:
        ttl: 168h
        orLabelSelectors:
          - matchLabels: {team: ml}
          - matchLabels: {app: trainer}
          - matchLabels: {app: vllm}
    ```

    ## References
    - https://velero.io/docs/main/api-types/backup/ (`orLabelSelectors`)
    - https://velero.io/docs/main/resource-filtering/
    - vmware-tanzu/velero `pkg/controller/backup_controller.go`
      (`prepareBackupRequest`)
    """

    code = "OPS018"
    name = "backup-label-selectors-conflict"
    severity = Severity.ERROR
    mechanism = "velero-backup-for-ai-clusters"
    kinds = frozenset({"Backup", "Schedule"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        backup = backup_spec(resource)
        if backup is None or not selectors_conflict(backup.spec):
            return
        yield self.finding(
            resource,
            "sets both labelSelector and orLabelSelectors: Velero fails the "
            "backup validation (only one can be specified)",
            path=backup.field("orLabelSelectors"),
        )
