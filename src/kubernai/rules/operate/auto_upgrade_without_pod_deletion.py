"""OPS007 auto-upgrade-without-pod-deletion."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gpu_operator import CLUSTER_POLICY, policy_in_force
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class AutoUpgradeWithoutPodDeletion(Rule):
    """ClusterPolicy driver auto-upgrade without a `podDeletion` section.

    ## Mechanism
    The CRD's defaults for `podDeletion` (`force: false`,
    `timeoutSeconds: 300`, `deleteEmptyDir: false`) apply only to fields of
    a `podDeletion` object that exists; the ClusterPolicy gives
    `upgradePolicy` no default sub-objects, so a policy written without
    `podDeletion` reaches the upgrade controller as nil. The controller
    cordons the first node and moves it to `pod-deletion-required`; from
    then on every reconcile fails with `pod deletion spec should not be
    empty` and returns before the drain, driver restart, validation and
    uncordon steps, for every node. The node stays cordoned and the upgrade
    goes no further. The Helm chart always renders `podDeletion` (from
    `driver.upgradePolicy.gpuPodDeletion`); a hand-written ClusterPolicy
    must do it too. NVIDIADriver objects fill a missing section with
    defaults and are not affected.

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
          maxUnavailable: 25%
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
          maxUnavailable: 25%
          podDeletion:
            force: false
            timeoutSeconds: 300
            deleteEmptyDir: false
    ```

    ## References
    - NVIDIA/k8s-operator-libs `pkg/upgrade/pod_manager.go`
      (`SchedulePodEviction`) and `pkg/upgrade/upgrade_state.go` (`ApplyState`)
    - NVIDIA/gpu-operator `deployments/gpu-operator/crds/` (ClusterPolicy CRD)
      and `deployments/gpu-operator/templates/clusterpolicy.yaml`
    - https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#defaulting
    """

    code = "OPS007"
    name = "auto-upgrade-without-pod-deletion"
    severity = Severity.ERROR
    mechanism = "gpu-operator-upgrade-mechanics"
    kinds = frozenset({CLUSTER_POLICY})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        policy = policy_in_force(resource, graph)
        if policy is None or not policy.pod_deletion_missing:
            return
        yield self.finding(
            resource,
            "autoUpgrade is true but upgradePolicy has no podDeletion: once a node "
            "reaches pod-deletion-required every reconcile fails with 'pod deletion "
            "spec should not be empty' and the node stays cordoned",
            path=policy.path,
        )
