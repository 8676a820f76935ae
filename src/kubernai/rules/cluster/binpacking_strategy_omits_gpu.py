"""CLU090 binpacking-strategy-omits-gpu."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import SCHEDULER_CONFIG
from kubernai.model.gpu import NVIDIA_GPU, is_accelerator
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.scheduler_config import (
    CARRIER_KINDS,
    DEFAULT_SCHEDULER,
    FIT,
    configs_in,
    folder_of,
    scheduler_index,
)
from kubernai.rules.base import Finding, Rule, Severity


class BinpackingStrategyOmitsGpu(Rule):
    """Bin-packing NodeResourcesFit strategy that leaves GPUs out of the score.

    ## Mechanism
    `NodeResourcesFit` scores a node only over the resources listed in
    `scoringStrategy.resources` (default: `cpu` and `memory`, weight 1 each).
    An extended resource such as `nvidia.com/gpu` that is not listed does
    not count at all: the plugin still filters nodes by free GPUs, but the
    `MostAllocated` or rising `RequestedToCapacityRatio` score that is
    meant to fill GPU nodes one by one is computed over CPU and memory
    alone. A GPU pod then lands on the node with the fullest CPUs, not the
    one with the fewest free GPUs, and whole 8-GPU nodes stay fragmented.
    The rule fires when a profile packs with such a strategy and GPU pods
    in the input use the profile (for `default-scheduler`, GPU pods without
    `schedulerName` in the same folder as the configuration), or the
    profile's name says it is for GPUs; the scheduler itself logs nothing.

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
    - https://kubernetes.io/docs/concepts/scheduling-eviction/resource-bin-packing/
    - https://kubernetes.io/docs/reference/config-api/kube-scheduler-config.v1/#kubescheduler-config-k8s-io-v1-ScoringStrategy
    - kubernetes pkg/scheduler/framework/plugins/noderesources/resource_allocation.go
    """

    code = "CLU090"
    name = "binpacking-strategy-omits-gpu"
    severity = Severity.WARNING
    mechanism = "kube-scheduler-scoring-for-gpu-pods"
    kinds = CARRIER_KINDS
    requires = frozenset({SCHEDULER_CONFIG})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for config in configs_in(resource):
            for profile in config.profiles:
                strategy = profile.fit_strategy()
                if not (strategy.written and strategy.packs):
                    continue
                if not profile.scores_with(FIT):
                    continue
                scored = {r.name for r in strategy.resources}
                users = scheduler_index(graph).accelerator_users.get(
                    profile.scheduler_name, ()
                )
                if profile.scheduler_name == DEFAULT_SCHEDULER:
                    # Pods reach the default profile by naming no scheduler at
                    # all: count only those of the same bundle (folder).
                    folder = folder_of(resource)
                    users = tuple(u for u in users if folder_of(u.resource) == folder)
                missing = sorted({n for u in users for n in u.names} - scored)
                if users and missing:
                    user = next(u for u in users if set(u.names) & set(missing))
                    others = len(users) - 1
                    more = f" and {others} more workload(s)" if others else ""
                    why = f"requested by {user.resource.display()}{more}"
                elif (
                    not users
                    and _named_for_gpus(profile.scheduler_name, resource.name)
                    and not any(is_accelerator(n) for n in scored)
                ):
                    missing = [NVIDIA_GPU]
                    why = "though the name says the profile is for GPUs"
                else:
                    continue
                listed = ", ".join(r.name for r in strategy.resources)
                yield self.finding(
                    resource,
                    f"{config.prefix(strategy.resources_path)}{profile.label} "
                    f"packs nodes with {strategy.type} over {listed} only, not "
                    f"{', '.join(missing)} ({why}): GPUs do not count in the "
                    "node score",
                    path=config.finding_path(strategy.resources_path),
                )


def _named_for_gpus(*names: str) -> bool:
    return any("gpu" in name.lower() for name in names)
