"""OPS043 host-network-pod-bypasses-network-policy."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.network_policy import host_network, policies_for, policy_names
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class HostNetworkPodBypassesNetworkPolicy(Rule):
    """Pods on the host network that a NetworkPolicy is meant to isolate.

    ## Mechanism
    With `hostNetwork: true` a pod shares its node's network namespace and
    IP address. Kubernetes leaves NetworkPolicy behaviour for such pods
    undefined, and most network plugins cannot tell their traffic from the
    node's: they ignore `hostNetwork` pods when matching `podSelector` and
    treat their traffic like any other traffic of the node IP, which
    policies allow (traffic from a pod's own node is always allowed). A
    policy that selects these pods therefore isolates nothing: the pods keep
    accepting the connections it means to block, and their own connections
    are judged as node traffic rather than as the tenant's. For multi-node
    inference or training pods put on the host network for NCCL or RDMA, use
    the pod network plus an SR-IOV or host-device secondary network (Multus)
    for the fabric instead. The
    rule reports a pod template with `hostNetwork: true` that a NetworkPolicy
    of its namespace in the input certainly selects. Pod Security Admission
    `baseline` forbids host networking too.

    ## Example
    ```yaml
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata:
      name: default-deny
      namespace: team-a
    spec:
      podSelector: {}
      policyTypes: [Ingress, Egress]
    ---
    apiVersion: apps/v1
    kind: StatefulSet
    metadata:
      name: trainer
      namespace: team-a
    spec:
      serviceName: trainer
      replicas: 2
      selector:
        matchLabels: {app: trainer}
      template:
        metadata:
          labels: {app: trainer}
        spec:
          hostNetwork: true
          containers:
            - name: trainer
              image: nvcr.io/nvidia/pytorch:24.07-py3
              resources:
                limits: {nvidia.com/gpu: 8}
    ```

    ## Use instead
    ```yaml
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata:
      name: default-deny
      namespace: team-a
    spec:
      podSelector: {}
      policyTypes: [Ingress, Egress]
    ---
    apiVersion: apps/v1
    kind: StatefulSet
    metadata:
      name: trainer
      namespace: team-a
    spec:
      serviceName: trainer
      replicas: 2
      selector:
        matchLabels: {app: trainer}
      template:
        metadata:
          labels: {app: trainer}
        spec:
          containers:
            - name: trainer
              image: nvcr.io/nvidia/pytorch:24.07-py3
              resources:
                limits: {nvidia.com/gpu: 8}
    ```

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-and-hostnetwork-pods
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
    """

    code = "OPS043"
    name = "host-network-pod-bypasses-network-policy"
    severity = Severity.WARNING
    mechanism = "network-policy-for-multi-tenant-ai"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        templates = [t for t in resource.templates if host_network(t.spec)]
        if not templates:
            return
        policies = policies_for(graph, resource)
        if not policies:
            return
        for template in templates:
            selecting = [p for p in policies if p.selects(template.labels) is True]
            if not selecting:
                continue
            role = f" ({template.role})" if template.role else ""
            kinds = sorted({t for p in selecting for t in p.types})
            yield self.finding(
                resource,
                f"pods{role} set hostNetwork: true, so NetworkPolicy "
                f"{policy_names(selecting)} ({'/'.join(kinds)}) that selects them "
                "is not enforced on them by most network plugins: their traffic is "
                "treated as the node's",
                path=template.field_path("hostNetwork"),
            )
