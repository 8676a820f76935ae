"""CLU043 deprecated-topology-key."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import POD_TOPOLOGY
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.topology import (
    deprecated_topology_key,
    has_topology_terms,
    node_labels,
    topology_terms,
)
from kubernai.rules.base import Finding, Rule, Severity


class DeprecatedTopologyKey(Rule):
    """topologyKey is a deprecated beta node label.

    ## Mechanism
    `failure-domain.beta.kubernetes.io/zone` and `.../region` were replaced
    by `topology.kubernetes.io/zone` and `topology.kubernetes.io/region` when
    the labels went GA in Kubernetes v1.17, and
    `beta.kubernetes.io/instance-type` by `node.kubernetes.io/instance-type`.
    The kubelet and the cloud node controllers still write the beta labels
    next to the GA ones, so terms on them work today, but providers are
    phasing them out: AKS lists them as deprecated, and its cloud node
    manager has an open plan to stop applying them. On a node without the
    key a required
    `podAffinity` term or a `DoNotSchedule` spread constraint rejects the
    node, and anti-affinity silently stops applying. When Node objects are in
    the input and none carries the key, CLU040 or CLU041 reports it instead.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: triton
    spec:
      replicas: 3
      selector:
        matchLabels: {app: triton}
      template:
        metadata:
          labels: {app: triton}
        spec:
          topologySpreadConstraints:
            - maxSkew: 1
              topologyKey: failure-domain.beta.kubernetes.io/zone
              whenUnsatisfiable: ScheduleAnyway
              labelSelector:
                matchLabels: {app: triton}
          containers:
            - name: triton
              image: nvcr.io/nvidia/tritonserver:24.07-py3
              resources:
                limits: {nvidia.com/gpu: 1}
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: triton
    spec:
      replicas: 3
      selector:
        matchLabels: {app: triton}
      template:
        metadata:
          labels: {app: triton}
        spec:
          topologySpreadConstraints:
            - maxSkew: 1
              topologyKey: topology.kubernetes.io/zone
              whenUnsatisfiable: ScheduleAnyway
              labelSelector:
                matchLabels: {app: triton}
          containers:
            - name: triton
              image: nvcr.io/nvidia/tritonserver:24.07-py3
              resources:
                limits: {nvidia.com/gpu: 1}
    ```

    ## References
    - https://kubernetes.io/docs/reference/labels-annotations-taints/#failure-domainbetakubernetesiozone
    - https://github.com/kubernetes/kubernetes/pull/81431
    - https://learn.microsoft.com/azure/aks/use-labels#deprecated-labels
    - https://github.com/kubernetes-sigs/cloud-provider-azure/issues/2453
    """

    code = "CLU043"
    name = "deprecated-topology-key"
    severity = Severity.INFO
    mechanism = "pod-affinity-for-distributed-training"
    workloads_only = True
    requires = frozenset({POD_TOPOLOGY})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        nodes = node_labels(graph)
        for template in resource.templates:
            if not has_topology_terms(template):
                continue
            for term in topology_terms(template):
                replacement = deprecated_topology_key(term.key)
                if replacement is None:
                    continue
                if nodes is not None and term.key not in nodes.keys:
                    continue  # CLU040 / CLU041 report the missing label
                role = f" ({template.role})" if template.role else ""
                yield self.finding(
                    resource,
                    f"pod template{role}: {term.label} uses the deprecated node "
                    f"label {term.key}; use {replacement}",
                    path=term.key_path,
                )
