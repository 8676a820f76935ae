"""CLU002 cpu-pod-tolerates-gpu-taint."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.taints import squatting_toleration
from kubernai.rules.base import Finding, Rule, Severity


class CpuPodToleratesGpuTaint(Rule):
    """CPU-only workload tolerates the GPU taint and can squat on GPU nodes.

    ## Mechanism
    A taint keeps pods off a node only if they do not tolerate it. A pod that
    asks for no GPU but tolerates `nvidia.com/gpu` (or carries the wildcard
    `operator: Exists` with no key, which tolerates every taint) is free to
    land on a GPU node. Its CPU and memory requests then count against that
    node's allocatable capacity, and a later GPU pod can fail with
    `Insufficient cpu` or `Insufficient memory` on a node whose GPUs are all
    free. DaemonSets are exempt: node agents need to run everywhere. Pods
    that pin themselves with a nodeSelector or required node affinity are
    also exempt, because that selector, not the toleration, decides where
    they run.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: tokenizer-api
    spec:
      replicas: 3
      selector:
        matchLabels: {app: tokenizer-api}
      template:
        metadata:
          labels: {app: tokenizer-api}
        spec:
          tolerations:
            - operator: Exists
          containers:
            - name: api
              image: ghcr.io/example/tokenizer-api:1.4.2
              resources:
                requests: {cpu: "2", memory: 4Gi}
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: tokenizer-api
    spec:
      replicas: 3
      selector:
        matchLabels: {app: tokenizer-api}
      template:
        metadata:
          labels: {app: tokenizer-api}
        spec:
          containers:
            - name: api
              image: ghcr.io/example/tokenizer-api:1.4.2
              resources:
                requests: {cpu: "2", memory: 4Gi}
    ```

    ## References
    - https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/
    - https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/
    """

    code = "CLU002"
    name = "cpu-pod-tolerates-gpu-taint"
    severity = Severity.WARNING
    mechanism = "taints-and-tolerations-for-gpu-nodes"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        taint = graph.facts.gpu_taint
        for template in resource.templates:
            toleration = squatting_toleration(resource, template, taint)
            if toleration is None:
                continue
            how = (
                "operator Exists with no key tolerates every taint"
                if toleration.wildcard
                else f"key {toleration.key}"
            )
            role = f" ({template.role})" if template.role else ""
            yield self.finding(
                resource,
                f"pod template{role} requests no GPU but tolerates the GPU taint "
                f"{taint.key}:{taint.effect} "
                f"(tolerations[{toleration.index}]: {how})",
                path=template.field_path("tolerations", toleration.index),
            )
