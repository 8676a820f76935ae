"""CLU092 scheduler-weight-out-of-range."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import SCHEDULER_CONFIG
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.scheduler_config import (
    BALANCED_ALLOCATION,
    CARRIER_KINDS,
    INTER_POD_AFFINITY,
    as_int,
    configs_in,
    weighted_resources,
)
from kubernai.rules.base import Finding, Rule, Severity


class SchedulerWeightOutOfRange(Rule):
    """Scheduler plugin weight outside the range kube-scheduler accepts.

    ## Mechanism
    kube-scheduler validates plugin arguments when it builds each profile
    and exits on the first invalid one, so no pod of any profile is
    scheduled while it crash-loops:
    - `NodeResourcesFit` `scoringStrategy.resources[].weight` must be in
      (0, 100]; 0 or no weight means 1. The error reads `initializing
      plugin "NodeResourcesFit": scoringStrategy.resources[2].weight: Invalid
      value: 1000: resource weight of nvidia.com/gpu not in valid range (0, 100]`.
    - `NodeResourcesBalancedAllocation` `resources[].weight` must be 1
      (0 or none means 1): `Invalid value: 2: must be 1`.
    - `InterPodAffinity` `hardPodAffinityWeight` must be in [0, 100]:
      `not in valid range [0, 100]`.
    A GPU weight of 1000 meant to make GPUs dominate the score is the usual
    way to hit the first one; 100 against CPU and memory at 1 already gives
    GPUs 98% of the score.

    ## Example
    ```yaml
    apiVersion: kubescheduler.config.k8s.io/v1
    kind: KubeSchedulerConfiguration
    profiles:
      - schedulerName: gpu-binpack
        pluginConfig:
          - name: NodeResourcesFit
            args:
              scoringStrategy:
                type: MostAllocated
                resources:
                  - {name: cpu, weight: 1}
                  - {name: memory, weight: 1}
                  - {name: nvidia.com/gpu, weight: 1000}
    ```

    ## Use instead
    ```yaml
    apiVersion: kubescheduler.config.k8s.io/v1
    kind: KubeSchedulerConfiguration
    profiles:
      - schedulerName: gpu-binpack
        pluginConfig:
          - name: NodeResourcesFit
            args:
              scoringStrategy:
                type: MostAllocated
                resources:
                  - {name: cpu, weight: 1}
                  - {name: memory, weight: 1}
                  - {name: nvidia.com/gpu, weight: 100}
    ```

    ## References
    - kubernetes pkg/scheduler/apis/config/validation/validation_pluginargs.go
      (validateResources, ValidateNodeResourcesBalancedAllocationArgs,
      validateHardPodAffinityWeight)
    - kubernetes pkg/scheduler/apis/config/v1/defaults.go
    - https://kubernetes.io/docs/reference/config-api/kube-scheduler-config.v1/
    """

    code = "CLU092"
    name = "scheduler-weight-out-of-range"
    severity = Severity.ERROR
    mechanism = "kube-scheduler-scoring-for-gpu-pods"
    kinds = CARRIER_KINDS
    requires = frozenset({SCHEDULER_CONFIG})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for config in configs_in(resource):
            for profile in config.profiles:
                strategy = profile.fit_strategy()
                if strategy.resources_written:
                    for entry in strategy.resources:
                        if entry.weight is None or 0 < entry.weight <= 100:
                            continue
                        path = (*entry.path, "weight")
                        yield self.finding(
                            resource,
                            f"{config.prefix(path)}{profile.label}: resource "
                            f"weight of {entry.name} not in valid range (0, 100]: "
                            f"got {entry.weight}; kube-scheduler does not start",
                            path=config.finding_path(path),
                        )
                found = profile.plugin_args(BALANCED_ALLOCATION)
                if found is not None:
                    args_path, args = found
                    for entry in weighted_resources(args, args_path):
                        if entry.weight is None or entry.weight == 1:
                            continue
                        path = (*entry.path, "weight")
                        yield self.finding(
                            resource,
                            f"{config.prefix(path)}{profile.label}: "
                            f"{BALANCED_ALLOCATION} weight of {entry.name} must be "
                            f"1: got {entry.weight}; kube-scheduler does not start",
                            path=config.finding_path(path),
                        )
                found = profile.plugin_args(INTER_POD_AFFINITY)
                if found is not None:
                    args_path, args = found
                    weight = as_int(args.get("hardPodAffinityWeight"))
                    if weight is not None and not 0 <= weight <= 100:
                        path = (*args_path, "hardPodAffinityWeight")
                        yield self.finding(
                            resource,
                            f"{config.prefix(path)}{profile.label}: "
                            f"hardPodAffinityWeight {weight} not in valid range "
                            "[0, 100]; kube-scheduler does not start",
                            path=config.finding_path(path),
                        )
