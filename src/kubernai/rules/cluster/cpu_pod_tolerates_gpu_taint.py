"""CLU002 cpu-pod-tolerates-gpu-taint."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gpu import (
    misspelled_accelerator,
    node_selector_keys,
    requests_accelerator,
    tolerations,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
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
        if resource.kind == "DaemonSet":
            return
        taint = graph.facts.gpu_taint
        if taint.effect == "PreferNoSchedule":
            return  # the taint only steers scoring; tolerating it changes little
        for template in resource.templates:
            if not template.complete or not template.containers:
                continue
            if requests_accelerator(template) or node_selector_keys(template):
                continue
            if any(
                misspelled_accelerator(n) for c in template.containers for n in c.names
            ):
                continue  # meant to ask for a GPU: misspelled-gpu-resource reports it
            for toleration in tolerations(template):
                if not toleration.tolerates(taint):
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
                break
