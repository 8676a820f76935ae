"""SRV032 conflicting-autoscalers."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.autoscaling import (
    AUTOSCALER_KINDS,
    HPA,
    KEDA_TRANSFER_OWNERSHIP,
    SCALED_OBJECT,
    keda_hpa_name,
    owner_scaled_object,
    target_ref,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, get_str, is_placeholder
from kubernai.rules.base import Finding, Rule, Severity


class ConflictingAutoscalers(Rule):
    """Two autoscalers scale the same workload.

    ## Mechanism
    Each HPA writes the replica count of its target on its own schedule,
    and a KEDA ScaledObject works by creating an HPA of its own
    (`keda-hpa-<name>`). Since Kubernetes 1.26 the HPA controller notices
    pods that more than one HPA selects and stops scaling them: both HPAs
    get `ScalingActive=False` with reason `AmbiguousSelector` and the event
    `pods by selector app=llama are controlled by multiple HPAs:
    [ml/llama-cpu ml/llama-queue]`; older clusters let both write the
    replica count in turn, each undoing the other. KEDA's admission webhook refuses
    the second owner outright: `admission webhook "vscaledobject.kb.io"
    denied the request: the workload 'llama' of type 'apps/v1.Deployment'
    is already managed by the hpa 'llama-cpu'` (or `... by the ScaledObject
    ...`). A common way in: an HPA for CPU from a Helm chart plus a
    ScaledObject for the queue added later. Put every metric in one
    autoscaler (an HPA follows the largest of its metrics), or hand an
    existing HPA to KEDA with the `scaledobject.keda.sh/transfer-hpa-ownership`
    annotation and `advanced.horizontalPodAutoscalerConfig.name`. The check
    compares `scaleTargetRef` kind and name within a namespace and reports
    each conflict once, on the autoscaler that comes last in the input; the
    HPA that KEDA made for a ScaledObject in the input is not counted twice.

    ## Example
    ```yaml
    apiVersion: autoscaling/v2
    kind: HorizontalPodAutoscaler
    metadata:
      name: llama-cpu
      namespace: ml
    spec:
      scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: llama}
      maxReplicas: 4
    ---
    apiVersion: keda.sh/v1alpha1
    kind: ScaledObject
    metadata:
      name: llama-queue
      namespace: ml
    spec:
      scaleTargetRef: {name: llama}
      minReplicaCount: 1
      triggers:
        - type: prometheus
          metadata:
            serverAddress: http://prometheus.monitoring:9090
            query: sum(vllm:num_requests_waiting{model_name="llama"})
            threshold: "5"
    ```

    ## Use instead
    ```yaml
    apiVersion: keda.sh/v1alpha1
    kind: ScaledObject
    metadata:
      name: llama-queue
      namespace: ml
    spec:
      scaleTargetRef: {name: llama}
      minReplicaCount: 1
      triggers:
        - type: prometheus
          metadata:
            serverAddress: http://prometheus.monitoring:9090
            query: sum(vllm:num_requests_waiting{model_name="llama"})
            threshold: "5"
    ```

    ## References
    - kubernetes `pkg/controller/podautoscaler/horizontal.go`
      (`validateAndParseSelector`: "pods by selector %v are controlled by
      multiple HPAs: %v", reason `AmbiguousSelector`)
    - kedacore/keda `apis/keda/v1alpha1/scaledobject_webhook.go`
      (`verifyHpas`, `verifyScaledObjects`)
    - https://keda.sh/docs/latest/reference/scaledobject-spec/#scaletargetref
    - https://github.com/kubernetes/kubernetes/pull/112011 (AmbiguousSelector, 1.26)
    """

    code = "SRV032"
    name = "conflicting-autoscalers"
    severity = Severity.ERROR
    mechanism = "hpa-for-token-throughput"
    kinds = AUTOSCALER_KINDS

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if resource.kind == HPA and owner_scaled_object(resource):
            return  # KEDA's own HPA: its ScaledObject speaks for it
        ref = target_ref(resource)
        if ref is None or is_placeholder(ref.name) or is_placeholder(ref.kind):
            return
        earlier = []
        for kind in (HPA, SCALED_OBJECT):
            for other in graph.of_kind(kind, resource.namespace):
                if (other.kind, other.name) == (resource.kind, resource.name):
                    continue  # itself, or another copy of it
                if _same_owner(resource, other) or (
                    other.kind == HPA and owner_scaled_object(other)
                ):
                    continue
                found = target_ref(other)
                if found is None or (found.kind, found.name) != (ref.kind, ref.name):
                    continue
                if _order(other) < _order(resource):
                    earlier.append(other)
        if not earlier:
            return
        names = ", ".join(f"{o.kind} {o.name!r}" for o in earlier)
        yield self.finding(
            resource,
            f"{ref.kind} {ref.name!r} is already scaled by {names}",
            path=(*ref.path, "name"),
        )


def _order(resource: Resource) -> tuple[str, int, str, str]:
    """Report a conflict once, on the autoscaler that comes last in the input."""
    return (resource.source.file, resource.source.line, resource.kind, resource.name)


def _same_owner(first: Resource, second: Resource) -> bool:
    """Whether one is a ScaledObject and the other the HPA that KEDA runs for it."""
    if first.kind == second.kind:
        return False
    scaled, hpa = (first, second) if first.kind == SCALED_OBJECT else (second, first)
    if hpa.name != keda_hpa_name(scaled):
        return False
    # KEDA's own HPA (a dump of the cluster), or one handed over to KEDA.
    transfer = get_str(scaled.annotations, KEDA_TRANSFER_OWNERSHIP).lower()
    return hpa.name.startswith("keda-hpa-") or transfer == "true"
