"""CLU004 misspelled-gpu-resource."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gpu import is_unprefixed_nonstandard, misspelled_accelerator
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class MisspelledGpuResource(Rule):
    """Resource name that looks like a GPU but is not one any device plugin advertises.

    ## Mechanism
    The scheduler matches extended resources by exact name against what
    device plugins advertise in `node.status.allocatable`. No node ever has
    `nvidia.com/gpus`, `nvidia/gpu` or `nvidia.com/GPU`, so a pod that asks
    for one stays Pending with `0/N nodes are available: N Insufficient
    nvidia.com/gpus`. A name without a domain such as `gpu` is refused when
    the pod is created: `must be a standard resource for containers`. The
    names device plugins do advertise include `nvidia.com/gpu`,
    `nvidia.com/gpu.shared`, MIG profiles such as `nvidia.com/mig-1g.10gb`,
    `amd.com/gpu`, `gpu.intel.com/i915`, `habana.ai/gaudi`,
    `aws.amazon.com/neuron` and `google.com/tpu`.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: embedder
    spec:
      selector:
        matchLabels: {app: embedder}
      template:
        metadata:
          labels: {app: embedder}
        spec:
          containers:
            - name: tei
              image: ghcr.io/huggingface/text-embeddings-inference:1.5
              resources:
                limits:
                  nvidia.com/gpus: 1
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: embedder
    spec:
      selector:
        matchLabels: {app: embedder}
      template:
        metadata:
          labels: {app: embedder}
        spec:
          containers:
            - name: tei
              image: ghcr.io/huggingface/text-embeddings-inference:1.5
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## References
    - https://github.com/NVIDIA/k8s-device-plugin#readme
    - https://kubernetes.io/docs/tasks/manage-gpus/scheduling-gpus/
    """

    code = "CLU004"
    name = "misspelled-gpu-resource"
    severity = Severity.ERROR
    mechanism = "resource-quotas-for-gpu-namespaces"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            for container in template.containers:
                for name in container.names:
                    section = "limits" if name in container.limits else "requests"
                    meant = misspelled_accelerator(name)
                    if meant is None:
                        continue
                    outcome = (
                        "the API server refuses it: must be a standard resource for "
                        "containers"
                        if is_unprefixed_nonstandard(name)
                        else "no node advertises it, so the pod stays Pending"
                    )
                    yield self.finding(
                        resource,
                        f"{container.label} asks for {name!r}, which no device plugin "
                        f"advertises ({outcome}); did you mean {meant!r}?",
                        path=container.resource_path(section, name),
                    )
