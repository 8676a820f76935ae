"""OPS019 backup-resource-filters-mixed."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, get_path
from kubernai.model.velero import backup_spec, filters_mixed
from kubernai.rules.base import Finding, Rule, Severity

_OLD = ("includedResources", "excludedResources", "includeClusterResources")
_NEW = (
    "includedNamespaceScopedResources",
    "excludedNamespaceScopedResources",
    "includedClusterScopedResources",
    "excludedClusterScopedResources",
)


class BackupResourceFiltersMixed(Rule):
    """A Velero backup mixes the old and the new resource filters.

    ## Mechanism
    Velero has two generations of resource filters: the old
    `includedResources`, `excludedResources` and `includeClusterResources`,
    and the scoped ones added in Velero 1.11,
    `included|excludedNamespaceScopedResources` and
    `included|excludedClusterScopedResources`. One BackupSpec may use one
    generation only. With both, the backup ends in `FailedValidation`:
    `include-resources, exclude-resources and include-cluster-resources are
    old filter parameters. include-cluster-scoped-resources, ... are new
    filter parameters. They cannot be used together`. A common way in is
    adding `includeClusterResources: true` to a spec that already uses the
    scoped lists; use `includedClusterScopedResources: ["*"]` instead.

    ## Example
    ```yaml
    apiVersion: velero.io/v1
    kind: Backup
    metadata:
      name: llm-before-upgrade
      namespace: velero
    spec:
      includedNamespaces: ["llm"]
      includeClusterResources: true
      excludedNamespaceScopedResources: ["events"]
      ttl: 72h
    ```

    ## Use instead
    ```yaml
    apiVersion: velero.io/v1
    kind: Backup
    metadata:
      name: llm-before-upgrade
      namespace: velero
    spec:
      includedNamespaces: ["llm"]
      includedClusterScopedResources: ["*"]
      excludedNamespaceScopedResources: ["events"]
      ttl: 72h
    ```

    ## References
    - https://velero.io/docs/main/resource-filtering/
    - vmware-tanzu/velero `pkg/controller/backup_controller.go`
      (`oldAndNewFilterParametersUsedTogether`)
    """

    code = "OPS019"
    name = "backup-resource-filters-mixed"
    severity = Severity.ERROR
    mechanism = "velero-backup-for-ai-clusters"
    kinds = frozenset({"Backup", "Schedule"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        backup = backup_spec(resource)
        if backup is None or not filters_mixed(backup.spec):
            return
        old = [k for k in _OLD if get_path(backup.spec, k) not in (None, [])]
        new = [k for k in _NEW if get_path(backup.spec, k) not in (None, [])]
        yield self.finding(
            resource,
            f"uses the old filters ({', '.join(old)}) with the scoped ones "
            f"({', '.join(new)}): Velero fails the backup validation, they "
            "cannot be used together",
            path=backup.field(new[0]),
        )
