"""OPS001 unbounded-driver-upgrade-parallelism."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gpu_operator import (
    POLICY_KINDS,
    as_int,
    percent,
    policy_in_force,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class UnboundedDriverUpgradeParallelism(Rule):
    """GPU driver auto-upgrade that takes every GPU node down at once.

    ## Mechanism
    With `autoUpgrade: true`, the GPU Operator's upgrade controller moves
    nodes whose driver pod is out of date through cordon, GPU pod deletion
    (and optionally a drain), driver reload and validation. Two fields cap
    how many nodes are in that pipeline together. `maxParallelUpgrades`
    (default 1) is the number of nodes upgraded in parallel, and `0` means
    no limit. `maxUnavailable` (default `"25%"`, a percentage of the nodes
    with the driver, rounded up) caps the nodes that may be cordoned or not
    ready at the same time. With `maxParallelUpgrades: 0` and
    `maxUnavailable: 100%`, nothing caps it any more: one driver version
    bump cordons every GPU node and deletes every GPU pod in the cluster
    together, and serving and training stop until the slowest node has
    reloaded its driver and passed validation (up to 10 minutes per node).

    ## Example
    ```yaml
    apiVersion: nvidia.com/v1
    kind: ClusterPolicy
    metadata:
      name: cluster-policy
    spec:
      driver:
        enabled: true
        upgradePolicy:
          autoUpgrade: true
          maxParallelUpgrades: 0
          maxUnavailable: 100%
    ```

    ## Use instead
    ```yaml
    apiVersion: nvidia.com/v1
    kind: ClusterPolicy
    metadata:
      name: cluster-policy
    spec:
      driver:
        enabled: true
        upgradePolicy:
          autoUpgrade: true
          maxParallelUpgrades: 2
          maxUnavailable: 25%
    ```

    ## References
    - https://docs.nvidia.com/datacenter/cloud-native/gpu-operator/latest/gpu-driver-upgrades.html
    - NVIDIA/k8s-operator-libs `api/upgrade/v1alpha1/upgrade_spec.go`
      (field docs and defaults) and `pkg/upgrade/common_manager.go`
      (`GetUpgradesAvailable`)
    - NVIDIA/gpu-operator `deployments/gpu-operator/crds/` (ClusterPolicy CRD)
    """

    code = "OPS001"
    name = "unbounded-driver-upgrade-parallelism"
    severity = Severity.WARNING
    mechanism = "gpu-operator-upgrade-mechanics"
    kinds = POLICY_KINDS

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        policy = policy_in_force(resource, graph)
        if policy is None:
            return
        parallel = policy.setting("", "maxParallelUpgrades")
        if as_int(parallel.value) != 0:
            return
        unavailable = policy.setting("", "maxUnavailable")
        share = percent(unavailable.value)
        if share is None or share < 100:
            return
        yield self.finding(
            resource,
            f"maxParallelUpgrades: 0 (no limit) with {unavailable.describe()}: "
            "a driver upgrade cordons every GPU node and deletes every GPU pod "
            "at the same time",
            path=unavailable.path,
        )
