"""OPS069 gpu-request-exceeds-largest-node."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kubernai.model.gpu import accelerator_names
from kubernai.model.graph import ObjectGraph
from kubernai.model.node_status import device_counts, is_node, selects_node
from kubernai.model.podrequests import first_container_with, pod_request
from kubernai.model.quantity import format_quantity
from kubernai.model.resource import Resource, get_path
from kubernai.model.workload import PodTemplate
from kubernai.rules.base import Finding, Rule, Severity

_NODE_PROVISIONERS = frozenset({"NodePool", "Provisioner"})
_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"


class GpuRequestExceedsLargestNode(Rule):
    """Pod asks for more GPUs than any Node of the cluster has.

    ## Mechanism
    A pod runs on one node, so all the GPUs it requests (the sum over its
    containers, or its largest init container) must be free on a single node.
    A pod that asks for 16 `nvidia.com/gpu` in a cluster of 8-GPU nodes fits
    nowhere: the scheduler reports `0/N nodes are available: N Insufficient
    nvidia.com/gpu` on every attempt (recent releases mark such nodes
    unresolvable, so preemption does not even try) and the pod stays Pending.
    Spread the work over more pods (more ranks, `nproc_per_node` equal to the
    node's GPU count) instead. The rule compares with the Nodes in the input
    that the pod's `nodeSelector` and required node affinity allow; it stays
    quiet when those select no Node of the input (an autoscaled pool may
    provide them) and when the input holds Karpenter NodePools, which may
    create bigger nodes. Pods read from a cluster are left to
    `unschedulable-gpu-pod`, which quotes the scheduler; their controller is
    reported here.

    ## Example
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: pretrain
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: trainer
              image: nvcr.io/nvidia/pytorch:24.05-py3
              resources:
                limits:
                  nvidia.com/gpu: 16
    ---
    apiVersion: v1
    kind: Node
    metadata:
      name: gpu-node-1
    status:
      capacity: {nvidia.com/gpu: "8"}
      allocatable: {nvidia.com/gpu: "8"}
    ```

    ## Use instead
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: pretrain
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: trainer
              image: nvcr.io/nvidia/pytorch:24.05-py3
              resources:
                limits:
                  nvidia.com/gpu: 8
    ---
    apiVersion: v1
    kind: Node
    metadata:
      name: gpu-node-1
    status:
      capacity: {nvidia.com/gpu: "8"}
      allocatable: {nvidia.com/gpu: "8"}
    ```

    ## References
    - kubernetes `pkg/scheduler/framework/plugins/noderesources/fit.go`
      (`fitsRequest`)
    - https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#how-pods-with-resource-requests-are-scheduled
    """

    code = "OPS069"
    name = "gpu-request-exceeds-largest-node"
    severity = Severity.ERROR
    mechanism = "kubernetes-events-for-gpu-failures"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if resource.kind == "Pod" and "status" in resource.raw:
            return  # a Pod read from a cluster: OPS060 reports it if Pending
        everywhere = _largest(graph, None)
        if everywhere is None or not everywhere.largest or _provisioners(graph):
            return
        for template in resource.templates:
            if template.spec.get("nodeName"):
                continue
            allowed = _largest(graph, template)
            if allowed is None:
                continue  # its nodes are not in the input
            narrowed = allowed.nodes < len(_nodes(graph))
            for name in dict.fromkeys(
                n for c in template.containers for n in accelerator_names(c)
            ):
                largest = allowed.largest.get(name)
                wanted = pod_request(template, name)
                if largest is None or wanted <= largest:
                    continue
                container = first_container_with(template, name)
                if container is None:
                    continue
                section = "limits" if name in container.limits else "requests"
                role = f" ({template.role})" if template.role else ""
                holders = allowed.holders[name]
                plural = "Node" if holders == 1 else "Nodes"
                scope = " that its node selection allows" if narrowed else ""
                yield self.finding(
                    resource,
                    f"pod template{role} requests {format_quantity(str(wanted))} "
                    f"{name} per pod, but the largest of the input's {holders} "
                    f"{plural} with {name}{scope} has {largest}: the scheduler can "
                    f"never place it ('Insufficient {name}' on every node)",
                    path=container.resource_path(section, name),
                )


@dataclass(frozen=True, slots=True)
class _Allowed:
    """What the Nodes a pod may use offer: the largest count of each resource."""

    nodes: int
    largest: dict[str, int]
    holders: dict[str, int]
    """How many of those Nodes have the resource."""


def _nodes(graph: ObjectGraph) -> list[Resource]:
    return graph.derived(
        "nodes-of-input", lambda g: [n for n in g.of_kind("Node") if is_node(n)]
    )


def _largest(graph: ObjectGraph, template: PodTemplate | None) -> _Allowed | None:
    """The Nodes the template's node selection allows, summed up (memoised).

    ``None`` when the selection allows no Node of the input. Templates with the
    same ``nodeSelector`` and required node affinity share one answer.
    """
    spec = template.spec if template is not None else {}
    key = repr(
        (
            spec.get("nodeSelector"),
            get_path(spec, "affinity", "nodeAffinity", _REQUIRED),
        )
    )
    memo = graph.derived("node-selection-sizes", _empty_memo)
    if key not in memo:
        allowed = [n for n in _nodes(graph) if selects_node(spec, n)]
        largest: dict[str, int] = {}
        holders: dict[str, int] = {}
        for node in allowed:
            for count in device_counts(node):
                size = max(count.capacity or 0, count.allocatable or 0)
                if size > 0:
                    largest[count.name] = max(largest.get(count.name, 0), size)
                    holders[count.name] = holders.get(count.name, 0) + 1
        memo[key] = _Allowed(len(allowed), largest, holders) if allowed else None
    return memo[key]


def _empty_memo(graph: ObjectGraph) -> dict[str, _Allowed | None]:
    return {}


def _provisioners(graph: ObjectGraph) -> bool:
    return any(
        r.group == "karpenter.sh"
        for kind in _NODE_PROVISIONERS
        for r in graph.of_kind(kind)
    )
