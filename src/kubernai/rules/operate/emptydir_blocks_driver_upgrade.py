"""OPS002 emptydir-blocks-driver-upgrade."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gpu_operator import (
    DRAIN,
    POD_DELETION,
    cluster_upgrade_policy,
    deleted_for_driver_upgrade,
    empty_dir_volumes,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.scope import describes
from kubernai.rules.base import Finding, Rule, Severity


class EmptydirBlocksDriverUpgrade(Rule):
    """GPU pod with an emptyDir volume that the driver auto-upgrade may not delete.

    ## Mechanism
    Before it reloads the driver on a node, the GPU Operator's upgrade
    controller deletes the node's GPU pods (pods whose containers request
    `nvidia.com/gpu*` or `nvidia.com/mig-*`) through the `kubectl drain`
    helper. That helper refuses to remove a running pod that has any
    `emptyDir` volume, a `medium: Memory` one mounted at `/dev/shm`
    included, unless `podDeletion.deleteEmptyDir` is true (default false):
    `cannot delete Pods with local storage (use --delete-emptydir-data to
    override): <namespace>/<pod>`. The controller then logs `Cannot delete
    all required pods`; with `drain.enable: false` the node goes straight to
    `upgrade-failed`, and with the drain enabled the drain fails the same
    way unless `drain.deleteEmptyDir` is true. The node stays cordoned on
    the old driver until someone deletes the pod by hand. The
    `nvidia.com/gpu-driver-upgrade-drain.skip` label only exempts a pod from
    the drain, not from the GPU pod deletion. An emptyDir holds scratch data
    that a deleted pod loses anyway, so allowing its deletion is usually the
    fix; keep data that must survive on a PersistentVolumeClaim.

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
            deleteEmptyDir: false
          drain:
            enable: false
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
      namespace: serving
    spec:
      replicas: 2
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.6.3
              resources:
                limits:
                  nvidia.com/gpu: 1
              volumeMounts:
                - {name: shm, mountPath: /dev/shm}
          volumes:
            - name: shm
              emptyDir:
                medium: Memory
                sizeLimit: 8Gi
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
            deleteEmptyDir: true
          drain:
            enable: false
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
      namespace: serving
    spec:
      replicas: 2
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.6.3
              resources:
                limits:
                  nvidia.com/gpu: 1
              volumeMounts:
                - {name: shm, mountPath: /dev/shm}
          volumes:
            - name: shm
              emptyDir:
                medium: Memory
                sizeLimit: 8Gi
    ```

    ## References
    - https://docs.nvidia.com/datacenter/cloud-native/gpu-operator/latest/gpu-driver-upgrades.html
    - NVIDIA/k8s-operator-libs `pkg/upgrade/pod_manager.go` (`SchedulePodEviction`,
      `updateNodeToDrainOrFailed`) and `pkg/upgrade/drain_manager.go`
    - kubernetes `staging/src/k8s.io/kubectl/pkg/drain/filters.go`
      (`localStorageFilter`)
    - NVIDIA/gpu-operator `cmd/gpu-operator/main.go` (`gpuPodSpecFilter`)
    """

    code = "OPS002"
    name = "emptydir-blocks-driver-upgrade"
    severity = Severity.WARNING
    mechanism = "gpu-operator-upgrade-mechanics"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if resource.kind == "DaemonSet":
            return  # the drain helper skips DaemonSet pods
        policy = cluster_upgrade_policy(graph)
        if policy is not None and not describes(policy.owner, resource):
            return  # the ClusterPolicy sits in another folder: another cluster
        if policy is None or policy.pod_deletion_missing:
            return  # OPS007 reports a policy without podDeletion
        deletion = policy.setting(POD_DELETION, "deleteEmptyDir")
        if deletion.value is not False:
            return
        drain_on = policy.setting(DRAIN, "enable").value
        drain_empty = policy.setting(DRAIN, "deleteEmptyDir")
        if drain_on is True and drain_empty.value is True:
            return  # the drain removes what the pod deletion could not
        if not isinstance(drain_on, bool) or not isinstance(drain_empty.value, bool):
            return
        for template in resource.templates:
            if template.replicas == 0 or not deleted_for_driver_upgrade(template):
                continue
            volumes = empty_dir_volumes(template)
            if not volumes:
                continue
            names = ", ".join(repr(v.name) if v.name else "(unnamed)" for v in volumes)
            plural = "s" if len(volumes) > 1 else ""
            then = (
                f"the drain fails the same way with {drain_empty.describe()}"
                if drain_on
                else "the drain is disabled"
            )
            yield self.finding(
                resource,
                f"GPU pods use emptyDir volume{plural} {names} and "
                f"{policy.describe()} has {deletion.describe()}: "
                "a driver upgrade cannot delete them ('cannot delete Pods with "
                f"local storage') and {then}, so their node ends in upgrade-failed, "
                "still cordoned",
                path=volumes[0].path,
            )
