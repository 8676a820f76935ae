"""CLU046 gpu-ranks-forced-one-per-node."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import POD_TOPOLOGY
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.topology import (
    HOSTNAME,
    MULTI_NODE_KINDS,
    TopologyTerm,
    has_topology_terms,
    node_devices,
    pod_devices,
    pods_selected,
    selects_own_pods,
    topology_terms,
)
from kubernai.rules.base import Finding, Rule, Severity


def _one_per_node(term: TopologyTerm) -> bool:
    if term.key != HOSTNAME or not term.required:
        return False
    if term.spread:
        return term.max_skew == 1
    return term.anti


class GpuRanksForcedOnePerNode(Rule):
    """Multi-node GPU job forced to one pod per node on nodes with more GPUs.

    ## Mechanism
    A required `podAntiAffinity` term on `kubernetes.io/hostname` that
    selects the job's own pods allows at most one of them per node; a
    `DoNotSchedule` spread constraint with `maxSkew: 1` on the same key
    spreads them one per node while there are free nodes. When each pod asks
    for fewer GPUs than a node has, a job of N pods then occupies N nodes:
    ranks that could share a node and talk over NVLink exchange every
    all-reduce over the network instead, the rest of each node's GPUs is
    left to whatever else fits, and a gang-scheduled job waits until N
    nodes have room at once. One pod per node is right when each pod takes the whole
    node (`nvidia.com/gpu` equal to the node's count); otherwise pack: give
    each pod all GPUs of a node (one rank per GPU inside it), or drop the
    anti-affinity. GPUs per node are read from Node objects in the input,
    from a node selector on `nvidia.com/gpu.count` or
    `karpenter.k8s.aws/instance-gpu-count`, or from a known instance type;
    the rule is silent when none of these says.

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: bert-ddp
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 8
          template:
            metadata:
              labels: {app: bert-ddp}
            spec:
              nodeSelector:
                node.kubernetes.io/instance-type: p4d.24xlarge
              affinity:
                podAntiAffinity:
                  requiredDuringSchedulingIgnoredDuringExecution:
                    - labelSelector:
                        matchLabels: {app: bert-ddp}
                      topologyKey: kubernetes.io/hostname
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.07-py3
                  resources:
                    limits: {nvidia.com/gpu: 1}
    ```

    ## Use instead
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: bert-ddp
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 2
          template:
            metadata:
              labels: {app: bert-ddp}
            spec:
              nodeSelector:
                node.kubernetes.io/instance-type: p4d.24xlarge
              affinity:
                podAntiAffinity:
                  requiredDuringSchedulingIgnoredDuringExecution:
                    - labelSelector:
                        matchLabels: {app: bert-ddp}
                      topologyKey: kubernetes.io/hostname
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.07-py3
                  resources:
                    limits: {nvidia.com/gpu: 8}
    ```

    ## References
    - https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#inter-pod-affinity-and-anti-affinity
    - https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/
    - https://aws.amazon.com/ec2/instance-types/p4/
    """

    code = "CLU046"
    name = "gpu-ranks-forced-one-per-node"
    severity = Severity.WARNING
    mechanism = "pod-affinity-for-distributed-training"
    workloads_only = True
    requires = frozenset({POD_TOPOLOGY})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if (resource.group, resource.kind) not in MULTI_NODE_KINDS:
            return
        for template in resource.templates:
            if not has_topology_terms(template):
                continue
            devices = pod_devices(template)
            if devices is None:
                continue
            for term in topology_terms(template):
                if not _one_per_node(term):
                    continue
                if selects_own_pods(resource, template, term.selector) is not True:
                    continue
                pods = pods_selected(
                    resource, term.selector, device=devices.resource_name
                )
                if pods is None or pods < 2:
                    continue
                node = node_devices(template, graph, devices.resource_name)
                if node is None or devices.count >= node.count:
                    continue
                role = f" ({template.role})" if template.role else ""
                how = (
                    "spreads them one per node"
                    if term.spread
                    else "allows one of them per node"
                )
                yield self.finding(
                    resource,
                    f"pod template{role} requests {devices.resource_name}="
                    f"{devices.count} per pod and {term.label} on {HOSTNAME} "
                    f"{how}: {pods} pods take {pods} nodes, but there are "
                    f"{node.count} {devices.resource_name} per node on "
                    f"{node.basis}, so ranks that could share a node talk over "
                    "the network instead of NVLink",
                    path=term.key_path,
                )
                break
