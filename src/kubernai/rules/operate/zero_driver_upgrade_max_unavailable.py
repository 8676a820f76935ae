"""OPS006 zero-driver-upgrade-max-unavailable."""

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


class ZeroDriverUpgradeMaxUnavailable(Rule):
    """Driver auto-upgrade with `maxUnavailable: 0`, which never starts on a node.

    ## Mechanism
    Before it cordons a node for a driver upgrade, the upgrade controller
    counts the nodes already unavailable (cordoned, not ready, or about to
    be cordoned) and starts new upgrades only while that count is below
    `maxUnavailable`. With `0` (or `"0%"`, or a negative number) the count
    is never below it, so the controller starts no upgrade at all: driver
    pods stay on the old version (their DaemonSet uses `OnDelete`) and nodes
    sit in `upgrade-required`. Only nodes that an administrator cordons by
    hand go ahead. To keep GPU capacity during upgrades, cap the pace with
    `maxParallelUpgrades: 1` and a small `maxUnavailable` instead.

    ## Example
    ```yaml
    apiVersion: nvidia.com/v1
    kind: ClusterPolicy
    metadata:
      name: cluster-policy
    spec:
      driver:
        upgradePolicy:
          autoUpgrade: true
          maxParallelUpgrades: 1
          maxUnavailable: 0
    ```

    ## Use instead
    ```yaml
    apiVersion: nvidia.com/v1
    kind: ClusterPolicy
    metadata:
      name: cluster-policy
    spec:
      driver:
        upgradePolicy:
          autoUpgrade: true
          maxParallelUpgrades: 1
          maxUnavailable: 1
    ```

    ## References
    - NVIDIA/k8s-operator-libs `pkg/upgrade/common_manager.go`
      (`GetUpgradesAvailable`) and `pkg/upgrade/upgrade_inplace.go`
      (`ProcessUpgradeRequiredNodes`: "Node upgrade limit reached, pausing
      further upgrades")
    - https://docs.nvidia.com/datacenter/cloud-native/gpu-operator/latest/gpu-driver-upgrades.html
    """

    code = "OPS006"
    name = "zero-driver-upgrade-max-unavailable"
    severity = Severity.WARNING
    mechanism = "gpu-operator-upgrade-mechanics"
    kinds = POLICY_KINDS

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        policy = policy_in_force(resource, graph)
        if policy is None:
            return
        setting = policy.setting("", "maxUnavailable")
        value = setting.value
        count = as_int(value) if not isinstance(value, str) else percent(value)
        if count is None or count > 0:
            return
        yield self.finding(
            resource,
            f"{setting.describe()}: the upgrade controller never cordons a node "
            "for a driver upgrade, so only nodes cordoned by hand get the new "
            "driver",
            path=setting.path,
        )
