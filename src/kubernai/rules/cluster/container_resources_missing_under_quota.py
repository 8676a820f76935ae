"""CLU062 container-resources-missing-under-quota."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.podrequests import quota_applies_to_all
from kubernai.model.resource import Resource, get_map, get_str, iter_maps
from kubernai.model.workload import Container
from kubernai.rules.base import Finding, Rule, Severity

# ResourceQuota keys that make every container declare a value
# (kubernetes pkg/quota/v1/evaluator/core/pods.go, validationSet), and the
# container field each one needs: a request is also satisfied by a limit,
# because the API server copies a missing request from the limit.
_NEEDS = {
    "cpu": ("cpu", "requests"),
    "requests.cpu": ("cpu", "requests"),
    "memory": ("memory", "requests"),
    "requests.memory": ("memory", "requests"),
    "limits.cpu": ("cpu", "limits"),
    "limits.memory": ("memory", "limits"),
}


class ContainerResourcesMissingUnderQuota(Rule):
    """Container leaves out CPU or memory that its namespace's quota requires.

    ## Mechanism
    When a ResourceQuota sets `cpu`, `memory`, `requests.*` or `limits.*`
    for them, the quota admission plugin refuses any pod with a container
    (init containers included) that does not declare that value, unless a
    LimitRange in the namespace fills it in first. The pod is never
    created: `pods "train-0" is forbidden: failed quota: team-quota: must
    specify limits.cpu for: trainer; limits.memory for: trainer`. For a Job
    or a training operator this shows only as `FailedCreate` events, and GPU
    workloads copied from examples that set nothing but `nvidia.com/gpu` are
    the usual victims. The check looks for a LimitRange in the input; one
    that exists only in the cluster would also fill the value.

    ## Example
    ```yaml
    apiVersion: v1
    kind: ResourceQuota
    metadata: {name: team-quota, namespace: ml}
    spec:
      hard:
        requests.nvidia.com/gpu: "8"
        limits.memory: 512Gi
    ---
    apiVersion: batch/v1
    kind: Job
    metadata: {name: finetune, namespace: ml}
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: trainer
              image: nvcr.io/nvidia/pytorch:24.07-py3
              resources:
                limits: {nvidia.com/gpu: 1}
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: ResourceQuota
    metadata: {name: team-quota, namespace: ml}
    spec:
      hard:
        requests.nvidia.com/gpu: "8"
        limits.memory: 512Gi
    ---
    apiVersion: batch/v1
    kind: Job
    metadata: {name: finetune, namespace: ml}
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: trainer
              image: nvcr.io/nvidia/pytorch:24.07-py3
              resources:
                limits: {nvidia.com/gpu: 1, memory: 64Gi}
    ```

    ## References
    - https://kubernetes.io/docs/concepts/policy/resource-quotas/#compute-resource-quota
    - https://github.com/kubernetes/kubernetes/blob/master/pkg/quota/v1/evaluator/core/pods.go
    """

    code = "CLU062"
    name = "container-resources-missing-under-quota"
    severity = Severity.ERROR
    mechanism = "resource-quotas-for-gpu-namespaces"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for quota in graph.quotas(resource.namespace):
            if not quota_applies_to_all(quota.raw):
                continue
            hard = get_map(quota.raw, "spec", "hard")
            required = sorted({k for k in hard if isinstance(k, str) and k in _NEEDS})
            if not required:
                continue
            filled = _defaulted(graph, resource.namespace)
            for template in resource.templates:
                if not template.complete:
                    continue
                missing: dict[str, list[Container]] = {}
                for container in template.containers:
                    for key in required:
                        if not _declares(container, key, filled):
                            missing.setdefault(key, []).append(container)
                if not missing:
                    continue
                parts = "; ".join(
                    f"{key} for: {','.join(sorted({c.name or '?' for c in found}))}"
                    for key, found in sorted(missing.items())
                )
                first = next(iter(missing.values()))[0]
                yield self.finding(
                    resource,
                    f"ResourceQuota {quota.name} makes the API server refuse these "
                    f"pods: failed quota: {quota.name}: must specify {parts}",
                    path=first.path,
                )
            return


def _declares(container: Container, key: str, filled: set[str]) -> bool:
    name, section = _NEEDS[key]
    if section == "requests" and name in container.requests:
        return True
    if name in container.limits:
        return True
    return f"{section}.{name}" in filled


def _defaulted(graph: ObjectGraph, namespace: str) -> set[str]:
    """``requests.cpu``-style keys that a LimitRange in the input fills in."""
    filled: set[str] = set()
    for limit_range in graph.limit_ranges(namespace):
        for _, item in iter_maps(limit_range.raw, "spec", "limits"):
            if get_str(item, "type") != "Container":
                continue
            # Defaulting: max fills default, default and min fill defaultRequest.
            for field, sections in (
                ("default", ("limits", "requests")),
                ("max", ("limits", "requests")),
                ("defaultRequest", ("requests",)),
                ("min", ("requests",)),
            ):
                for name in get_map(item, field):
                    filled.update(f"{section}.{name}" for section in sections)
    return filled
