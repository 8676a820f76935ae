"""CLU093 scheduler-shape-invalid."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from kubernai.model.features import SCHEDULER_CONFIG
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Path, Resource
from kubernai.model.scheduler_config import (
    CARRIER_KINDS,
    REQUESTED_TO_CAPACITY_RATIO,
    ScoringStrategy,
    configs_in,
)
from kubernai.rules.base import Finding, Rule, Severity

_MAX_UTILIZATION = 100
_MAX_SCORE = 10  # config.MaxCustomPriorityScore


class SchedulerShapeInvalid(Rule):
    """RequestedToCapacityRatio shape that kube-scheduler rejects.

    ## Mechanism
    `RequestedToCapacityRatio` maps node utilization to a score through
    `requestedToCapacityRatio.shape`, a list of `{utilization, score}`
    points. kube-scheduler validates it when it builds the
    `NodeResourcesFit` plugin and exits, so no pod is scheduled:
    - the list needs at least one point (`at least one point must be
      specified`);
    - utilization must strictly increase from point to point, so a
      repeated or descending value fails (`scoringStrategy.shape[1].utilization:
      Invalid value: 50: values must be sorted in increasing order`);
    - utilization must be in [0, 100] and score in [0, 10] (scores are
      scaled by 10 to the 0-100 node score): `not in valid range [0, 10]`;
    - `type: RequestedToCapacityRatio` without `requestedToCapacityRatio`
      is refused by recent releases (`scoringStrategy.requestedToCapacityRatio:
      Required value: must be specified when type is RequestedToCapacityRatio`)
      and crashes older ones with a nil pointer dereference.
    The shape is validated whenever `requestedToCapacityRatio` is written,
    whatever the strategy type.

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
                type: RequestedToCapacityRatio
                resources:
                  - {name: nvidia.com/gpu, weight: 1}
                requestedToCapacityRatio:
                  shape:
                    - {utilization: 0, score: 0}
                    - {utilization: 100, score: 100}
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
                type: RequestedToCapacityRatio
                resources:
                  - {name: nvidia.com/gpu, weight: 1}
                requestedToCapacityRatio:
                  shape:
                    - {utilization: 0, score: 0}
                    - {utilization: 100, score: 10}
    ```

    ## References
    - kubernetes pkg/scheduler/apis/config/validation/validation_pluginargs.go
      (validateFunctionShape, ValidateNodeResourcesFitArgs)
    - https://github.com/kubernetes/kubernetes/pull/132120
    - https://kubernetes.io/docs/concepts/scheduling-eviction/resource-bin-packing/
    """

    code = "CLU093"
    name = "scheduler-shape-invalid"
    severity = Severity.ERROR
    mechanism = "kube-scheduler-scoring-for-gpu-pods"
    kinds = CARRIER_KINDS
    requires = frozenset({SCHEDULER_CONFIG})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for config in configs_in(resource):
            for profile in config.profiles:
                for path, problem in _problems(profile.fit_strategy()):
                    yield self.finding(
                        resource,
                        f"{config.prefix(path)}{profile.label}: {problem}; "
                        "kube-scheduler does not start",
                        path=config.finding_path(path),
                    )


def _problems(strategy: ScoringStrategy) -> Iterator[tuple[Path, str]]:
    if not strategy.written:
        return
    if not strategy.ratio_written:
        if strategy.type == REQUESTED_TO_CAPACITY_RATIO:
            yield (
                strategy.path,
                "type RequestedToCapacityRatio without requestedToCapacityRatio.shape",
            )
        return
    shape = strategy.shape
    if shape is None:
        return  # malformed: not ours to guess
    if not shape:
        yield strategy.shape_path, "at least one point must be specified"
        return
    for before, point in itertools.pairwise(shape):
        if before.utilization >= point.utilization:
            how = (
                "repeats"
                if before.utilization == point.utilization
                else f"comes after {before.utilization}"
            )
            yield (
                (*point.path, "utilization"),
                f"utilization {point.utilization} {how}: values must be sorted "
                "in increasing order",
            )
            break
    for point in shape:
        if not 0 <= point.utilization <= _MAX_UTILIZATION:
            yield (
                (*point.path, "utilization"),
                f"utilization {point.utilization} not in valid range "
                f"[0, {_MAX_UTILIZATION}]",
            )
        if not 0 <= point.score <= _MAX_SCORE:
            yield (
                (*point.path, "score"),
                f"score {point.score} not in valid range [0, {_MAX_SCORE}]",
            )
