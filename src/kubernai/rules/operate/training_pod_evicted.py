"""OPS064 training-pod-evicted."""

from __future__ import annotations

import re
from collections.abc import Iterator

from kubernai.model.events import quoted
from kubernai.model.graph import ObjectGraph
from kubernai.model.pod_status import node_name, training_evidence
from kubernai.model.resource import Resource, get_str
from kubernai.rules.base import Finding, Rule, Severity

_LOW_ON = re.compile(r"The node was low on resource: ([\w-]+)")
_USING = re.compile(
    r"Container (\S+) was using (\S+), (?:request is|which exceeds its request of) "
    r"([^,. ]+)"
)


class TrainingPodEvicted(Rule):
    """GPU training pod evicted by the kubelet (node pressure or local storage).

    ## Mechanism
    When a node runs short of memory, disk or PIDs, the kubelet evicts pods to
    reclaim it: the pod is set `Failed` with `status.reason: Evicted` and a
    message such as `The node was low on resource: memory. Threshold quantity:
    100Mi, available: 92Mi. Container trainer was using 61Gi, request is 16Gi,
    has larger consumption of memory.` Pods whose usage exceeds their requests
    go first. Node-pressure eviction ignores PodDisruptionBudgets, and for a
    hard threshold the kubelet gives the pod one second instead of its
    termination grace period, so a training process cannot write a
    checkpoint: everything since the last one is lost, and a distributed job
    loses every rank of the step. The kubelet also evicts a pod that exceeds
    its own local storage limits (`Usage of EmptyDir volume "<name>" exceeds
    the limit "<limit>"`, `Pod ephemeral local storage usage exceeds the
    total limit of containers <limit>`). Host memory is the usual cause on GPU
    nodes (data loaders, pinned buffers, offloaded optimizer states): set
    memory requests to what the job uses (requests equal to limits for
    Guaranteed QoS) and keep emptyDir and image use within the node's disk.

    ## Example
    ```yaml
    apiVersion: v1
    kind: Pod
    metadata:
      name: finetune-worker-0
      namespace: ml
      ownerReferences:
        - apiVersion: kubeflow.org/v1
          kind: PyTorchJob
          name: finetune
          uid: 6a1c2f0e-1111-2222-3333-444455556666
          controller: true
    spec:
      nodeName: gpu-node-2
      containers:
        - name: pytorch
          image: nvcr.io/nvidia/pytorch:24.05-py3
          resources:
            requests: {memory: 16Gi}
            limits: {nvidia.com/gpu: 8}
    status:
      phase: Failed
      reason: Evicted
      message: >-
        The node was low on resource: memory. Threshold quantity: 100Mi,
        available: 92Mi. Container pytorch was using 61Gi, request is 16Gi,
        has larger consumption of memory.
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: Pod
    metadata:
      name: finetune-worker-0
      namespace: ml
      ownerReferences:
        - apiVersion: kubeflow.org/v1
          kind: PyTorchJob
          name: finetune
          uid: 6a1c2f0e-1111-2222-3333-444455556666
          controller: true
    spec:
      nodeName: gpu-node-2
      containers:
        - name: pytorch
          image: nvcr.io/nvidia/pytorch:24.05-py3
          resources:
            requests: {memory: 96Gi}
            limits: {memory: 96Gi, nvidia.com/gpu: 8}
    status:
      phase: Running
    ```

    ## References
    - https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/
    - kubernetes `pkg/kubelet/eviction/helpers.go` (`nodeLowMessageFmt`,
      `containerMessageFmt`), `pkg/kubelet/eviction/eviction_manager.go`
      (`immediateEvictionGracePeriodSeconds = 1`)
    """

    code = "OPS064"
    name = "training-pod-evicted"
    severity = Severity.ERROR
    mechanism = "kubernetes-events-for-gpu-failures"
    kinds = frozenset({"Pod"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if get_str(resource.raw, "status", "reason") != "Evicted":
            return
        evidence = training_evidence(resource)
        if not evidence:
            return
        message = get_str(resource.raw, "status", "message")
        node = node_name(resource)
        where = f" on node {node}" if node else ""
        text = f": {quoted(message)}" if message else ""
        hint = ""
        low = _LOW_ON.search(message)
        using = _USING.search(message)
        if low is not None and using is not None:
            hint = (
                f"; container {using[1]} used {using[2]} of {low[1]} against a "
                f"request of {using[3]}, which put it first in line"
            )
        elif low is not None:
            hint = f"; the node ran short of {low[1]}"
        yield self.finding(
            resource,
            f"GPU training pod ({evidence}) was evicted by the kubelet{where}"
            f"{text}{hint}; the work since its last checkpoint is lost",
            path=("status", "reason"),
        )
