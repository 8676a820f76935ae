"""OPS003 infinite-driver-upgrade-wait."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gpu_operator import (
    DRAIN,
    POD_DELETION,
    POLICY_KINDS,
    WAIT_FOR_COMPLETION,
    as_int,
    policy_in_force,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class InfiniteDriverUpgradeWait(Rule):
    """GPU driver auto-upgrade step that can wait forever on a cordoned node.

    ## Mechanism
    The upgrade controller cordons a node first, then walks it through
    steps that each wait on pods, and `timeoutSeconds: 0` means *no limit*
    for all of them:
    - `waitForCompletion` waits until no pod matching `podSelector` is
      running or pending on the node. Its timeout defaults to 0, so setting
      a selector alone waits for as long as a matching job runs, or forever
      for a server that never completes; after a finite timeout the
      controller moves on and deletes the pods.
    - `podDeletion` evicts the node's GPU pods and `drain` (when enabled)
      evicts the rest; both retry an eviction refused by a
      PodDisruptionBudget (`Cannot evict pod as it would violate the pod's
      disruption budget.`) and wait for pods to terminate until their
      timeout (default 300 s); a failed pod deletion hands the node to the
      drain if it is enabled, a failed drain marks it `upgrade-failed`.
    With 0 the node stays cordoned, its GPUs unused, and with the default
    `maxParallelUpgrades: 1` no other node is upgraded meanwhile.

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
          waitForCompletion:
            podSelector: app=inference
          drain:
            enable: true
            timeoutSeconds: 0
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
          waitForCompletion:
            podSelector: app=inference
            timeoutSeconds: 3600
          drain:
            enable: true
            timeoutSeconds: 600
    ```

    ## References
    - https://docs.nvidia.com/datacenter/cloud-native/gpu-operator/latest/gpu-driver-upgrades.html
    - NVIDIA/k8s-operator-libs `api/upgrade/v1alpha1/upgrade_spec.go` ("zero
      means infinite") and `pkg/upgrade/pod_manager.go`
      (`ScheduleCheckOnPodCompletion`, `HandleTimeoutOnPodCompletions`)
    - kubernetes `staging/src/k8s.io/kubectl/pkg/drain/drain.go` (a timeout of
      0 becomes `math.MaxInt64`; 429 evictions are retried)
    - NVIDIA/gpu-operator `deployments/gpu-operator/values.yaml` (drain:
      "It's recommended to set a timeout to avoid infinite drain")
    """

    code = "OPS003"
    name = "infinite-driver-upgrade-wait"
    severity = Severity.WARNING
    mechanism = "gpu-operator-upgrade-mechanics"
    kinds = POLICY_KINDS

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        policy = policy_in_force(resource, graph)
        if policy is None:
            return
        selector = policy.setting(WAIT_FOR_COMPLETION, "podSelector")
        wait = policy.setting(WAIT_FOR_COMPLETION, "timeoutSeconds")
        if (
            isinstance(selector.value, str)
            and selector.value.strip()
            and as_int(wait.value) == 0
        ):
            yield self.finding(
                resource,
                f"waitForCompletion.podSelector {selector.value!r} with "
                f"{wait.describe()}: each cordoned node waits without limit until "
                "no matching pod runs on it",
                path=wait.path if wait.explicit else selector.path,
            )
        if not policy.pod_deletion_missing:
            deletion = policy.setting(POD_DELETION, "timeoutSeconds")
            if deletion.explicit and as_int(deletion.value) == 0:
                yield self.finding(
                    resource,
                    "podDeletion.timeoutSeconds: 0: GPU pod evictions that a "
                    "PodDisruptionBudget refuses, or pods that do not terminate, "
                    "hold the node cordoned without limit",
                    path=deletion.path,
                )
        if policy.setting(DRAIN, "enable").value is True:
            drain = policy.setting(DRAIN, "timeoutSeconds")
            if drain.explicit and as_int(drain.value) == 0:
                yield self.finding(
                    resource,
                    "drain.enable: true with drain.timeoutSeconds: 0: a drain "
                    "blocked by a PodDisruptionBudget or a pod that does not "
                    "terminate holds the node cordoned without limit",
                    path=drain.path,
                )
