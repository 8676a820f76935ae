"""CLU083 shared-gpu-request-rejected."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.shared_gpus import resource_path, shared_requests
from kubernai.model.sharing import sharing_index
from kubernai.rules.base import Finding, Rule, Severity


class SharedGpuRequestRejected(Rule):
    """Container asks for more than one shared GPU where the plugin refuses that.

    ## Mechanism
    With `failRequestsGreaterThanOne: true` (the default for MPS sharing,
    and NVIDIA's recommendation for time-slicing) the device plugin refuses
    to allocate more than one replica of a shared GPU to a container;
    before v0.20.0 MPS refused such requests whatever the setting. The
    scheduler does not know this: it binds the pod to a node with enough
    replicas, and the kubelet's admission then fails with
    `UnexpectedAdmissionError ... Allocate failed due to rpc error: code =
    Unknown desc = ... maximum request size for shared resources is 1`. The
    pod ends `Failed`; a Deployment or Job replaces it with pods that fail
    the same way.
    Evidence that the resource is shared comes from the input: the
    device-plugin configs in the workload's folder or above it (the keys its
    pods select with `nvidia.com/device-plugin.config`, else every config
    there), or a
    `nvidia.com/gpu.sharing-strategy=mps` node selector. Request 1; use full
    GPUs (or MIG slices) for work that needs more than one GPU.

    ## Example
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: time-slicing-config
      namespace: gpu-operator
    data:
      any: |-
        version: v1
        sharing:
          timeSlicing:
            renameByDefault: true
            failRequestsGreaterThanOne: true
            resources:
              - name: nvidia.com/gpu
                replicas: 4
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: notebook
    spec:
      selector:
        matchLabels: {app: notebook}
      template:
        metadata:
          labels: {app: notebook}
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
    kind: ConfigMap
    metadata:
      name: time-slicing-config
      namespace: gpu-operator
    data:
      any: |-
        version: v1
        sharing:
          timeSlicing:
            renameByDefault: true
            failRequestsGreaterThanOne: true
            resources:
              - name: nvidia.com/gpu
                replicas: 4
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: notebook
    spec:
      selector:
        matchLabels: {app: notebook}
      template:
        metadata:
          labels: {app: notebook}
        spec:
          containers:
            - name: jupyter
              image: quay.io/jupyter/pytorch-notebook:cuda12-latest
              resources:
                limits:
                  nvidia.com/gpu.shared: 1
    ```

    ## References
    - NVIDIA/k8s-device-plugin internal/rm/rm.go (ValidateRequest)
    - NVIDIA/k8s-device-plugin api/config/v1/config.go (NewConfig: the MPS default)
    - https://github.com/NVIDIA/k8s-device-plugin#with-cuda-time-slicing
    """

    code = "CLU083"
    name = "shared-gpu-request-rejected"
    severity = Severity.ERROR
    mechanism = "mig-vs-mps-vs-time-slicing"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        index = sharing_index(graph)
        for template in resource.templates:
            for container, use, count in shared_requests(resource, template, index):
                if count <= 1 or use.rejects_above_one is not True:
                    continue
                yield self.finding(
                    resource,
                    f"{container.label} requests {use.name}={count}, a shared GPU "
                    f"({use.reason}) whose device plugin refuses requests above 1: "
                    "the pod fails admission with UnexpectedAdmissionError (maximum "
                    "request size for shared resources is 1)",
                    path=resource_path(container, use.name),
                )
