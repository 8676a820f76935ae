"""OPS021 argocd-periodic-refresh-disabled."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gitops import RECONCILIATION_TIMEOUT, argocd_setting, is_argocd_cm
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class ArgocdPeriodicRefreshDisabled(Rule):
    """Argo CD never polls Git: only a webhook or a manual refresh picks up commits.

    ## Mechanism
    "Reconciliation by timeout is disabled if timeout is set to 0": with
    `timeout.reconciliation: 0s` in `argocd-cm`, the application controller
    stops refreshing Applications on a timer, so a commit reaches the
    cluster only when a Git webhook (or `argocd app get --refresh`, or the
    UI) asks for it. That is a sound choice when a webhook is configured,
    which cannot be seen in manifests; without one, or when a webhook
    delivery fails (network, expired secret, a bulk merge that drops
    events), auto-synced Applications silently stay on their last revision:
    a new model version or a fixed serving config is merged and never
    rolled out. The Argo CD FAQ advises against 0 for this reason and
    suggests a long period (`15m`, `1h`) next to webhooks instead. The
    controller keeps whole seconds, so a value below `1s` (`500ms`) also
    turns polling off. With 0,
    the repo-server also caches resolved revisions for
    `--default-cache-expiration` (24h) unless configured otherwise.

    ## Example
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: argocd-cm
      namespace: argocd
    data:
      timeout.reconciliation: 0s
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: argocd-cm
      namespace: argocd
    data:
      # webhooks deliver commits at once; polling is the safety net
      timeout.reconciliation: 15m
    ```

    ## References
    - https://github.com/argoproj/argo-cd/blob/master/docs/operator-manual/argocd-cm.yaml
    - https://argo-cd.readthedocs.io/en/stable/faq/#how-often-does-argo-cd-check-for-changes-to-my-git-or-helm-repository
    - https://argo-cd.readthedocs.io/en/stable/operator-manual/webhook/
    """

    code = "OPS021"
    name = "argocd-periodic-refresh-disabled"
    severity = Severity.INFO
    mechanism = "argocd-vs-flux-for-ai-clusters"
    kinds = frozenset({"ConfigMap"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if not is_argocd_cm(resource):
            return
        setting = argocd_setting(resource, RECONCILIATION_TIMEOUT)
        if setting is None or setting.seconds is None or int(setting.seconds) != 0:
            return
        rounded = (
            " (the controller keeps whole seconds, so 0)" if setting.seconds else ""
        )
        yield self.finding(
            resource,
            f"{RECONCILIATION_TIMEOUT} is {setting.value!r}{rounded}: Argo CD does not "
            "poll "
            "Git, so new commits reach the cluster only through a Git webhook or a "
            "manual refresh (fine if a webhook is configured)",
            path=setting.path,
        )
