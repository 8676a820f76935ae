"""OPS020 argocd-reconciliation-too-frequent."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from kubernai.model.gitops import (
    DEFAULT_RECONCILIATION,
    RECONCILIATION_TIMEOUT,
    argocd_setting,
    is_argocd_cm,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity

MIN_PERIOD_S = Fraction(60)
"""Below this, every Application is refreshed more than once a minute (heuristic:
the smallest example in the Argo CD docs is ``60s``; issue reports of exhausted
controller and Git-server CPU are at 15-30s)."""


class ArgocdReconciliationTooFrequent(Rule):
    """Argo CD refreshes every Application from Git more than once a minute.

    ## Mechanism
    `timeout.reconciliation` in the `argocd-cm` ConfigMap is the period at
    which the application controller refreshes each Application: the
    repo-server resolves the tracked branch or tag in Git (`git ls-remote`;
    the same value is its revision-cache expiry), and the controller
    compares the generated manifests with the live objects. The default is
    120s plus up to 60s of jitter (180s without jitter before Argo CD 3.0).
    The work grows with the number of Applications divided by the period:
    at 15s, 150 Applications (a usual count once every model server, GPU
    operator component and team namespace has its own) mean ten refreshes
    a second, enough to saturate the controller's node and to flood the Git
    server with requests. Keep the period at a few minutes and add a Git
    webhook, which refreshes the affected Applications as soon as a commit
    lands, faster than any polling period. Changing the value
    needs a restart of `argocd-repo-server` and
    `argocd-application-controller`.

    ## Example
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: argocd-cm
      namespace: argocd
    data:
      timeout.reconciliation: 15s
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: argocd-cm
      namespace: argocd
    data:
      timeout.reconciliation: 180s
      timeout.reconciliation.jitter: 60s
    ```

    ## References
    - https://github.com/argoproj/argo-cd/blob/master/docs/operator-manual/argocd-cm.yaml
    - https://argo-cd.readthedocs.io/en/stable/faq/#how-often-does-argo-cd-check-for-changes-to-my-git-or-helm-repository
    - https://argo-cd.readthedocs.io/en/stable/operator-manual/high_availability/
    - https://argo-cd.readthedocs.io/en/stable/operator-manual/webhook/
    - https://github.com/argoproj-labs/argocd-autopilot/issues/593
    - https://github.com/argoproj/argo-cd/issues/6357
    """

    code = "OPS020"
    name = "argocd-reconciliation-too-frequent"
    severity = Severity.WARNING
    mechanism = "argocd-vs-flux-for-ai-clusters"
    kinds = frozenset({"ConfigMap"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if not is_argocd_cm(resource):
            return
        setting = argocd_setting(resource, RECONCILIATION_TIMEOUT)
        if setting is None or setting.seconds is None:
            return
        period = int(setting.seconds)  # the controller keeps whole seconds
        if not 0 < period < MIN_PERIOD_S:
            return
        per_minute = MIN_PERIOD_S / period
        rate = (
            f"{per_minute.numerator} times"
            if per_minute.denominator == 1
            else f"about {float(per_minute):.1f} times"
        )
        yield self.finding(
            resource,
            f"{RECONCILIATION_TIMEOUT} is {setting.value!r} ({period}s): every "
            f"Application is refreshed from Git {rate} a minute; Argo CD's default "
            f"is {DEFAULT_RECONCILIATION}",
            path=setting.path,
        )
