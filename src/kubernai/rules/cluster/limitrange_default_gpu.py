"""CLU006 limitrange-default-gpu."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gpu import is_accelerator
from kubernai.model.graph import ObjectGraph
from kubernai.model.quantity import format_quantity
from kubernai.model.resource import Resource, get_map, get_str, iter_maps
from kubernai.rules.base import Finding, Rule, Severity


class LimitrangeDefaultGpu(Rule):
    """LimitRange default that gives every container in the namespace a GPU.

    ## Mechanism
    The LimitRanger admission plugin copies a `Container` limit range's
    `default` (into limits) and `defaultRequest` (into requests) into every
    container that does not set the resource: init containers, sidecars,
    log shippers and CPU-only tools included. A default of
    `nvidia.com/gpu: 1` therefore makes a pod with a server and two sidecars
    ask for three GPUs, CPU-only Jobs in the namespace wait for GPUs, and a
    GPU ResourceQuota fills with devices that no one uses. A
    `defaultRequest` alone is worse: the container gets a GPU request with
    no limit, which the API server refuses. Let GPU workloads set their own
    limits and cap the namespace with `requests.nvidia.com/gpu` in a
    ResourceQuota.

    ## Example
    ```yaml
    apiVersion: v1
    kind: LimitRange
    metadata:
      name: defaults
      namespace: ml-team
    spec:
      limits:
        - type: Container
          default:
            cpu: "2"
            nvidia.com/gpu: "1"
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: LimitRange
    metadata:
      name: defaults
      namespace: ml-team
    spec:
      limits:
        - type: Container
          default:
            cpu: "2"
    ```

    ## References
    - https://kubernetes.io/docs/concepts/policy/limit-range/
    - https://kubernetes.io/docs/concepts/policy/resource-quotas/#resource-quota-for-extended-resources
    """

    code = "CLU006"
    name = "limitrange-default-gpu"
    severity = Severity.ERROR
    mechanism = "resource-quotas-for-gpu-namespaces"

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if resource.kind != "LimitRange":
            return
        for index, item in iter_maps(resource.raw, "spec", "limits"):
            if get_str(item, "type") != "Container":
                continue
            for field in ("default", "defaultRequest"):
                for name, value in get_map(item, field).items():
                    if not isinstance(name, str) or not is_accelerator(name):
                        continue
                    yield self.finding(
                        resource,
                        f"spec.limits[{index}].{field} sets "
                        f"{name}={format_quantity(value)}: "
                        "every container in the namespace that does not set it, "
                        "sidecars and init containers included, gets it",
                        path=("spec", "limits", index, field, name),
                    )
