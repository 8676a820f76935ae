"""TRN031 zero-partial-offload-below-stage3."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import DEEPSPEED_CONFIG
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.zero_config import zero_configs
from kubernai.rules.base import Finding, Rule, Severity


class ZeroPartialOffloadBelowStage3(Rule):
    """DeepSpeed config asks for partial optimizer offload below ZeRO stage 3.

    ## Mechanism
    `offload_optimizer.ratio` (default 1.0) is the share of the optimizer step
    that runs on the CPU; the rest stays on the GPU (ZeRO-Offload++). Only the
    stage-3 optimizer implements it, and DeepSpeed's config validator rejects
    any `ratio` below 1.0 unless `zero_optimization.stage` is 3, whatever the
    offload device (`none` included) and whatever the stage (an absent stage
    is 0). Every process stops in `deepspeed.initialize` with a pydantic
    validation error: `Assertion failed, Partial offloading only supported for
    ZeRO Stage 3.`

    ## Example
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: ds-config
    data:
      ds.json: |
        {
          "train_micro_batch_size_per_gpu": 4,
          "zero_optimization": {
            "stage": 2,
            "offload_optimizer": {"device": "cpu", "ratio": 0.3}
          }
        }
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: ds-config
    data:
      ds.json: |
        {
          "train_micro_batch_size_per_gpu": 4,
          "zero_optimization": {
            "stage": 3,
            "offload_optimizer": {"device": "cpu", "ratio": 0.3}
          }
        }
    ```

    ## References
    - deepspeed/runtime/zero/config.py (`offload_ratio_check`)
    - deepspeed/runtime/zero/offload_config.py (`ratio`: "Only valid with ZeRO
      Stage 3")
    - https://www.deepspeed.ai/docs/config-json/#optimizer-offloading
    """

    code = "TRN031"
    name = "zero-partial-offload-below-stage3"
    severity = Severity.ERROR
    mechanism = "deepspeed-zero-stages"
    kinds = frozenset({"ConfigMap"})
    requires = frozenset({DEEPSPEED_CONFIG})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for key, zero in zero_configs(resource, graph):
            if zero.stage is None or zero.stage == 3:
                continue
            optimizer = zero.optimizer
            if optimizer is None or optimizer.deprecated or optimizer.ratio is None:
                continue
            if optimizer.ratio >= 1.0:
                continue
            yield self.finding(
                resource,
                f"{key}: {optimizer.field('ratio')} is {optimizer.ratio:g} with "
                f"{zero.stage_source}: DeepSpeed refuses the config (Partial "
                "offloading only supported for ZeRO Stage 3.)",
                path=("data", key),
            )
