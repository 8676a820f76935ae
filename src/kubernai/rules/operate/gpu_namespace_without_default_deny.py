"""OPS040 gpu-namespace-without-default-deny."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import ACCELERATOR
from kubernai.model.gpu import accelerator_names
from kubernai.model.graph import ObjectGraph
from kubernai.model.network_policy import (
    INGRESS,
    host_network,
    namespace_text,
    policies_for,
    policy_names,
)
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class GpuNamespaceWithoutDefaultDeny(Rule):
    """GPU pods left open to every pod of the cluster in a namespace with policies.

    ## Mechanism
    A pod accepts connections from anywhere until some NetworkPolicy selects
    it with `Ingress` in its `policyTypes`. Tenant isolation therefore rests
    on a namespace-wide default deny: a policy with `podSelector: {}` and
    `policyTypes: [Ingress]`, plus allow policies for the traffic the tenant
    wants. Policies that each select one application leave every other pod of
    the namespace non-isolated, so a new model server or notebook with GPUs
    (and the model weights, tokens and unauthenticated inference endpoints it
    holds) is reachable from every namespace of a shared cluster. The rule
    reports a workload with GPU requests in a namespace whose NetworkPolicies
    are in the input when none of them is namespace-wide for ingress and none
    selects the workload's pods. It assumes the input holds every
    NetworkPolicy of the namespace; namespaces without any policy in the
    input are not judged. Policies only take effect with a network plugin
    that enforces them (Calico, Cilium, Antrea...; not flannel alone).

    ## Example
    ```yaml
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata:
      name: allow-gateway-to-api
      namespace: team-a
    spec:
      podSelector:
        matchLabels: {app: api}
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
      namespace: team-a
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
                limits:
                  nvidia.com/gpu: 1
    ```

    ## Use instead
    ```yaml
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata:
      name: default-deny-ingress
      namespace: team-a
    spec:
      podSelector: {}
      policyTypes: [Ingress]
    ---
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata:
      name: allow-gateway-to-vllm
      namespace: team-a
    spec:
      podSelector:
        matchLabels: {app: vllm}
      policyTypes: [Ingress]
      ingress:
        - from:
            - namespaceSelector:
                matchLabels: {kubernetes.io/metadata.name: gateway}
          ports:
            - {protocol: TCP, port: 8000}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
      namespace: team-a
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
                limits:
                  nvidia.com/gpu: 1
    ```

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/network-policies/#the-two-sorts-of-pod-isolation
    - https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-deny-all-ingress-traffic
    - https://kubernetes.io/docs/concepts/security/multi-tenancy/#network-isolation
    """

    code = "OPS040"
    name = "gpu-namespace-without-default-deny"
    severity = Severity.WARNING
    mechanism = "network-policy-for-multi-tenant-ai"
    workloads_only = True
    requires = frozenset({ACCELERATOR})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        policies = policies_for(graph, resource)
        if not policies or any(p.malformed for p in policies):
            return
        gpu_templates = [
            (template, container, name)
            for template in resource.templates
            if not host_network(template.spec)
            for container in template.containers
            for name in accelerator_names(container)[:1]
        ]
        if not gpu_templates:
            return
        if any(p.selects_all and INGRESS in p.types for p in policies):
            return  # a namespace-wide ingress policy: the namespace made its choice
        for template, container, gpu in gpu_templates:
            if any(p.isolates(template.labels, INGRESS) is not False for p in policies):
                continue
            role = f" ({template.role})" if template.role else ""
            section = "limits" if gpu in container.limits else "requests"
            yield self.finding(
                resource,
                f"pods{role} request {gpu} but none of the {len(policies)} "
                f"NetworkPolicies of {namespace_text(resource.namespace)} in the "
                f"input ({policy_names(policies)}) selects them for Ingress and "
                "none is a default deny (podSelector: {}): any pod of the cluster "
                "can connect to them (assumed: the input holds every NetworkPolicy "
                "of the namespace)",
                path=container.resource_path(section, gpu),
            )
            return
