"""CLU091 scheduler-spreads-gpu-pods."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from fractions import Fraction

from kubernai.model.features import SCHEDULER_CONFIG
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.scheduler_config import (
    CARRIER_KINDS,
    FIT,
    LEAST_ALLOCATED,
    accelerators_in,
    configs_in,
)
from kubernai.rules.base import Finding, Rule, Severity

_MINOR_SHARE = Fraction(1, 2)


class SchedulerSpreadsGpuPods(Rule):
    """NodeResourcesFit scores GPUs with a spreading strategy.

    ## Mechanism
    With `LeastAllocated` (or a `RequestedToCapacityRatio` shape whose score
    falls as utilization rises) each listed resource scores
    `(capacity - requested) * 100 / capacity`: the node with the most free
    GPUs wins. Listing `nvidia.com/gpu` there makes the scheduler put every
    new GPU pod on the emptiest GPU node, so one-GPU pods end up one per
    node and no node keeps all its GPUs free. An 8-GPU training pod then
    stays Pending with `Insufficient nvidia.com/gpu` while the cluster has
    dozens of free GPUs, spread over many nodes. Bin-pack GPUs with
    `MostAllocated` or a rising shape instead. The finding is a warning
    when GPUs carry at least half of the strategy's weight and a note
    (info) when CPU and memory dominate the score.

    ## Example
    ```yaml
    apiVersion: kubescheduler.config.k8s.io/v1
    kind: KubeSchedulerConfiguration
    profiles:
      - schedulerName: default-scheduler
        pluginConfig:
          - name: NodeResourcesFit
            args:
              scoringStrategy:
                type: LeastAllocated
                resources:
                  - {name: nvidia.com/gpu, weight: 3}
                  - {name: cpu, weight: 1}
                  - {name: memory, weight: 1}
    ```

    ## Use instead
    ```yaml
    apiVersion: kubescheduler.config.k8s.io/v1
    kind: KubeSchedulerConfiguration
    profiles:
      - schedulerName: default-scheduler
        pluginConfig:
          - name: NodeResourcesFit
            args:
              scoringStrategy:
                type: MostAllocated
                resources:
                  - {name: nvidia.com/gpu, weight: 3}
                  - {name: cpu, weight: 1}
                  - {name: memory, weight: 1}
    ```

    ## References
    - https://kubernetes.io/docs/concepts/scheduling-eviction/resource-bin-packing/
    - kubernetes pkg/scheduler/framework/plugins/noderesources/
      (least_allocated.go, requested_to_capacity_ratio.go)
    """

    code = "CLU091"
    name = "scheduler-spreads-gpu-pods"
    severity = Severity.WARNING
    mechanism = "kube-scheduler-scoring-for-gpu-pods"
    kinds = CARRIER_KINDS
    requires = frozenset({SCHEDULER_CONFIG})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for config in configs_in(resource):
            for profile in config.profiles:
                strategy = profile.fit_strategy()
                if not (strategy.written and strategy.spreads):
                    continue
                if not profile.scores_with(FIT):
                    continue
                how = (
                    LEAST_ALLOCATED
                    if strategy.type == LEAST_ALLOCATED
                    else f"{strategy.type} with a falling shape"
                )
                total = sum(r.weight or 0 for r in strategy.resources)
                for entry in accelerators_in(strategy):
                    if entry.weight is None or entry.weight <= 0:
                        continue  # out of range: CLU092 reports it
                    share = strategy.weight_share(entry)
                    finding = self.finding(
                        resource,
                        f"{config.prefix(entry.path)}{profile.label} scores "
                        f"{entry.name} (weight {entry.weight} of {total}) with "
                        f"{how}: the node with the most free GPUs wins, so GPU "
                        "pods spread out and fragment GPU nodes",
                        path=config.finding_path(entry.path),
                    )
                    if (
                        share is not None
                        and share < _MINOR_SHARE
                        and self.effective_severity == self.severity
                    ):
                        finding = dataclasses.replace(finding, severity=Severity.INFO)
                    yield finding
