"""OPS063 gpu-node-without-gpu-taint."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.node_status import (
    cpu_worker_exists,
    is_node,
    node_taints,
    nvidia_gpus,
)
from kubernai.model.resource import Path, Resource
from kubernai.rules.base import Finding, Rule, Severity

_SYSTEM_TAINTS = (
    "node.kubernetes.io/",
    "node.cloudprovider.kubernetes.io/",
    "node-role.kubernetes.io/",
    "ToBeDeletedByClusterAutoscaler",
    "DeletionCandidateOfClusterAutoscaler",
    "karpenter.sh/",
)
_FILTERING = ("NoSchedule", "NoExecute")


class GpuNodeWithoutGpuTaint(Rule):
    """GPU node without the GPU taint in a cluster that also has CPU nodes.

    ## Mechanism
    Without a taint on GPU nodes the scheduler places ordinary pods there as
    readily as anywhere else (its default scoring even prefers the emptier
    node). Those pods take the GPU node's CPU and memory, and a GPU pod that
    needs them stays Pending with `Insufficient cpu` or `Insufficient memory`
    although the node's GPUs are idle. A `NoSchedule` taint (GKE and the EKS
    and Karpenter examples use `nvidia.com/gpu`) keeps pods without a
    toleration off; GPU pods tolerate it (or get the toleration from the
    ExtendedResourceToleration admission plugin). Which taint key a cluster
    uses is a cluster fact: kubernai assumes `nvidia.com/gpu` unless
    `cluster.gpu_taint` in `.kubernai.yaml` says otherwise, and while it is
    assumed, a node tainted with another dedicated key (AKS guides use
    `sku=gpu`) is taken as tainted. The rule needs the Nodes of the cluster in
    the input and reports only when it also holds a worker Node without GPUs:
    in an all-GPU cluster there is nothing to keep off.

    ## Example
    ```yaml
    apiVersion: v1
    kind: Node
    metadata:
      name: gpu-node-1
      labels:
        nvidia.com/gpu.product: NVIDIA-A100-SXM4-80GB
    spec:
      podCIDR: 10.244.3.0/24
    status:
      capacity: {cpu: "96", nvidia.com/gpu: "8"}
      allocatable: {cpu: "95", nvidia.com/gpu: "8"}
    ---
    apiVersion: v1
    kind: Node
    metadata:
      name: cpu-node-1
    status:
      capacity: {cpu: "32"}
      allocatable: {cpu: "31"}
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: Node
    metadata:
      name: gpu-node-1
      labels:
        nvidia.com/gpu.product: NVIDIA-A100-SXM4-80GB
    spec:
      podCIDR: 10.244.3.0/24
      taints:
        - key: nvidia.com/gpu
          value: present
          effect: NoSchedule
    status:
      capacity: {cpu: "96", nvidia.com/gpu: "8"}
      allocatable: {cpu: "95", nvidia.com/gpu: "8"}
    ---
    apiVersion: v1
    kind: Node
    metadata:
      name: cpu-node-1
    status:
      capacity: {cpu: "32"}
      allocatable: {cpu: "31"}
    ```

    ## References
    - https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/#example-use-cases
    - https://cloud.google.com/kubernetes-engine/docs/how-to/gpus
    - https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#extendedresourcetoleration
    """

    code = "OPS063"
    name = "gpu-node-without-gpu-taint"
    severity = Severity.WARNING
    mechanism = "kubernetes-events-for-gpu-failures"
    kinds = frozenset({"Node"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if not is_node(resource):
            return
        gpus = nvidia_gpus(resource)
        if gpus <= 0:
            return
        gpu_taint = graph.facts.gpu_taint
        taints = list(node_taints(resource))
        if any(t.key == gpu_taint.key for t in taints):
            return
        if graph.facts.assumed and any(
            t.effect in _FILTERING and not t.key.startswith(_SYSTEM_TAINTS)
            for t in taints
        ):
            return  # tainted with the cluster's own dedicated key
        if not cpu_worker_exists(graph):
            return
        fact = (
            f"assumed cluster fact: the GPU taint key is {gpu_taint.key}; set "
            "cluster.gpu_taint in .kubernai.yaml"
            if graph.facts.assumed
            else f"cluster fact cluster.gpu_taint: {gpu_taint.key}:{gpu_taint.effect}"
        )
        path: Path = ("spec", "taints") if taints else ()
        yield self.finding(
            resource,
            f"node has {gpus} NVIDIA GPU(s) but no taint with key {gpu_taint.key}, "
            "and the input has worker Nodes without GPUs: pods that need no GPU "
            f"can be placed here and take the CPU and memory GPU pods need ({fact})",
            path=path,
        )
