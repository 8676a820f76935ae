"""OPS005 invalid-driver-upgrade-max-unavailable."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gpu_operator import (
    POLICY_KINDS,
    is_int_or_percent,
    policy_in_force,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, is_placeholder
from kubernai.rules.base import Finding, Rule, Severity


class InvalidDriverUpgradeMaxUnavailable(Rule):
    """Driver upgrade `maxUnavailable` string that is not a percentage.

    ## Mechanism
    `maxUnavailable` is an int-or-string: a number of nodes (`2`) or a
    percentage of the nodes with the driver (`"25%"`). The CRD accepts any
    string, but the upgrade controller converts it with Kubernetes'
    `intstr.GetScaledValueFromIntOrPercent`, which takes a string only when
    it is digits followed by `%`. A quoted number (`"2"`), a fraction
    (`"12.5%"`) or a blank inside (`"25 %"`) fails on every reconcile with
    `invalid value for IntOrString: invalid type: string is not a
    percentage` (or `invalid value "12.5%"`). The controller logs `Failed to
    compute maxUnavailable from the current total nodes` and returns before
    it touches any node, so no driver upgrade ever starts or finishes; with
    NVIDIADriver objects one bad value stops the upgrades of all of them.

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
          maxParallelUpgrades: 2
          maxUnavailable: "2"
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
          maxParallelUpgrades: 2
          maxUnavailable: 2
    ```

    ## References
    - NVIDIA/gpu-operator `controllers/upgrade_controller.go`
      (`reconcileClusterPolicyDriverUpgrades`, `reconcileNVIDIADriverUpgrades`)
    - kubernetes `staging/src/k8s.io/apimachinery/pkg/util/intstr/intstr.go`
      (`getIntOrPercentValueSafely`)
    - NVIDIA/k8s-operator-libs `api/upgrade/v1alpha1/upgrade_spec.go`
    """

    code = "OPS005"
    name = "invalid-driver-upgrade-max-unavailable"
    severity = Severity.ERROR
    mechanism = "gpu-operator-upgrade-mechanics"
    kinds = POLICY_KINDS

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        policy = policy_in_force(resource, graph)
        if policy is None:
            return
        setting = policy.setting("", "maxUnavailable")
        value = setting.value
        if not isinstance(value, str) or is_placeholder(value.rstrip("%")):
            return  # other types are refused by the API server itself
        if is_int_or_percent(value):
            return
        why = (
            "a string but not a percentage"
            if not value.endswith("%")
            else "not a whole-number percentage"
        )
        yield self.finding(
            resource,
            f"maxUnavailable: {value!r} is {why}: the upgrade controller fails "
            "every reconcile ('invalid value for IntOrString') and upgrades no node",
            path=setting.path,
        )
