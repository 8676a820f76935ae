"""CLU005 quota-gpu-key-not-enforced."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gpu import is_accelerator
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, get_map
from kubernai.rules.base import Finding, Rule, Severity


class QuotaGpuKeyNotEnforced(Rule):
    """ResourceQuota caps GPUs with a key that quota never counts.

    ## Mechanism
    For extended resources such as `nvidia.com/gpu`, ResourceQuota counts
    only the `requests.` form (`requests.nvidia.com/gpu`): overcommit is not
    allowed, so requests equal limits and the quota evaluator records usage
    under `requests.<name>` alone. A quota that says
    `limits.nvidia.com/gpu: 4` or `nvidia.com/gpu: 4` is accepted, but the
    key never appears in `status.used` and nothing is capped: the namespace
    can take every GPU in the cluster.

    ## Example
    ```yaml
    apiVersion: v1
    kind: ResourceQuota
    metadata:
      name: gpu-quota
      namespace: team-a
    spec:
      hard:
        limits.nvidia.com/gpu: "8"
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: ResourceQuota
    metadata:
      name: gpu-quota
      namespace: team-a
    spec:
      hard:
        requests.nvidia.com/gpu: "8"
    ```

    ## References
    - https://kubernetes.io/docs/concepts/policy/resource-quotas/#resource-quota-for-extended-resources
    - https://github.com/NVIDIA/k8s-device-plugin/issues/211
    """

    code = "CLU005"
    name = "quota-gpu-key-not-enforced"
    severity = Severity.ERROR
    mechanism = "resource-quotas-for-gpu-namespaces"
    kinds = frozenset({"ResourceQuota"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if resource.kind != "ResourceQuota":
            return
        hard = get_map(resource.raw, "spec", "hard")
        for key in hard:
            if not isinstance(key, str):
                continue
            bare = key.removeprefix("limits.")
            if not is_accelerator(bare) or f"requests.{bare}" in hard:
                continue
            yield self.finding(
                resource,
                f"spec.hard caps {key!r}, which quota never counts for an extended "
                f"resource; only 'requests.{bare}' is enforced",
                path=("spec", "hard", key),
            )
