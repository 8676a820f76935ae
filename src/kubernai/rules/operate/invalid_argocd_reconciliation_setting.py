"""OPS022 invalid-argocd-reconciliation-setting."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gitops import (
    DEFAULT_BY_SETTING,
    DURATION_SETTINGS,
    argocd_setting,
    is_argocd_cm,
    parse_go_duration,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class InvalidArgocdReconciliationSetting(Rule):
    """Argo CD cannot read a reconciliation period in argocd-cm and uses its default.

    ## Mechanism
    The application controller and the repo-server receive
    `timeout.reconciliation`, `timeout.reconciliation.jitter` and
    `timeout.hard.reconciliation` from `argocd-cm` as environment variables
    and parse them as Go durations (`90s`, `3m`, `1h30m`; recent releases
    also accept whole days such as `1d`). A value that does not parse
    (`180` without a unit, `3 m`, `5min`) or is negative is not an error
    anywhere visible: the component logs `Could not parse '180' as a
    duration from environment ARGOCD_RECONCILIATION_TIMEOUT` and carries on
    with the default, so the period the team tuned for its Git server or
    its number of Applications is not the one in force. A number written
    without quotes is worse: ConfigMap data holds strings only, and the API
    server refuses the whole ConfigMap with `cannot unmarshal number into Go
    struct field ConfigMap.data of type string`.

    ## Example
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: argocd-cm
      namespace: argocd
    data:
      timeout.reconciliation: "300"
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: argocd-cm
      namespace: argocd
    data:
      timeout.reconciliation: 300s
    ```

    ## References
    - https://github.com/argoproj/argo-cd/blob/master/util/env/env.go
    - https://github.com/argoproj/argo-cd/blob/master/docs/operator-manual/argocd-cm.yaml
    - https://pkg.go.dev/time#ParseDuration
    - https://github.com/argoproj/argo-cd/issues/24740
    """

    code = "OPS022"
    name = "invalid-argocd-reconciliation-setting"
    severity = Severity.WARNING
    mechanism = "argocd-vs-flux-for-ai-clusters"
    kinds = frozenset({"ConfigMap"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if not is_argocd_cm(resource):
            return
        for key in DURATION_SETTINGS:
            setting = argocd_setting(resource, key)
            if setting is None or setting.seconds is not None:
                continue
            if not isinstance(setting.value, str):
                yield self.finding(
                    resource,
                    f"{key} is {_shown(setting.value)}, not a string: the API server "
                    "refuses the ConfigMap (cannot unmarshal ... into Go struct field "
                    'ConfigMap.data of type string); quote it with a unit, e.g. "180s"',
                    path=setting.path,
                )
                continue
            why = (
                "is negative"
                if parse_go_duration(setting.value) is not None
                else "is not a duration Argo CD reads"
            )
            yield self.finding(
                resource,
                f"{key} is {setting.value!r}, which {why}: it logs a warning and "
                f"uses its default, {DEFAULT_BY_SETTING[key]}",
                path=setting.path,
            )


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "the boolean " + str(value).lower()
    if isinstance(value, int | float):
        return f"the number {value}"
    return "a list" if isinstance(value, list) else "a mapping"
