"""CLU003 invalid-gpu-request."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gpu import is_extended_resource
from kubernai.model.graph import ObjectGraph
from kubernai.model.quantity import format_quantity, parse_quantity
from kubernai.model.resource import Resource, is_placeholder
from kubernai.model.workload import Container
from kubernai.rules.base import Finding, Rule, Severity


class InvalidGpuRequest(Rule):
    """GPU or other extended resource with a request the API server rejects.

    ## Mechanism
    `nvidia.com/gpu` and every other domain-prefixed resource are extended
    resources: whole devices that cannot be overcommitted. The API server's
    validation (`validateResourceRequirements`) therefore rejects a fraction
    (`must be an integer`), a request without a limit (`Limit must be set
    for non overcommitable resources`) and a request that differs from the
    limit (`must be equal to nvidia.com/gpu limit of 1`). A rejected pod is
    never created: a Deployment or Job shows only `FailedCreate` events on
    its ReplicaSet or Job, and operators report the error on their own
    status. Setting only the limit is enough; the request defaults to it.
    Fractions of a GPU come from time-slicing, MPS or MIG, never from the
    quantity.

    ## Example
    ```yaml
    apiVersion: v1
    kind: Pod
    metadata:
      name: notebook
    spec:
      containers:
        - name: jupyter
          image: quay.io/jupyter/pytorch-notebook:cuda12-2024-10-07
          resources:
            requests:
              nvidia.com/gpu: 1
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
          image: quay.io/jupyter/pytorch-notebook:cuda12-2024-10-07
          resources:
            limits:
              nvidia.com/gpu: 1
    ```

    ## References
    - https://kubernetes.io/docs/tasks/manage-gpus/scheduling-gpus/
    - https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#extended-resources
    - https://github.com/kubernetes/kubernetes/blob/master/pkg/apis/core/validation/validation.go
    """

    code = "CLU003"
    name = "invalid-gpu-request"
    severity = Severity.ERROR
    mechanism = "resource-quotas-for-gpu-namespaces"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            for container in template.containers:
                yield from self._container(resource, container)

    def _container(self, resource: Resource, container: Container) -> Iterator[Finding]:
        requests, limits = container.requests, container.limits
        for name in container.names:
            if not is_extended_resource(name):
                continue
            broken = False
            for section, values in (("limits", limits), ("requests", requests)):
                if name not in values:
                    continue
                raw = values[name]
                if (
                    raw is None
                    or is_placeholder(raw)
                    or not isinstance(raw, str | int | float)
                ):
                    broken = True  # left for a templating step, or not a scalar at all
                    continue
                shown = format_quantity(raw)
                quantity = parse_quantity(raw)
                problem = ""
                if quantity is None:
                    problem = f'Invalid value: "{shown}": not a Kubernetes quantity'
                elif quantity.denominator != 1:
                    problem = f'Invalid value: "{shown}": must be an integer'
                elif quantity < 0:
                    problem = (
                        f'Invalid value: "{shown}": must be greater than or equal to 0'
                    )
                if problem:
                    broken = True
                    yield self.finding(
                        resource,
                        f"{container.label}: {section}[{name}]: {problem}",
                        path=container.resource_path(section, name),
                    )
            if broken or name not in requests:
                continue
            if name not in limits:
                yield self.finding(
                    resource,
                    f"{container.label}: limits[{name}]: Required value: Limit must "
                    f"be set for non overcommitable resources (requests {name}="
                    f"{format_quantity(requests[name])})",
                    path=container.resource_path("requests", name),
                )
            elif parse_quantity(requests[name]) != parse_quantity(limits[name]):
                yield self.finding(
                    resource,
                    f"{container.label}: requests[{name}]: Invalid value: "
                    f'"{format_quantity(requests[name])}": must be equal to {name} '
                    f"limit of {format_quantity(limits[name])}",
                    path=container.resource_path("requests", name),
                )
