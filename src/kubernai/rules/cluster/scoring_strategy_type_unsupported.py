"""CLU096 scoring-strategy-type-unsupported."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import SCHEDULER_CONFIG
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.scheduler_config import (
    CARRIER_KINDS,
    STRATEGY_TYPES,
    configs_in,
)
from kubernai.rules.base import Finding, Rule, Severity

_SUPPORTED = ", ".join(f'"{t}"' for t in STRATEGY_TYPES)


class ScoringStrategyTypeUnsupported(Rule):
    """NodeResourcesFit scoring strategy type that kube-scheduler does not know.

    ## Mechanism
    `scoringStrategy.type` must be `LeastAllocated`, `MostAllocated` or
    `RequestedToCapacityRatio`, spelled exactly. Defaulting fills in
    `LeastAllocated` only when `scoringStrategy` is left out altogether; a
    written strategy without `type` (for example one that only lists
    `resources` with a GPU weight) keeps an empty type. kube-scheduler then
    fails to build the `NodeResourcesFit` plugin and exits with
    `scoringStrategy.type: Unsupported value: "": supported values:
    "LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"`, and no
    pod of any profile is scheduled. Names from other schedulers
    (`BinPacking`, `BalancedAllocation`, `LeastNUMANodes`) fail the same way.

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
                resources:
                  - {name: nvidia.com/gpu, weight: 5}
                  - {name: cpu, weight: 1}
                  - {name: memory, weight: 1}
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
                  - {name: nvidia.com/gpu, weight: 5}
                  - {name: cpu, weight: 1}
                  - {name: memory, weight: 1}
    ```

    ## References
    - kubernetes pkg/scheduler/apis/config/validation/validation_pluginargs.go
      (supportedScoringStrategyTypes, ValidateNodeResourcesFitArgs)
    - kubernetes pkg/scheduler/apis/config/v1/defaults.go
      (SetDefaults_NodeResourcesFitArgs)
    - https://kubernetes.io/docs/reference/config-api/kube-scheduler-config.v1/#kubescheduler-config-k8s-io-v1-ScoringStrategyType
    """

    code = "CLU096"
    name = "scoring-strategy-type-unsupported"
    severity = Severity.ERROR
    mechanism = "kube-scheduler-scoring-for-gpu-pods"
    kinds = CARRIER_KINDS
    requires = frozenset({SCHEDULER_CONFIG})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for config in configs_in(resource):
            for profile in config.profiles:
                strategy = profile.fit_strategy()
                if not strategy.written or strategy.type in STRATEGY_TYPES:
                    continue
                written = strategy.type
                path = (*strategy.path, "type") if written else strategy.path
                what = f"type {written!r} is" if written else "type is missing, so"
                yield self.finding(
                    resource,
                    f"{config.prefix(path)}{profile.label}: scoring strategy "
                    f"{what} not supported (supported values: {_SUPPORTED}); "
                    "kube-scheduler does not start",
                    path=config.finding_path(path),
                )
