"""CLU041 ignored-topology-key."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import POD_TOPOLOGY
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.topology import (
    SCHEDULE_ANYWAY,
    has_topology_terms,
    is_templated,
    misspelled_topology_key,
    node_labels,
    set_by_kubelet,
    topology_terms,
)
from kubernai.rules.base import Finding, Rule, Severity


class IgnoredTopologyKey(Rule):
    """Soft or anti-affinity topology term on a label no Node in the input carries.

    ## Mechanism
    A required `podAntiAffinity` term, a preferred (anti-)affinity term and a
    `ScheduleAnyway` spread constraint never reject a node that lacks their
    `topologyKey`: the anti-affinity filter only looks for matching pods in
    the node's domain, preferred terms only add weight to nodes in a domain,
    and the spread score gives nodes without the key the same lowest score.
    If no node carries the key, such a term never changes a decision.
    Anti-affinity meant to keep training ranks or replicas apart lets them
    share a node, and a soft spread or locality preference scores every node
    the same, with no error or event to say so. The rule runs only when the
    input holds Node objects and treats them as the whole cluster; hard
    terms on a missing key are reported by CLU040 instead.

    ## Example
    ```yaml
    apiVersion: v1
    kind: Node
    metadata:
      name: gpu-node-1
      labels:
        kubernetes.io/hostname: gpu-node-1
        topology.kubernetes.io/zone: us-east-1a
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
    spec:
      replicas: 2
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          affinity:
            podAntiAffinity:
              requiredDuringSchedulingIgnoredDuringExecution:
                - labelSelector:
                    matchLabels: {app: vllm}
                  topologyKey: topology.kubernetes.io/zones
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.6.3
              resources:
                limits: {nvidia.com/gpu: 1}
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: Node
    metadata:
      name: gpu-node-1
      labels:
        kubernetes.io/hostname: gpu-node-1
        topology.kubernetes.io/zone: us-east-1a
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
    spec:
      replicas: 2
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          affinity:
            podAntiAffinity:
              requiredDuringSchedulingIgnoredDuringExecution:
                - labelSelector:
                    matchLabels: {app: vllm}
                  topologyKey: topology.kubernetes.io/zone
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.6.3
              resources:
                limits: {nvidia.com/gpu: 1}
    ```

    ## References
    - https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#inter-pod-affinity-and-anti-affinity
    - https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/
    - kubernetes pkg/scheduler/framework/plugins/interpodaffinity/filtering.go
    - kubernetes pkg/scheduler/framework/plugins/podtopologyspread/scoring.go
    """

    code = "CLU041"
    name = "ignored-topology-key"
    severity = Severity.WARNING
    mechanism = "pod-affinity-for-distributed-training"
    workloads_only = True
    requires = frozenset({POD_TOPOLOGY})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        nodes = node_labels(graph)
        if nodes is None:
            return
        for template in resource.templates:
            if not has_topology_terms(template):
                continue
            for term in topology_terms(template):
                key = term.key
                if term.filters_nodes_without_key:
                    continue
                if term.spread and term.when_unsatisfiable != SCHEDULE_ANYWAY:
                    continue  # invalid; CLU045 reports it
                if (
                    not key
                    or key in nodes.keys
                    or set_by_kubelet(key)
                    or is_templated(key)
                ):
                    continue
                guess = misspelled_topology_key(key)
                hint = f"; did you mean {guess}?" if guess else ""
                role = f" ({template.role})" if template.role else ""
                plural = "Node" if nodes.count == 1 else "Nodes"
                yield self.finding(
                    resource,
                    f"pod template{role}: {term.label} uses topologyKey {key!r}, "
                    f"which none of the {nodes.count} {plural} in the input "
                    f"carries: the scheduler skips the term, so it has no "
                    f"effect{hint}",
                    path=term.key_path,
                )
