"""CLU060 workload-gpus-exceed-namespace-quota."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from kubernai.model.features import ACCELERATOR
from kubernai.model.gpu import is_accelerator
from kubernai.model.graph import ObjectGraph
from kubernai.model.podrequests import (
    first_container_with,
    pod_request,
    quota_applies_to_all,
    requested_names,
)
from kubernai.model.quantity import parse_quantity
from kubernai.model.resource import Resource, get_map
from kubernai.rules.base import Finding, Rule, Severity


def _show(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else str(float(value))


class WorkloadGpusExceedNamespaceQuota(Rule):
    """Workload needs more GPUs than its namespace's ResourceQuota allows.

    ## Mechanism
    ResourceQuota is checked when each pod is created, one pod at a time. A
    pod that would push `requests.nvidia.com/gpu` over the quota's hard limit
    is refused (`exceeded quota: <name>, requested:
    requests.nvidia.com/gpu=8, used: requests.nvidia.com/gpu=56, limited:
    requests.nvidia.com/gpu=64`), and the Job, ReplicaSet or training
    operator records `FailedCreate` and retries. If one pod asks for more
    than the quota, none is ever created. If the workload as a whole asks
    for more, only part of it is created: a distributed training job then
    holds GPUs for ranks that wait forever on the missing ones. The check
    counts the workload alone, so the quota can fail sooner when the
    namespace already runs other GPU pods. Scoped quotas are not counted.

    ## Example
    ```yaml
    apiVersion: v1
    kind: ResourceQuota
    metadata: {name: gpu-quota, namespace: research}
    spec:
      hard:
        requests.nvidia.com/gpu: "16"
    ---
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata: {name: pretrain, namespace: research}
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 4
          template:
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.07-py3
                  resources:
                    limits: {nvidia.com/gpu: 8}
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: ResourceQuota
    metadata: {name: gpu-quota, namespace: research}
    spec:
      hard:
        requests.nvidia.com/gpu: "32"
    ---
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata: {name: pretrain, namespace: research}
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 4
          template:
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.07-py3
                  resources:
                    limits: {nvidia.com/gpu: 8}
    ```

    ## References
    - https://kubernetes.io/docs/concepts/policy/resource-quotas/#resource-quota-for-extended-resources
    - https://github.com/kubernetes/kubernetes/blob/master/plugin/pkg/admission/resourcequota/controller.go
    """

    code = "CLU060"
    name = "workload-gpus-exceed-namespace-quota"
    severity = Severity.ERROR
    mechanism = "resource-quotas-for-gpu-namespaces"
    workloads_only = True
    requires = frozenset({ACCELERATOR})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        quotas = [
            q for q in graph.quotas(resource.namespace) if quota_applies_to_all(q.raw)
        ]
        if not quotas:
            return
        names = sorted(
            {
                n
                for t in resource.templates
                for n in requested_names(t)
                if is_accelerator(n)
            }
        )
        for name in names:
            for quota in quotas:
                hard = parse_quantity(
                    get_map(quota.raw, "spec", "hard").get(f"requests.{name}")
                )
                if hard is not None:
                    yield from self._against(resource, quota, name, hard)

    def _against(
        self, resource: Resource, quota: Resource, name: str, hard: Fraction
    ) -> Iterator[Finding]:
        key = f"requests.{name}"
        total, pods, unknown = Fraction(0), 0, False
        first_path = None
        for template in resource.templates:
            per_pod = pod_request(template, name)
            container = first_container_with(template, name)
            if per_pod == 0 or container is None:
                continue
            section = "limits" if name in container.limits else "requests"
            path = container.resource_path(section, name)
            first_path = first_path or path
            if per_pod > hard:
                yield self.finding(
                    resource,
                    f"each pod{_role(template.role)} requests {name}={_show(per_pod)}, "
                    f"more than ResourceQuota {quota.name} allows "
                    f"({key}={_show(hard)}): no pod can be created",
                    path=path,
                )
                return
            if template.replicas is None:
                unknown = True
                continue
            total += per_pod * template.replicas
            pods += template.replicas
        if unknown or total <= hard or first_path is None:
            return
        yield self.finding(
            resource,
            f"{pods} pods request {name}={_show(total)} in all, more than "
            f"ResourceQuota {quota.name} allows ({key}={_show(hard)}): only part of "
            "the workload can be created",
            path=first_path,
        )


def _role(role: str) -> str:
    return f" of {role}" if role else ""
