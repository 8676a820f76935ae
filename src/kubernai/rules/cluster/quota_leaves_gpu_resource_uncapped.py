"""CLU061 quota-leaves-gpu-resource-uncapped."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gpu import is_accelerator
from kubernai.model.graph import ObjectGraph
from kubernai.model.podrequests import quota_applies_to_all, requested_names
from kubernai.model.resource import Resource, get_map
from kubernai.rules.base import Finding, Rule, Severity


class QuotaLeavesGpuResourceUncapped(Rule):
    """GPU quota caps one GPU resource name while the namespace uses another.

    ## Mechanism
    Quota counts each extended resource under its own name. A namespace
    capped with `requests.nvidia.com/gpu` can still take any number of MIG
    slices (`nvidia.com/mig-1g.10gb`), shared GPUs from time-slicing or MPS
    with `renameByDefault` (`nvidia.com/gpu.shared`) or other vendors'
    devices, because none of those is `nvidia.com/gpu`. Each name that the
    namespace's workloads request needs its own `requests.<name>` entry.
    The check looks at the workloads in the input in the quota's namespace.

    ## Example
    ```yaml
    apiVersion: v1
    kind: ResourceQuota
    metadata: {name: gpu-quota, namespace: notebooks}
    spec:
      hard:
        requests.nvidia.com/gpu: "4"
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: jupyter, namespace: notebooks}
    spec:
      replicas: 10
      template:
        spec:
          containers:
            - name: lab
              image: quay.io/jupyter/pytorch-notebook:cuda12-2024-10-07
              resources:
                limits: {nvidia.com/mig-1g.10gb: 1}
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: ResourceQuota
    metadata: {name: gpu-quota, namespace: notebooks}
    spec:
      hard:
        requests.nvidia.com/gpu: "4"
        requests.nvidia.com/mig-1g.10gb: "14"
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: jupyter, namespace: notebooks}
    spec:
      replicas: 10
      template:
        spec:
          containers:
            - name: lab
              image: quay.io/jupyter/pytorch-notebook:cuda12-2024-10-07
              resources:
                limits: {nvidia.com/mig-1g.10gb: 1}
    ```

    ## References
    - https://kubernetes.io/docs/concepts/policy/resource-quotas/#resource-quota-for-extended-resources
    - https://github.com/NVIDIA/k8s-device-plugin#shared-access-to-gpus
    """

    code = "CLU061"
    name = "quota-leaves-gpu-resource-uncapped"
    severity = Severity.WARNING
    mechanism = "resource-quotas-for-gpu-namespaces"
    kinds = frozenset({"ResourceQuota"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if not quota_applies_to_all(resource.raw):
            return
        hard = get_map(resource.raw, "spec", "hard")
        capped = {
            key.removeprefix("requests.")
            for key in hard
            if isinstance(key, str) and key.startswith("requests.")
        }
        if not any(is_accelerator(name) for name in capped):
            return  # not a GPU quota
        users: dict[str, Resource] = {}
        for workload in graph.workloads_in(resource.namespace):
            for template in workload.templates:
                for name in requested_names(template):
                    if is_accelerator(name) and name not in capped:
                        users.setdefault(name, workload)
        for name, workload in sorted(users.items()):
            yield self.finding(
                resource,
                f"caps {', '.join(sorted(f'requests.{n}' for n in capped))} but not "
                f"requests.{name}, which {workload.display()} requests: those "
                "devices are uncapped in this namespace",
                path=("spec", "hard"),
            )
