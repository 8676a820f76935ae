"""OPS017 invalid-backup-duration."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Path, Resource, get_path, is_placeholder, iter_maps
from kubernai.model.velero import backup_spec, is_go_duration
from kubernai.rules.base import Finding, Rule, Severity

_DURATION_FIELDS = ("ttl", "csiSnapshotTimeout", "itemOperationTimeout")
_NUMBER_UNIT = re.compile(r"[-+]?[0-9.]+([^0-9.]+)")


def _go_error(text: str) -> str:
    """The error Go's ``time.ParseDuration`` gives, for the message."""
    for match in _NUMBER_UNIT.finditer(text):
        unit = match.group(1)
        if unit not in ("ns", "us", "µs", "μs", "ms", "s", "m", "h"):
            return f'time: unknown unit "{unit}" in duration "{text}"'
    if re.fullmatch(r"[-+]?[0-9.]+", text):
        return f'time: missing unit in duration "{text}"'
    return f'time: invalid duration "{text}"'


class InvalidBackupDuration(Rule):
    """A Velero Backup or Schedule duration that Go cannot parse (`ttl: 30d`).

    ## Mechanism
    `ttl`, `csiSnapshotTimeout`, `itemOperationTimeout` and hook `timeout`
    fields are Go durations (`metav1.Duration`): a number and one of the
    units `ns`, `us`, `ms`, `s`, `m`, `h`, repeated (`720h`, `1h30m`).
    There are no days or weeks. The CRD only says `type: string`, so the API
    server stores `ttl: 30d` without complaint; Velero then fails to decode
    the object (`time: unknown unit "d" in duration "30d"`). The backups of
    that Schedule are never made, and `velero schedule get` itself fails
    until the object is deleted (velero#6552). A number (`ttl: 720`) is
    refused by the API server, which wants a string.

    ## Example
    ```yaml
    apiVersion: velero.io/v1
    kind: Schedule
    metadata:
      name: checkpoints-weekly
      namespace: velero
    spec:
      schedule: "0 4 * * 0"
      template:
        includedNamespaces: ["training"]
        ttl: 30d
    ```

    ## Use instead
    ```yaml
    apiVersion: velero.io/v1
    kind: Schedule
    metadata:
      name: checkpoints-weekly
      namespace: velero
    spec:
      schedule: "0 4 * * 0"
      template:
        includedNamespaces: ["training"]
        ttl: 720h
    ```

    ## References
    - https://velero.io/docs/main/api-types/backup/ (`ttl`: "a
      time.Duration-parseable string")
    - https://pkg.go.dev/time#ParseDuration
    - https://github.com/vmware-tanzu/velero/issues/6552
    """

    code = "OPS017"
    name = "invalid-backup-duration"
    severity = Severity.ERROR
    mechanism = "velero-backup-for-ai-clusters"
    kinds = frozenset({"Backup", "Schedule"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        backup = backup_spec(resource)
        if backup is None:
            return
        fields: list[tuple[Path, Any]] = [
            (backup.field(name), get_path(backup.spec, name))
            for name in _DURATION_FIELDS
        ]
        for index, hook in iter_maps(backup.spec, "hooks", "resources"):
            for phase in ("pre", "post"):
                for step, item in iter_maps(hook, phase):
                    path = backup.field("hooks", "resources", index, phase, step)
                    fields.append(
                        ((*path, "exec", "timeout"), get_path(item, "exec", "timeout"))
                    )
        for path, value in fields:
            if value is None or is_placeholder(value):
                continue
            name = str(path[-1])
            if not isinstance(value, str):
                yield self.finding(
                    resource,
                    f"{name} is {value!r}, not a string: the API server refuses "
                    "it (a Go duration string such as 720h is expected)",
                    path=path,
                )
            elif not is_go_duration(value):
                yield self.finding(
                    resource,
                    f"{name}: {value!r} is not a Go duration ({_go_error(value)}); "
                    "use ns, us, ms, s, m or h, e.g. 720h for 30 days",
                    path=path,
                )
