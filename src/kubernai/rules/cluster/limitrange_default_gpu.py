"""CLU006 limitrange-default-gpu."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gpu import is_accelerator
from kubernai.model.graph import ObjectGraph
from kubernai.model.quantity import format_quantity, parse_quantity
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
    no limit, which the API server refuses. `max` and `min` do the same
    through defaulting: a `max` with no `default` for the resource becomes
    the default limit, and a `min` with no default request becomes the
    default request. Let GPU workloads set their own
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
    kinds = frozenset({"LimitRange"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if resource.kind != "LimitRange":
            return
        for index, item in iter_maps(resource.raw, "spec", "limits"):
            if get_str(item, "type") != "Container":
                continue
            default, request = get_map(item, "default"), get_map(item, "defaultRequest")
            for field, values in (
                ("default", default),
                ("defaultRequest", request),
                ("max", get_map(item, "max")),
                ("min", get_map(item, "min")),
            ):
                for name, value in values.items():
                    if not isinstance(name, str) or not is_accelerator(name):
                        continue
                    if parse_quantity(value) == 0:
                        continue  # a default of zero gives containers nothing
                    if field == "max" and name in default:
                        continue  # the default limit wins over max
                    if field == "min" and (name in request or name in default):
                        continue  # an explicit default request wins over min
                    how = _HOW.get(field, "")
                    yield self.finding(
                        resource,
                        f"spec.limits[{index}].{field} sets "
                        f"{name}={format_quantity(value)}{how}: every container in the "
                        "namespace that does not set it, sidecars and init containers "
                        "included, gets it",
                        path=("spec", "limits", index, field, name),
                    )


# LimitRangeItem defaulting (kubernetes pkg/apis/core/v1/defaults.go,
# SetDefaults_LimitRangeItem): max fills a missing default limit, default fills
# a missing default request, min fills a missing default request.
_HOW = {
    "max": " and no default, so the API server makes it the default limit",
    "min": " and no default request, so the API server makes it the default request",
}
