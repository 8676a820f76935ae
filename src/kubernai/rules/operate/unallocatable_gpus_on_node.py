"""OPS062 unallocatable-gpus-on-node."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gpu import is_nvidia_gpu
from kubernai.model.graph import ObjectGraph
from kubernai.model.node_status import GPU_COUNT_LABEL, device_counts, is_node
from kubernai.model.quantity import parse_count
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class UnallocatableGpusOnNode(Rule):
    """Node whose device plugin reports fewer healthy GPUs than it has.

    ## Mechanism
    The kubelet's device manager writes every device a plugin registered into
    the Node's `status.capacity` and only the healthy ones into
    `status.allocatable`. The NVIDIA device plugin marks a GPU unhealthy on a
    critical XID error (`XidCriticalError: Xid=79 ... marking device as
    unhealthy`) and does not mark it healthy again until the plugin restarts,
    so `allocatable[nvidia.com/gpu] < capacity[nvidia.com/gpu]` means GPUs out
    of service until the node is repaired: pods that need the whole node stay
    Pending with `Insufficient nvidia.com/gpu`, and pods already bound may be
    rejected with `UnexpectedAdmissionError`. Both counts at 0, or a GPU
    Feature Discovery label `nvidia.com/gpu.count` on a node that advertises
    no NVIDIA GPU at all, mean the device plugin is not registered (not
    running on the node, crash-looping, or just restarted with the kubelet).

    ## Example
    ```yaml
    apiVersion: v1
    kind: Node
    metadata:
      name: gpu-node-3
      labels:
        nvidia.com/gpu.count: "8"
    status:
      capacity:
        cpu: "96"
        nvidia.com/gpu: "8"
      allocatable:
        cpu: 95500m
        nvidia.com/gpu: "6"
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: Node
    metadata:
      name: gpu-node-3
      labels:
        nvidia.com/gpu.count: "8"
    status:
      capacity:
        cpu: "96"
        nvidia.com/gpu: "8"
      allocatable:
        cpu: 95500m
        nvidia.com/gpu: "8"
    ```

    ## References
    - kubernetes `pkg/kubelet/cm/devicemanager/manager.go` (`GetCapacity`)
    - NVIDIA/k8s-device-plugin `internal/rm/health.go`
    - https://kubernetes.io/docs/concepts/extend-kubernetes/compute-storage-net/device-plugins/#device-plugin-implementation
    """

    code = "OPS062"
    name = "unallocatable-gpus-on-node"
    severity = Severity.WARNING
    mechanism = "kubernetes-events-for-gpu-failures"
    kinds = frozenset({"Node"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if not is_node(resource):
            return
        counts = list(device_counts(resource))
        for count in counts:
            capacity, allocatable = count.capacity, count.allocatable
            if not capacity or allocatable is None or allocatable >= capacity:
                continue
            lost = capacity - allocatable
            if allocatable == 0:
                why = (
                    f"none of its {capacity} {count.name} can be allocated: all "
                    "marked unhealthy, or the device plugin has not registered "
                    "again since a kubelet restart"
                )
            else:
                why = (
                    f"{lost} of its {capacity} {count.name} are marked unhealthy by "
                    f"the device plugin; pods can use only {allocatable}"
                )
            yield self.finding(
                resource,
                f"status.allocatable[{count.name}] is {allocatable} but "
                f"status.capacity is {capacity}: {why}",
                path=("status", "allocatable", count.name),
            )
        labelled = parse_count(resource.labels.get(GPU_COUNT_LABEL)) or 0
        advertised = any(
            is_nvidia_gpu(c.name) and ((c.capacity or 0) > 0 or c.allocatable)
            for c in counts
        )
        if labelled > 0 and not advertised and "status" in resource.raw:
            yield self.finding(
                resource,
                f"the node is labelled {GPU_COUNT_LABEL}={labelled} but advertises no "
                "NVIDIA GPU resource in status.capacity: the device plugin is not "
                "registered with its kubelet, so no GPU pod can be placed here",
                path=("metadata", "labels", GPU_COUNT_LABEL),
            )
