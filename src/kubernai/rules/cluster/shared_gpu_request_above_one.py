"""CLU084 shared-gpu-request-above-one."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.shared_gpus import resource_path, shared_requests
from kubernai.model.sharing import sharing_index
from kubernai.rules.base import Finding, Rule, Severity


class SharedGpuRequestAboveOne(Rule):
    """Container asks for more than one replica of a time-sliced or MPS-shared GPU.

    ## Mechanism
    A shared GPU is advertised as N replicas per physical GPU
    (`nvidia.com/gpu.shared` with `renameByDefault: true`, or plain
    `nvidia.com/gpu` when the config does not rename). Asking for 2 replicas
    does not buy twice the GPU: the plugin hands out replicas "to anyone
    that asks for them", both may be replicas of the same physical GPU, and
    CUDA gives an equal time share to every process on the GPU whichever pod
    it belongs to. When both replicas come from the same physical GPU the
    container sees a single GPU (the plugin passes each physical device
    once), so code that expects two devices fails with `invalid device
    ordinal`. Where the config sets `failRequestsGreaterThanOne:
    true` the pod fails admission instead (see `shared-gpu-request-rejected`).
    A resource counts as shared when its name ends in `.shared`, when the
    device-plugin configs in the workload's folder or above it share it
    (those its pods select with `nvidia.com/device-plugin.config`, else all
    of them), or when the pods
    select GPU feature discovery labels of shared nodes
    (`nvidia.com/gpu.sharing-strategy`, `nvidia.com/gpu.replicas` above 1, a
    `nvidia.com/gpu.product` ending in `-SHARED`).

    ## Example
    ```yaml
    apiVersion: v1
    kind: Pod
    metadata:
      name: notebook
    spec:
      containers:
        - name: jupyter
          image: quay.io/jupyter/pytorch-notebook:cuda12-latest
          resources:
            limits:
              nvidia.com/gpu.shared: 2
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: Pod
    metadata:
      name: notebook
    spec:
      containers:
        - name: jupyter
          image: quay.io/jupyter/pytorch-notebook:cuda12-latest
          resources:
            limits:
              nvidia.com/gpu.shared: 1
    ```

    ## References
    - https://github.com/NVIDIA/k8s-device-plugin#with-cuda-time-slicing
    - NVIDIA/k8s-device-plugin internal/rm/allocate.go (greedyAlloc)
    - NVIDIA/k8s-device-plugin internal/plugin/server.go (unique device IDs)
    - https://docs.nvidia.com/datacenter/cloud-native/gpu-operator/latest/gpu-sharing.html
    """

    code = "CLU084"
    name = "shared-gpu-request-above-one"
    severity = Severity.WARNING
    mechanism = "mig-vs-mps-vs-time-slicing"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        index = sharing_index(graph)
        for template in resource.templates:
            for container, use, count in shared_requests(resource, template, index):
                if count <= 1 or use.rejects_above_one is True:
                    continue
                yield self.finding(
                    resource,
                    f"{container.label} requests {use.name}={count}, a shared GPU "
                    f"({use.reason}): the {count} replicas may all come from one "
                    "physical GPU and add no guaranteed compute",
                    path=resource_path(container, use.name),
                )
