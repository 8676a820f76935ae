"""CLU048 anti-affinity-exceeds-topology-domains."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import POD_TOPOLOGY
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.topology import (
    domain_count,
    eligible_nodes,
    has_topology_terms,
    is_templated,
    node_labels,
    pod_devices,
    pods_selected,
    selects_own_pods,
    topology_terms,
)
from kubernai.rules.base import Finding, Rule, Severity


class AntiAffinityExceedsTopologyDomains(Rule):
    """More pods than topology domains under required self anti-affinity.

    ## Mechanism
    A required `podAntiAffinity` term whose selector matches the workload's
    own pods allows at most one of them per value of its `topologyKey`: one
    per node for `kubernetes.io/hostname`, one per zone for
    `topology.kubernetes.io/zone`. With more pods than values among the
    nodes they may use, the extra pods stay Pending with `node(s) didn't
    match pod anti-affinity rules`; a gang-scheduled training job (Volcano,
    Kueue, JobSet with all-or-nothing admission) never starts at all, and
    an autoscaler cannot help unless it can add nodes in new domains. The
    rule runs only when the input holds Node objects, treats them as the
    whole cluster, and counts the Nodes that match the template's
    `nodeSelector` and advertise the accelerator the pods request.

    ## Example
    ```yaml
    apiVersion: v1
    kind: Node
    metadata:
      name: gpu-a
      labels: {kubernetes.io/hostname: gpu-a, pool: h100}
    status:
      allocatable: {nvidia.com/gpu: "8"}
    ---
    apiVersion: v1
    kind: Node
    metadata:
      name: gpu-b
      labels: {kubernetes.io/hostname: gpu-b, pool: h100}
    status:
      allocatable: {nvidia.com/gpu: "8"}
    ---
    apiVersion: kubeflow.org/v2beta1
    kind: MPIJob
    metadata:
      name: nccl-allreduce
    spec:
      mpiReplicaSpecs:
        Worker:
          replicas: 4
          template:
            metadata:
              labels: {app: nccl-allreduce}
            spec:
              nodeSelector: {pool: h100}
              affinity:
                podAntiAffinity:
                  requiredDuringSchedulingIgnoredDuringExecution:
                    - labelSelector:
                        matchLabels: {app: nccl-allreduce}
                      topologyKey: kubernetes.io/hostname
              containers:
                - name: worker
                  image: nvcr.io/nvidia/hpc-benchmarks:24.03
                  resources:
                    limits: {nvidia.com/gpu: 8}
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: Node
    metadata:
      name: gpu-a
      labels: {kubernetes.io/hostname: gpu-a, pool: h100}
    status:
      allocatable: {nvidia.com/gpu: "8"}
    ---
    apiVersion: v1
    kind: Node
    metadata:
      name: gpu-b
      labels: {kubernetes.io/hostname: gpu-b, pool: h100}
    status:
      allocatable: {nvidia.com/gpu: "8"}
    ---
    apiVersion: kubeflow.org/v2beta1
    kind: MPIJob
    metadata:
      name: nccl-allreduce
    spec:
      mpiReplicaSpecs:
        Worker:
          replicas: 2
          template:
            metadata:
              labels: {app: nccl-allreduce}
            spec:
              nodeSelector: {pool: h100}
              affinity:
                podAntiAffinity:
                  requiredDuringSchedulingIgnoredDuringExecution:
                    - labelSelector:
                        matchLabels: {app: nccl-allreduce}
                      topologyKey: kubernetes.io/hostname
              containers:
                - name: worker
                  image: nvcr.io/nvidia/hpc-benchmarks:24.03
                  resources:
                    limits: {nvidia.com/gpu: 8}
    ```

    ## References
    - https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#inter-pod-affinity-and-anti-affinity
    - kubernetes pkg/scheduler/framework/plugins/interpodaffinity/filtering.go
    """

    code = "CLU048"
    name = "anti-affinity-exceeds-topology-domains"
    severity = Severity.ERROR
    mechanism = "pod-affinity-for-distributed-training"
    workloads_only = True
    requires = frozenset({POD_TOPOLOGY})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if node_labels(graph) is None:
            return
        for template in resource.templates:
            if not has_topology_terms(template):
                continue
            for term in topology_terms(template):
                key = term.key
                if not term.anti or not term.required or not key or is_templated(key):
                    continue
                if selects_own_pods(resource, template, term.selector) is not True:
                    continue
                devices = pod_devices(template)
                device = devices.resource_name if devices else None
                pods = pods_selected(resource, term.selector, device=device)
                if pods is None or pods < 2:
                    continue
                domains = domain_count(template, graph, device, key)
                if pods <= domains:
                    continue
                nodes = eligible_nodes(template, graph, device)
                role = f" ({template.role})" if template.role else ""
                scope = f" that advertise {devices.resource_name}" if devices else ""
                plural = "Node" if len(nodes) == 1 else "Nodes"
                extra = pods - domains
                stuck = "1 pod stays" if extra == 1 else f"{extra} pods stay"
                yield self.finding(
                    resource,
                    f"pod template{role}: {term.label} allows at most one of its "
                    f"{pods} pods per value of {key}, but the input's "
                    f"{len(nodes)} matching {plural}{scope} carry "
                    f"{domains} distinct values: {stuck} Pending (node(s) "
                    "didn't match pod anti-affinity rules)",
                    path=term.key_path,
                )
                break
