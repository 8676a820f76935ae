"""CLU088 time-slicing-allows-requests-above-one."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.sharing import TIME_SLICING, sharing_index
from kubernai.rules.base import Finding, Rule, Severity


class TimeSlicingAllowsRequestsAboveOne(Rule):
    """Time-slicing config leaves `failRequestsGreaterThanOne` off.

    ## Mechanism
    With time-slicing, the device plugin hands out replicas of a GPU "to
    anyone that asks for them". A container that asks for
    `nvidia.com/gpu: 2` on a time-sliced node gets two replicas, possibly of
    the same physical GPU, and no guaranteed share of its compute: CUDA
    gives an equal time share to every process on the GPU, whichever pod it
    belongs to. `failRequestsGreaterThanOne: true` makes the plugin refuse
    such requests (the pod fails with `UnexpectedAdmissionError ... maximum
    request size for shared resources is 1`), so the mistake shows at once
    instead of as a slow job. NVIDIA recommends setting it; it defaults to
    false only for backward compatibility. MPS configs default it to true.

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
            resources:
              - name: nvidia.com/gpu
                replicas: 4
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
            failRequestsGreaterThanOne: true
            resources:
              - name: nvidia.com/gpu
                replicas: 4
    ```

    ## References
    - https://github.com/NVIDIA/k8s-device-plugin#with-cuda-time-slicing
    - NVIDIA/k8s-device-plugin internal/rm/rm.go (ValidateRequest)
    """

    code = "CLU088"
    name = "time-slicing-allows-requests-above-one"
    severity = Severity.INFO
    mechanism = "mig-vs-mps-vs-time-slicing"
    kinds = frozenset({"ConfigMap"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for config in sharing_index(graph).configs_of(resource):
            block = config.active
            if block is None or block.key != TIME_SLICING or block.rejects_above_one:
                continue
            value = block.raw.get("failRequestsGreaterThanOne")
            state = "is false" if value is False else "is not set (default false)"
            names = ", ".join(sorted(block.advertised()))
            yield self.finding(
                resource,
                f"data[{config.data_key}]: sharing.timeSlicing."
                f"failRequestsGreaterThanOne {state}: a container asking for more "
                f"than one of {names} is admitted and gets replicas, not more GPU",
                path=config.finding_path,
            )
