"""OPS044 network-policy-selects-nothing."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import CLUSTER_SCOPED, ObjectGraph
from kubernai.model.network_policy import (
    describe_selector,
    namespace_text,
    parse_policy,
    related_files,
    same_scope,
)
from kubernai.model.resource import Resource
from kubernai.model.workload import is_workload
from kubernai.rules.base import Finding, Rule, Severity

_NO_PODS = frozenset(
    {
        "ConfigMap", "Secret", "Service", "ServiceAccount", "Role", "RoleBinding",
        "PersistentVolumeClaim", "Ingress", "HorizontalPodAutoscaler",
        "PodDisruptionBudget", "NetworkPolicy", "ResourceQuota", "LimitRange",
        "Endpoints", "EndpointSlice", "HTTPRoute", "GRPCRoute", "Gateway",
        "ServiceMonitor", "PodMonitor", "PrometheusRule", "ScaledObject",
        "TriggerAuthentication", "LocalQueue", "PodGroup", "Certificate",
        "Issuer", "VerticalPodAutoscaler", "DestinationRule", "VirtualService",
        "AuthorizationPolicy", "PeerAuthentication", "Kustomization",
    }
)  # fmt: skip
"""Namespaced kinds that create no pods: they cannot be what a policy targets."""


class NetworkPolicySelectsNothing(Rule):
    """NetworkPolicy whose podSelector matches none of the pods it ships with.

    ## Mechanism
    A NetworkPolicy acts only on the pods of its namespace that its
    `spec.podSelector` selects. A selector that names a label value the pods
    do not carry (`app: vllm-server` for pods labelled `app: vllm`, a value
    left from a rename, a chart's release name) selects nothing: the policy
    is accepted, `kubectl get networkpolicy` lists it, and the pods it was
    written for stay non-isolated (or, for an allow policy, stay blocked by
    the namespace default deny). The rule compares the selector with the pod
    templates of the workloads shipped with the policy (same namespace, same
    folder or one below it) and reports it when every template carries a
    selected label key with another value, or a label the selector excludes.
    A label missing from a template is not held against it (operators and
    controllers add labels such as `training.kubeflow.org/job-name` to the
    pods they create), and a folder that also holds objects of kinds that
    may create pods unknown to kubernai (operators' custom resources) is
    skipped.

    ## Example
    ```yaml
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata:
      name: allow-gateway
      namespace: serving
    spec:
      podSelector:
        matchLabels: {app: vllm-server}
      policyTypes: [Ingress]
      ingress:
        - from:
            - namespaceSelector:
                matchLabels: {kubernetes.io/metadata.name: gateway}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
      namespace: serving
    spec:
      replicas: 1
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          containers:
            - name: server
              image: vllm/vllm-openai:v0.6.3
              resources:
                limits: {nvidia.com/gpu: 1}
    ```

    ## Use instead
    ```yaml
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata:
      name: allow-gateway
      namespace: serving
    spec:
      podSelector:
        matchLabels: {app: vllm}
      policyTypes: [Ingress]
      ingress:
        - from:
            - namespaceSelector:
                matchLabels: {kubernetes.io/metadata.name: gateway}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
      namespace: serving
    spec:
      replicas: 1
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          containers:
            - name: server
              image: vllm/vllm-openai:v0.6.3
              resources:
                limits: {nvidia.com/gpu: 1}
    ```

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-resource
    - https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors
    """

    code = "OPS044"
    name = "network-policy-selects-nothing"
    severity = Severity.WARNING
    mechanism = "network-policy-for-multi-tenant-ai"
    kinds = frozenset({"NetworkPolicy"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        policy = parse_policy(resource)
        if policy.malformed or policy.selects_all:
            return
        file = resource.source.file
        workloads: list[Resource] = []
        for other in graph.in_namespace(resource.namespace):
            if not related_files(file, other.source.file):
                continue
            if is_workload(other):
                if same_scope(resource, other):
                    workloads.append(other)
            elif other.kind not in _NO_PODS and other.kind not in CLUSTER_SCOPED:
                return  # a custom resource here may create the selected pods
        templates = [t for w in workloads for t in w.templates]
        if not templates:
            return
        if any(policy.selects(t.labels) is not False for t in templates):
            return
        shown = ", ".join(f"{w.kind} {w.name}" for w in workloads[:3]) + (
            f" and {len(workloads) - 3} more" if len(workloads) > 3 else ""
        )
        yield self.finding(
            resource,
            f"podSelector {describe_selector(policy.pod_selector)} matches none of "
            f"the {len(templates)} pod template(s) shipped with it in "
            f"{namespace_text(resource.namespace)} ({shown}): the policy applies "
            "to no pod",
            path=("spec", "podSelector"),
        )
