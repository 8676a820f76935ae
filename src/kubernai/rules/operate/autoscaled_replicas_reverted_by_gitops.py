"""OPS024 autoscaled-replicas-reverted-by-gitops."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gitops import (
    Reconciler,
    flux_skips,
    ignores_replicas,
    reconcilers,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.quantity import parse_count
from kubernai.model.resource import Resource, get_path, get_str, is_placeholder
from kubernai.rules.base import Finding, Rule, Severity

# (min field, its default, max field, its default) per autoscaler kind:
# HPA minReplicas defaults to 1 and maxReplicas is required; KEDA
# minReplicaCount defaults to 0 and maxReplicaCount to 100.
_RANGE = {
    "HorizontalPodAutoscaler": ("minReplicas", 1, "maxReplicas", None),
    "ScaledObject": ("minReplicaCount", 0, "maxReplicaCount", 100),
}


class AutoscaledReplicasRevertedByGitops(Rule):
    """Argo CD self-heal or Flux puts an autoscaled workload back to Git's replicas.

    ## Mechanism
    A Deployment that an HPA or a KEDA ScaledObject scales, and whose
    manifest in Git also sets `spec.replicas`, has two owners for one field.
    With Argo CD, the autoscaler's change makes the Application OutOfSync and
    `selfHeal: true` syncs it back to the Git value within seconds; the
    autoscaler scales out again on its next pass, and the two fight for as
    long as the load lasts. Flux does the same at every `interval` of the
    Kustomization that applies the folder: drift correction reapplies
    `replicas`. For a GPU model server every round trip kills pods that
    took minutes to load weights and fill their caches, and requests fail
    while the count flaps. The Argo CD and Kubernetes documentation both
    say to leave `replicas` out of Git once an autoscaler owns it; the
    other ways out are an Application `ignoreDifferences` entry for
    `/spec/replicas` (with `RespectIgnoreDifferences=true`) or a Flux
    `spec.ignore` rule (kustomize-controller v1.9+). The check links a
    workload to an Application or Kustomization only when the workload's
    file lies under the folder the Application's source `path` (or the
    Kustomization's `spec.path`) names and the namespaces agree; system-wide
    `resource.customizations.ignoreDifferences` in `argocd-cm` are honoured
    when that ConfigMap is in the input.

    ## Example
    ```yaml
    # Source: apps/vllm/deployment.yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
      namespace: inference
    spec:
      replicas: 2
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.8.5
              resources:
                limits: {nvidia.com/gpu: 1}
    ---
    # Source: apps/vllm/hpa.yaml
    apiVersion: autoscaling/v2
    kind: HorizontalPodAutoscaler
    metadata:
      name: vllm
      namespace: inference
    spec:
      scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: vllm}
      minReplicas: 1
      maxReplicas: 8
    ---
    # Source: clusters/prod/vllm-app.yaml
    apiVersion: argoproj.io/v1alpha1
    kind: Application
    metadata:
      name: vllm
      namespace: argocd
    spec:
      project: default
      source:
        repoURL: https://github.com/example/serving.git
        path: apps/vllm
      destination:
        server: https://kubernetes.default.svc
        namespace: inference
      syncPolicy:
        automated:
          selfHeal: true
    ```

    ## Use instead
    ```yaml
    # Source: apps/vllm/deployment.yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
      namespace: inference
    spec:
      # no replicas: the HPA owns the count
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.8.5
              resources:
                limits: {nvidia.com/gpu: 1}
    ---
    # Source: apps/vllm/hpa.yaml
    apiVersion: autoscaling/v2
    kind: HorizontalPodAutoscaler
    metadata:
      name: vllm
      namespace: inference
    spec:
      scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: vllm}
      minReplicas: 1
      maxReplicas: 8
    ---
    # Source: clusters/prod/vllm-app.yaml
    apiVersion: argoproj.io/v1alpha1
    kind: Application
    metadata:
      name: vllm
      namespace: argocd
    spec:
      project: default
      source:
        repoURL: https://github.com/example/serving.git
        path: apps/vllm
      destination:
        server: https://kubernetes.default.svc
        namespace: inference
      syncPolicy:
        automated:
          selfHeal: true
    ```

    ## References
    - https://argo-cd.readthedocs.io/en/stable/user-guide/best_practices/#leaving-room-for-imperativeness
    - https://argo-cd.readthedocs.io/en/stable/user-guide/auto_sync/#automatic-self-healing
    - https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#migrating-deployments-and-statefulsets-to-horizontal-autoscaling
    - https://fluxcd.io/flux/components/kustomize/kustomizations/#ignore-rules
    - https://fluxcd.io/blog/2026/08/ignore-rules-drift-detection/
    """

    code = "OPS024"
    name = "autoscaled-replicas-reverted-by-gitops"
    severity = Severity.WARNING
    mechanism = "argocd-vs-flux-for-ai-clusters"
    kinds = frozenset({"Deployment", "StatefulSet"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if resource.group != "apps":
            return
        written = get_path(resource.raw, "spec", "replicas")
        if written is None or is_placeholder(written):
            return
        replicas = parse_count(written)
        if not replicas:
            return  # 0 turns an HPA off; unreadable counts are another rule's
        candidates = reconcilers(graph)
        if not candidates:
            return
        scalers = [s for s in graph.scalers_of(resource) if not _pinned(s, replicas)]
        if not scalers:
            return
        found = [r for r in candidates if r.manages(resource)]
        found = [r for r in found if not _leaves_alone(r, resource, graph)]
        if not found:
            return
        scaler = scalers[0]
        yield self.finding(
            resource,
            f"spec.replicas is {replicas} and {scaler.kind} {scaler.name} scales "
            f"this {resource.kind}; {_how(found[0], resource, replicas)}",
            path=("spec", "replicas"),
        )


def _pinned(scaler: Resource, replicas: int) -> bool:
    """An autoscaler whose range is exactly the written count never changes it."""
    low_key, low_default, high_key, high_default = _RANGE.get(
        scaler.kind, ("", None, "", None)
    )
    low = parse_count(get_path(scaler.raw, "spec", low_key)) if low_key else None
    high = parse_count(get_path(scaler.raw, "spec", high_key)) if high_key else None
    low = low_default if low is None else low
    high = high_default if high is None else high
    return low == high == replicas


def _leaves_alone(
    reconciler: Reconciler, workload: Resource, graph: ObjectGraph
) -> bool:
    if reconciler.flux:
        return flux_skips(workload) or ignores_replicas(reconciler, workload)
    return ignores_replicas(reconciler, workload) or _argocd_cm_ignores(graph, workload)


def _argocd_cm_ignores(graph: ObjectGraph, workload: Resource) -> bool:
    """Whether an ``argocd-cm`` of the input ignores replicas system-wide.

    A ``resource.customizations.ignoreDifferences`` key for the kind (or
    ``all``, or the older single ``resource.customizations`` key) that
    mentions replicas or a field manager.
    """
    keys = (
        f"resource.customizations.ignoreDifferences.{workload.group}_{workload.kind}",
        "resource.customizations.ignoreDifferences.all",
        "resource.customizations",
    )
    for config in graph.of_kind("ConfigMap"):
        if config.name != "argocd-cm":
            continue
        for key in keys:
            text = get_str(config.raw, "data", key)
            if "replicas" in text or "managedFieldsManagers" in text:
                return True
    return False


def _how(reconciler: Reconciler, workload: Resource, replicas: int) -> str:
    owner = reconciler.resource
    who = f"{owner.namespace}/{owner.name}" if owner.namespace else owner.name
    where = "/".join(reconciler.folder_of(workload))
    if reconciler.flux:
        interval = get_str(owner.raw, "spec", "interval") or "interval"
        return (
            f"Flux Kustomization {who} applies "
            f"{where} and resets it to {replicas} every {interval}"
        )
    return (
        f"Application {who} (selfHeal, path "
        f"{where}) syncs it back to {replicas} whenever the autoscaler changes it"
    )
