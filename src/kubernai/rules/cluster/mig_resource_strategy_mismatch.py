"""CLU085 mig-resource-strategy-mismatch."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.mig import known_mig_strategy, mig_profile
from kubernai.model.resource import Resource
from kubernai.model.shared_gpus import resource_path
from kubernai.model.sharing import sharing_index
from kubernai.rules.base import Finding, Rule, Severity

_ADVERTISED = {
    "single": "that strategy advertises MIG slices as nvidia.com/gpu",
    "none": "that strategy does not advertise MIG slices",
}


class MigResourceStrategyMismatch(Rule):
    """Pod asks for `nvidia.com/mig-*` where the MIG strategy is not `mixed`.

    ## Mechanism
    The NVIDIA device plugin exposes MIG slices according to its MIG
    strategy. Only `mixed` advertises one resource per profile,
    `nvidia.com/mig-<profile>` (`nvidia.com/mig-1g.10gb`,
    `nvidia.com/mig-3g.40gb`). With `single` every slice is advertised as
    `nvidia.com/gpu` (and GPU feature discovery labels the node
    `nvidia.com/gpu.product=<GPU>-MIG-<profile>`); with `none`, the default,
    MIG devices are not advertised. A pod that asks for
    `nvidia.com/mig-...` on such a cluster never schedules: it stays Pending
    with `0/N nodes are available: N Insufficient nvidia.com/mig-...`. The
    strategy is taken from the input: GPU feature discovery labels the pods
    select, a GPU Operator ClusterPolicy (`spec.mig.strategy`, which the
    operator passes to the plugin as `MIG_STRATEGY` and which overrides the
    config file), or the `flags.migStrategy` of every device-plugin config.
    ClusterPolicies and ConfigMaps count for the workloads in their own
    folder and below it.

    ## Example
    ```yaml
    apiVersion: nvidia.com/v1
    kind: ClusterPolicy
    metadata:
      name: cluster-policy
    spec:
      mig:
        strategy: single
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: eval
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: eval
              image: nvcr.io/nvidia/pytorch:24.07-py3
              resources:
                limits:
                  nvidia.com/mig-1g.10gb: 1
    ```

    ## Use instead
    ```yaml
    apiVersion: nvidia.com/v1
    kind: ClusterPolicy
    metadata:
      name: cluster-policy
    spec:
      mig:
        strategy: mixed
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: eval
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: eval
              image: nvcr.io/nvidia/pytorch:24.07-py3
              resources:
                limits:
                  nvidia.com/mig-1g.10gb: 1
    ```

    ## References
    - https://github.com/NVIDIA/k8s-device-plugin#configuration-option-details
    - NVIDIA/k8s-device-plugin internal/rm/rm.go (AddDefaultResourcesToConfig)
    - NVIDIA/k8s-device-plugin internal/lm/mig-strategy.go (product labels)
    - https://docs.nvidia.com/datacenter/cloud-native/gpu-operator/latest/gpu-operator-mig.html
    """

    code = "CLU085"
    name = "mig-resource-strategy-mismatch"
    severity = Severity.ERROR
    mechanism = "mig-vs-mps-vs-time-slicing"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        index = None
        for template in resource.templates:
            requested = [
                (container, name)
                for container in template.containers
                for name in container.names
                if mig_profile(name) is not None
            ]
            if not requested:
                continue
            index = index or sharing_index(graph)
            known = known_mig_strategy(resource, template, index)
            if known is None or known.strategy == "mixed":
                continue
            for container, name in requested:
                yield self.finding(
                    resource,
                    f"{container.label} requests {name}, but {known.reason}: "
                    f"{_ADVERTISED[known.strategy]}, so no node has {name} and the "
                    f"pod stays Pending (Insufficient {name})",
                    path=resource_path(container, name),
                )
