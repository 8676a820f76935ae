"""OPS066 gpu-driver-upgrade-stuck."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from kubernai.model.events import format_time
from kubernai.model.graph import ObjectGraph
from kubernai.model.node_status import (
    UPGRADE_FAILED,
    UPGRADE_STATE_LABEL,
    UPGRADE_WAITING_FOR_JOBS,
    WAIT_START_ANNOTATION,
    is_cordoned,
    is_node,
    last_heartbeat,
    nvidia_gpus,
    unix_time,
)
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity

WAIT_REPORTED_AFTER = timedelta(hours=24)
"""Heuristic: a node that waits longer than this for jobs is reported."""


class GpuDriverUpgradeStuck(Rule):
    """GPU node stuck in a GPU Operator driver upgrade.

    ## Mechanism
    With `driver.upgradePolicy.autoUpgrade` on, the GPU Operator upgrades the
    driver node by node and records each node's progress in the label
    `nvidia.com/gpu-driver-upgrade-state`: `upgrade-required`,
    `cordon-required`, `wait-for-jobs-required`, `pod-deletion-required`,
    `drain-required`, `pod-restart-required`, `validation-required`,
    `uncordon-required`, `upgrade-done`. When a step fails or times out (GPU
    pods that cannot be deleted, a drain blocked by a PodDisruptionBudget, a
    driver pod that does not become ready, validation pods not Ready within
    600 s) the node is set to `upgrade-failed` and left cordoned; the operator
    moves it on only once its driver pod is up to date and Ready again, so its
    GPUs stay out of service until someone looks. A node in
    `wait-for-jobs-required` waits for the pods selected by
    `waitForCompletion.podSelector` to finish, forever when the timeout is 0;
    the operator writes when the wait began in the annotation
    `nvidia.com/gpu-driver-upgrade-wait-for-pod-completion-start-time` (Unix
    seconds), and this rule reports a wait longer than 24 hours (a heuristic)
    counted to the node's last heartbeat.

    ## Example
    ```yaml
    apiVersion: v1
    kind: Node
    metadata:
      name: gpu-node-7
      labels:
        nvidia.com/gpu-driver-upgrade-state: upgrade-failed
    spec:
      unschedulable: true
    status:
      capacity: {nvidia.com/gpu: "8"}
      allocatable: {nvidia.com/gpu: "8"}
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: Node
    metadata:
      name: gpu-node-7
      labels:
        nvidia.com/gpu-driver-upgrade-state: upgrade-done
    status:
      capacity: {nvidia.com/gpu: "8"}
      allocatable: {nvidia.com/gpu: "8"}
    ```

    ## References
    - NVIDIA/k8s-operator-libs `pkg/upgrade/consts.go`,
      `pkg/upgrade/upgrade_state.go` (`ProcessUpgradeFailedNodes`),
      `pkg/upgrade/validation_manager.go`
    - https://docs.nvidia.com/datacenter/cloud-native/gpu-operator/latest/gpu-driver-upgrades.html
    """

    code = "OPS066"
    name = "gpu-driver-upgrade-stuck"
    severity = Severity.WARNING
    mechanism = "kubernetes-events-for-gpu-failures"
    kinds = frozenset({"Node"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if not is_node(resource):
            return
        state = resource.labels.get(UPGRADE_STATE_LABEL)
        path = ("metadata", "labels", UPGRADE_STATE_LABEL)
        gpus = nvidia_gpus(resource)
        out = f"its {gpus} GPU(s) take no new pods" if gpus else "it takes no new pods"
        if state == UPGRADE_FAILED:
            cordon = (
                f"it is cordoned, so {out}"
                if is_cordoned(resource)
                else "it is not cordoned, so GPU pods may land on a driver that "
                "failed to upgrade"
            )
            yield self.finding(
                resource,
                f"{UPGRADE_STATE_LABEL}={UPGRADE_FAILED}: the GPU Operator could not "
                "finish the driver upgrade on this node (pod deletion, drain, driver "
                f"restart or validation failed or timed out) and {cordon}; it moves "
                "on only once the driver pod is up to date and Ready",
                path=path,
            )
            return
        if state != UPGRADE_WAITING_FOR_JOBS:
            return
        started = unix_time(resource.annotations.get(WAIT_START_ANNOTATION))
        heartbeat = last_heartbeat(resource)
        if started is None or heartbeat is None:
            return
        waited = heartbeat - started
        if waited < WAIT_REPORTED_AFTER:
            return
        hours = int(waited.total_seconds() // 3600)
        cordoned = f" cordoned, so {out}" if is_cordoned(resource) else ""
        yield self.finding(
            resource,
            f"{UPGRADE_STATE_LABEL}={UPGRADE_WAITING_FOR_JOBS} since "
            f"{format_time(started)}, {hours} h before the node's last heartbeat: "
            "the driver upgrade waits for the pods matched by "
            f"waitForCompletion.podSelector to finish{',' if cordoned else ''}"
            f"{cordoned} (reported after 24 h, a heuristic)",
            path=path,
        )
