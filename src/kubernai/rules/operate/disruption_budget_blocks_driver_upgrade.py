"""OPS004 disruption-budget-blocks-driver-upgrade."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gpu_operator import (
    DRAIN,
    POD_DELETION,
    UpgradePolicy,
    as_int,
    cluster_upgrade_policy,
    deleted_for_driver_upgrade,
    percent,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, get_map, get_path
from kubernai.model.scope import describes
from kubernai.model.selector import selector_matches
from kubernai.rules.base import Finding, Rule, Severity


class DisruptionBudgetBlocksDriverUpgrade(Rule):
    """PodDisruptionBudget that lets no GPU pod be evicted for a driver upgrade.

    ## Mechanism
    The GPU Operator's upgrade controller removes a node's GPU pods before
    it reloads the driver, and drains the node if `drain.enable` is true.
    Both go through the Eviction API, which honours PodDisruptionBudgets:
    while a budget's `status.disruptionsAllowed` is 0 each eviction is
    refused with HTTP 429 `Cannot evict pod as it would violate the pod's
    disruption budget.` and retried until a timeout. `maxUnavailable: 0`,
    `minAvailable: 100%` or a `minAvailable` at least the number of pods
    the budget selects keep `disruptionsAllowed` at 0 for good, because a
    replacement pod cannot start before the old one is gone. The pod
    deletion gives up after `podDeletion.timeoutSeconds` (default 300), the
    drain after `drain.timeoutSeconds`, and the node ends in
    `upgrade-failed`, cordoned on the old driver; with a timeout of 0 it
    waits forever. `podDeletion.force` does not help: it only allows
    deleting pods without a controller.

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
          podDeletion:
            timeoutSeconds: 300
    ---
    apiVersion: policy/v1
    kind: PodDisruptionBudget
    metadata:
      name: llm
      namespace: serving
    spec:
      maxUnavailable: 0
      selector:
        matchLabels: {app: llm}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: llm
      namespace: serving
    spec:
      replicas: 2
      selector:
        matchLabels: {app: llm}
      template:
        metadata:
          labels: {app: llm}
        spec:
          containers:
            - name: server
              image: nvcr.io/nim/meta/llama-3.1-8b-instruct:1.3.3
              resources:
                limits:
                  nvidia.com/gpu: 1
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
          podDeletion:
            timeoutSeconds: 300
    ---
    apiVersion: policy/v1
    kind: PodDisruptionBudget
    metadata:
      name: llm
      namespace: serving
    spec:
      maxUnavailable: 1
      selector:
        matchLabels: {app: llm}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: llm
      namespace: serving
    spec:
      replicas: 2
      selector:
        matchLabels: {app: llm}
      template:
        metadata:
          labels: {app: llm}
        spec:
          containers:
            - name: server
              image: nvcr.io/nim/meta/llama-3.1-8b-instruct:1.3.3
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## References
    - https://kubernetes.io/docs/concepts/workloads/pods/disruptions/#pod-disruption-budgets
    - https://kubernetes.io/docs/tasks/run-application/configure-pdb/
    - kubernetes `pkg/registry/core/pod/storage/eviction.go` (the 429 message)
      and `staging/src/k8s.io/kubectl/pkg/drain/drain.go` (`evictPods` retries)
    - NVIDIA/k8s-operator-libs `pkg/upgrade/pod_manager.go` and
      `pkg/upgrade/drain_manager.go`
    """

    code = "OPS004"
    name = "disruption-budget-blocks-driver-upgrade"
    severity = Severity.WARNING
    mechanism = "gpu-operator-upgrade-mechanics"
    kinds = frozenset({"PodDisruptionBudget"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if resource.group != "policy":
            return
        policy = cluster_upgrade_policy(graph)
        if policy is not None and not describes(policy.owner, resource):
            return  # the ClusterPolicy sits in another folder: another cluster
        if policy is None or policy.pod_deletion_missing:
            return  # OPS007 reports a policy without podDeletion
        spec = get_map(resource.raw, "spec")
        selector = get_path(spec, "selector")
        gpu_pods: list[str] = []
        total: int | None = 0
        for workload in graph.policy_targets(resource):
            if workload.kind == "DaemonSet":
                continue  # evictions skip DaemonSet pods
            if graph.scalers_of(workload):
                total = None  # an autoscaler sets the number of pods
            for template in workload.templates:
                if not selector_matches(selector, template.labels):
                    continue
                if deleted_for_driver_upgrade(template):
                    label = workload.display()
                    if label not in gpu_pods:
                        gpu_pods.append(label)
                if total is not None and template.replicas is not None:
                    total += template.replicas
                else:
                    total = None
        if not gpu_pods:
            return
        blocked = _blocking_field(spec, total)
        if blocked is None:
            return
        field, shown = blocked
        targets = ", ".join(gpu_pods[:3]) + (
            f" and {len(gpu_pods) - 3} more" if len(gpu_pods) > 3 else ""
        )
        yield self.finding(
            resource,
            f"{shown} allows no eviction of the GPU pods of {targets}: during a "
            f"driver upgrade ({policy.describe()}) every eviction gets 429 'Cannot "
            f"evict pod as it would violate the pod's disruption budget.' and "
            f"{_outcome(policy)}",
            path=("spec", field),
        )


def _outcome(policy: UpgradePolicy) -> str:
    deletion = policy.setting(POD_DELETION, "timeoutSeconds")
    if as_int(deletion.value) == 0:
        return "the pod deletion retries them without limit"
    if policy.setting(DRAIN, "enable").value is not True:
        return f"after {deletion.describe()} the node ends in upgrade-failed"
    drain = policy.setting(DRAIN, "timeoutSeconds")
    if as_int(drain.value) == 0:
        return (
            f"after {deletion.describe()} the drain retries them without limit "
            f"({drain.describe()})"
        )
    return (
        f"after {deletion.describe()} and {drain.describe()} the node ends in "
        "upgrade-failed"
    )


def _blocking_field(spec: object, selected_pods: int | None) -> tuple[str, str] | None:
    """The budget field that keeps ``disruptionsAllowed`` at 0, and how to show it."""
    max_unavailable = get_path(spec, "maxUnavailable")
    if max_unavailable is not None:
        if as_int(max_unavailable) == 0 or percent(max_unavailable) == 0:
            return "maxUnavailable", f"maxUnavailable: {max_unavailable}"
        return None
    min_available = get_path(spec, "minAvailable")
    share = percent(min_available)
    if share is not None:
        if share >= 100:
            return "minAvailable", f"minAvailable: {min_available}"
        return None
    count = as_int(min_available)
    if count is not None and selected_pods and count >= selected_pods:
        return (
            "minAvailable",
            f"minAvailable: {count} with {selected_pods} selected "
            f"pod{'s' if selected_pods > 1 else ''}",
        )
    return None
