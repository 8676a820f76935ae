"""OPS065 training-container-oom-killed."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.pod_status import (
    node_name,
    pod_template,
    spec_container,
    terminations,
    training_evidence,
)
from kubernai.model.quantity import format_quantity
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class TrainingContainerOomKilled(Rule):
    """Container of a GPU training pod killed for host memory (OOMKilled).

    ## Mechanism
    When a container's processes use more memory than its `limits.memory`
    (its cgroup), or the node runs out of memory, the kernel's OOM killer ends
    them; the kubelet reports the container terminated with reason
    `OOMKilled` and exit code 137. This is host RAM, not GPU memory: a GPU that
    runs out of memory raises `CUDA out of memory` in the application and the
    container exits with the program's own code. Training jobs use host memory
    for data-loader workers and their prefetch queues, pinned transfer
    buffers, `/dev/shm` (counted against the limit when it is a memory
    emptyDir) and optimizer states offloaded to the CPU (DeepSpeed ZeRO
    offload); each rank holds its own copy. A killed rank takes the whole
    distributed step down, and the work since the last checkpoint is lost.
    Raise the memory limit to what the job needs (and request the same), or
    cut what the job keeps in host memory.

    ## Example
    ```yaml
    apiVersion: v1
    kind: Pod
    metadata:
      name: pretrain-xyz12
      namespace: ml
      ownerReferences:
        - apiVersion: batch/v1
          kind: Job
          name: pretrain
          uid: 0f0e0d0c-aaaa-bbbb-cccc-ddddeeeeffff
          controller: true
    spec:
      nodeName: gpu-node-5
      containers:
        - name: trainer
          image: nvcr.io/nvidia/pytorch:24.05-py3
          resources:
            limits: {memory: 32Gi, nvidia.com/gpu: 4}
    status:
      phase: Running
      containerStatuses:
        - name: trainer
          restartCount: 2
          state:
            running: {startedAt: "2025-05-01T10:12:00Z"}
          lastState:
            terminated:
              reason: OOMKilled
              exitCode: 137
              finishedAt: "2025-05-01T10:11:40Z"
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: Pod
    metadata:
      name: pretrain-xyz12
      namespace: ml
      ownerReferences:
        - apiVersion: batch/v1
          kind: Job
          name: pretrain
          uid: 0f0e0d0c-aaaa-bbbb-cccc-ddddeeeeffff
          controller: true
    spec:
      nodeName: gpu-node-5
      containers:
        - name: trainer
          image: nvcr.io/nvidia/pytorch:24.05-py3
          resources:
            requests: {memory: 128Gi}
            limits: {memory: 128Gi, nvidia.com/gpu: 4}
    status:
      phase: Running
      containerStatuses:
        - name: trainer
          restartCount: 0
          state:
            running: {startedAt: "2025-05-01T10:12:00Z"}
    ```

    ## References
    - https://kubernetes.io/docs/tasks/configure-pod-container/assign-memory-resource/#exceed-a-container-s-memory-limit
    - https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/#node-out-of-memory-behavior
    - https://pytorch.org/docs/stable/notes/faq.html
    """

    code = "OPS065"
    name = "training-container-oom-killed"
    severity = Severity.ERROR
    mechanism = "kubernetes-events-for-gpu-failures"
    kinds = frozenset({"Pod"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        killed = [t for t in terminations(resource) if t.reason == "OOMKilled"]
        if not killed:
            return
        evidence = training_evidence(resource)
        if not evidence:
            return
        template = pod_template(resource)
        first = killed[0]
        container = (
            spec_container(template, first.container) if template is not None else None
        )
        limit = container.limits.get("memory") if container is not None else None
        memory = (
            f"its memory limit is {format_quantity(limit)}"
            if limit is not None
            else "it has no memory limit, so the node itself ran out of memory"
        )
        facts = [f"exit code {first.exit_code}"] if first.exit_code is not None else []
        if first.restarts:
            facts.append(f"restarts {first.restarts}")
        if first.finished_at:
            facts.append(f"at {first.finished_at}")
        shown = f" ({', '.join(facts)})" if facts else ""
        others = sorted({t.container for t in killed[1:]} - {first.container})
        also = f"; also OOMKilled: {', '.join(others)}" if others else ""
        node = node_name(resource)
        where = f" on node {node}" if node else ""
        name = first.container or "a container"
        yield self.finding(
            resource,
            f"container {name!r} of a GPU training pod ({evidence}) was OOMKilled"
            f"{where}{shown}: it ran out of host memory, not GPU memory; "
            f"{memory}{also}",
            path=(*first.path, "reason"),
        )
