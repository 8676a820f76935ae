"""OPS023 ignored-differences-overwritten-on-sync."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gitops import (
    RESPECT_IGNORE_DIFFERENCES,
    application_spec,
    sync_policy,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, format_path, get_list, iter_maps
from kubernai.rules.base import Finding, Rule, Severity

_DIFF_FIELDS = ("jsonPointers", "jqPathExpressions", "managedFieldsManagers")


class IgnoredDifferencesOverwrittenOnSync(Rule):
    """Argo CD ignores a field when diffing but still writes Git's value on every sync.

    ## Mechanism
    `spec.ignoreDifferences` only changes how Argo CD *compares*: the
    Application stays Synced while an autoscaler, an operator or a webhook
    changes the listed fields. When a sync does run (a new commit with
    auto-sync, self-heal of another field, a click in the UI), "the desired
    state is applied as-is", ignored fields included. An HPA- or
    KEDA-scaled vLLM Deployment whose `/spec/replicas` is ignored drops back
    to the replica count in Git on the next unrelated commit, killing
    serving pods that hold warm KV caches; a webhook caBundle injected by
    cert-manager goes back to the placeholder written in Git until the
    injector writes it again. The sync
    option `RespectIgnoreDifferences=true` makes the sync copy the live
    values of the ignored fields into what it applies (for objects that
    already exist). Argo CD matches sync options as whole strings, so a
    variant such as `RespectIgnoreDifferences=True` does nothing.

    ## Example
    ```yaml
    apiVersion: argoproj.io/v1alpha1
    kind: Application
    metadata:
      name: vllm-llama
      namespace: argocd
    spec:
      project: default
      source:
        repoURL: https://github.com/example/serving.git
        path: apps/vllm-llama
      destination:
        server: https://kubernetes.default.svc
        namespace: inference
      ignoreDifferences:
        - group: apps
          kind: Deployment
          jsonPointers:
            - /spec/replicas
      syncPolicy:
        automated: {}
    ```

    ## Use instead
    ```yaml
    apiVersion: argoproj.io/v1alpha1
    kind: Application
    metadata:
      name: vllm-llama
      namespace: argocd
    spec:
      project: default
      source:
        repoURL: https://github.com/example/serving.git
        path: apps/vllm-llama
      destination:
        server: https://kubernetes.default.svc
        namespace: inference
      ignoreDifferences:
        - group: apps
          kind: Deployment
          jsonPointers:
            - /spec/replicas
      syncPolicy:
        automated: {}
        syncOptions:
          - RespectIgnoreDifferences=true
    ```

    ## References
    - https://argo-cd.readthedocs.io/en/stable/user-guide/sync-options/#respect-ignore-differences-configs
    - https://argo-cd.readthedocs.io/en/stable/user-guide/diffing/
    - https://github.com/argoproj/argo-cd/blob/master/controller/sync.go
    """

    code = "OPS023"
    name = "ignored-differences-overwritten-on-sync"
    severity = Severity.WARNING
    mechanism = "argocd-vs-flux-for-ai-clusters"
    kinds = frozenset({"Application", "ApplicationSet"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        spec = application_spec(resource)
        if spec is None:
            return
        entries = [
            index
            for index, entry in iter_maps(resource.raw, *spec, "ignoreDifferences")
            if any(get_list(entry, field) for field in _DIFF_FIELDS)
        ]
        if not entries:
            return
        policy = sync_policy(resource, spec)
        if any(option == RESPECT_IGNORE_DIFFERENCES for _, option in policy.options):
            return
        ignored = format_path((*spec, "ignoreDifferences"))
        when = "every sync (auto-sync is on)" if policy.auto_sync else "every sync"
        for index, option in policy.options:
            if option.replace(" ", "").lower() == RESPECT_IGNORE_DIFFERENCES.lower():
                yield self.finding(
                    resource,
                    f"sync option {option!r} is not {RESPECT_IGNORE_DIFFERENCES!r} "
                    "(Argo CD compares the whole string), so "
                    f"{when} still writes Git's values over the fields in {ignored}",
                    path=(*policy.path, "syncOptions", index),
                )
                return
        count = len(entries)
        yield self.finding(
            resource,
            f"{ignored} has {count} entr{'y' if count == 1 else 'ies'} but syncOptions "
            f"lacks {RESPECT_IGNORE_DIFFERENCES}: {when} writes Git's values over "
            "the ignored fields that Git sets",
            path=(*spec, "ignoreDifferences"),
        )
