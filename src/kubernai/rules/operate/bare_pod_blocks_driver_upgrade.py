"""OPS008 bare-pod-blocks-driver-upgrade."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gpu_operator import (
    DRAIN,
    POD_DELETION,
    cluster_upgrade_policy,
    deleted_for_driver_upgrade,
    has_controller,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.scope import describes
from kubernai.rules.base import Finding, Rule, Severity


class BarePodBlocksDriverUpgrade(Rule):
    """Bare GPU Pod that the driver auto-upgrade may not delete.

    ## Mechanism
    Before it reloads the driver on a node, the GPU Operator's upgrade
    controller deletes the node's running GPU pods through the `kubectl
    drain` helper. Without `podDeletion.force: true` (default false) the
    helper refuses a pod that no controller owns: `cannot delete Pods that
    declare no controller (use --force to override): <namespace>/<pod>`,
    because nothing would recreate it. The controller logs `Cannot delete
    all required pods` and marks the node `upgrade-failed`, or tries the
    drain if `drain.enable` is true, which fails the same way unless
    `drain.force` is true. The node stays cordoned on the old driver until
    the pod ends or is deleted by hand. A pod with the default
    `restartPolicy: Always` runs until someone deletes it, so it is in the
    way of every upgrade (a run-to-completion pod only while it runs). Run
    long-lived GPU pods under a Deployment, StatefulSet or Job, or allow
    `force` knowing the pod will not come back.

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
            force: false
    ---
    apiVersion: v1
    kind: Pod
    metadata:
      name: notebook
      namespace: research
    spec:
      containers:
        - name: jupyter
          image: jupyter/pytorch-notebook:2024-05-27
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
            force: false
    ---
    apiVersion: apps/v1
    kind: StatefulSet
    metadata:
      name: notebook
      namespace: research
    spec:
      replicas: 1
      serviceName: notebook
      selector:
        matchLabels: {app: notebook}
      template:
        metadata:
          labels: {app: notebook}
        spec:
          containers:
            - name: jupyter
              image: jupyter/pytorch-notebook:2024-05-27
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## References
    - kubernetes `staging/src/k8s.io/kubectl/pkg/drain/filters.go`
      (`unreplicatedFilter`)
    - NVIDIA/k8s-operator-libs `pkg/upgrade/pod_manager.go` (`SchedulePodEviction`)
    - https://docs.nvidia.com/datacenter/cloud-native/gpu-operator/latest/gpu-driver-upgrades.html
    """

    code = "OPS008"
    name = "bare-pod-blocks-driver-upgrade"
    severity = Severity.WARNING
    mechanism = "gpu-operator-upgrade-mechanics"
    kinds = frozenset({"Pod"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if resource.kind != "Pod" or resource.group or has_controller(resource):
            return
        policy = cluster_upgrade_policy(graph)
        if policy is not None and not describes(policy.owner, resource):
            return  # the ClusterPolicy sits in another folder: another cluster
        if policy is None or policy.pod_deletion_missing:
            return  # OPS007 reports a policy without podDeletion
        force = policy.setting(POD_DELETION, "force")
        if force.value is not False:
            return
        drain_on = policy.setting(DRAIN, "enable").value
        drain_force = policy.setting(DRAIN, "force")
        if drain_on is True and drain_force.value is True:
            return  # the drain deletes it
        if not isinstance(drain_on, bool) or not isinstance(drain_force.value, bool):
            return
        template = next(iter(resource.templates), None)
        if template is None or not deleted_for_driver_upgrade(template):
            return
        if template.spec.get("restartPolicy") not in (None, "Always"):
            return  # a run-to-completion pod blocks only while it runs
        then = (
            f"the drain fails the same way with {drain_force.describe()}"
            if drain_on
            else "the drain is disabled"
        )
        yield self.finding(
            resource,
            "long-running GPU Pod (restartPolicy Always) without a controller, and "
            f"{policy.describe()} has "
            f"{force.describe()}: a driver upgrade cannot delete it "
            f"('cannot delete Pods that declare no controller') and {then}, so its "
            "node ends in upgrade-failed, still cordoned",
        )
