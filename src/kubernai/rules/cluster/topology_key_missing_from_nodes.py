"""CLU040 topology-key-missing-from-nodes."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import POD_TOPOLOGY
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.topology import (
    has_topology_terms,
    is_templated,
    misspelled_topology_key,
    node_labels,
    set_by_kubelet,
    topology_terms,
)
from kubernai.rules.base import Finding, Rule, Severity


class TopologyKeyMissingFromNodes(Rule):
    """Hard topology term on a node label that no Node in the input carries.

    ## Mechanism
    A required `podAffinity` term and a topology spread constraint with
    `whenUnsatisfiable: DoNotSchedule` both need the node's value of their
    `topologyKey`. The scheduler rejects every node that lacks the label: the
    InterPodAffinity filter ("All topology labels must exist on the node",
    even for the first pod of a self-affine group) and the PodTopologySpread
    filter, which reports `node(s) didn't match pod topology spread
    constraints (missing required label)`. If no node carries the key, no
    node is feasible and the pods stay Pending; a gang-scheduled training
    job never starts. The usual causes are a misspelled key
    (`kubernetes.io/host-name`), a provider's fabric label copied from
    another cloud (`cloud.google.com/gce-topology-block` on EKS), or a label
    that GPU feature discovery or a topology labeller was meant to add and
    does not run. The rule runs only when the input holds Node objects (for
    example `kubectl get nodes -o yaml`) and treats them as the whole
    cluster.

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
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: llama-sft
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 4
          template:
            metadata:
              labels: {app: llama-sft}
            spec:
              affinity:
                podAffinity:
                  requiredDuringSchedulingIgnoredDuringExecution:
                    - labelSelector:
                        matchLabels: {app: llama-sft}
                      topologyKey: cloud.google.com/gce-topology-block
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.07-py3
                  resources:
                    limits: {nvidia.com/gpu: 8}
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
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: llama-sft
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 4
          template:
            metadata:
              labels: {app: llama-sft}
            spec:
              affinity:
                podAffinity:
                  requiredDuringSchedulingIgnoredDuringExecution:
                    - labelSelector:
                        matchLabels: {app: llama-sft}
                      topologyKey: topology.kubernetes.io/zone
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.07-py3
                  resources:
                    limits: {nvidia.com/gpu: 8}
    ```

    ## References
    - https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#inter-pod-affinity-and-anti-affinity
    - https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/
    - kubernetes pkg/scheduler/framework/plugins/interpodaffinity/filtering.go
    - kubernetes pkg/scheduler/framework/plugins/podtopologyspread/filtering.go
    """

    code = "CLU040"
    name = "topology-key-missing-from-nodes"
    severity = Severity.ERROR
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
                if (
                    not term.filters_nodes_without_key
                    or not key
                    or key in nodes.keys
                    or set_by_kubelet(key)
                    or is_templated(key)
                ):
                    continue
                reason = (
                    "node(s) didn't match pod topology spread constraints "
                    "(missing required label)"
                    if term.spread
                    else "node(s) didn't match pod affinity rules"
                )
                guess = misspelled_topology_key(key)
                hint = f"; did you mean {guess}?" if guess else ""
                role = f" ({template.role})" if template.role else ""
                plural = "Node" if nodes.count == 1 else "Nodes"
                yield self.finding(
                    resource,
                    f"pod template{role}: {term.label} uses topologyKey {key!r}, "
                    f"which none of the {nodes.count} {plural} in the input "
                    f"carries: every node is rejected ({reason}){hint}",
                    path=term.key_path,
                )
