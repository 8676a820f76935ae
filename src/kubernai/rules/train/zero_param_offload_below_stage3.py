"""TRN030 zero-param-offload-below-stage3."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import DEEPSPEED_CONFIG
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.zero_config import zero_configs
from kubernai.rules.base import Finding, Rule, Severity


class ZeroParamOffloadBelowStage3(Rule):
    """DeepSpeed config offloads parameters at a ZeRO stage that ignores it.

    ## Mechanism
    Only ZeRO stage 3 partitions the parameters, and only its engine reads
    `offload_param`: DeepSpeed hands the section to the stage-3 optimizer
    (`DeepSpeedZeroOptimizer_Stage3`, `DeepSpeedZeRoOffload`) and to
    `deepspeed.zero.Init`, while the stage 1 and 2 optimizer gets the optimizer
    offload alone. At stage 0, 1 or 2 the config still validates and training
    starts, but every GPU keeps the full 16-bit parameters: the memory the
    offload was meant to free is not freed, and the run can hit CUDA out of
    memory where the author expected it to fit. The deprecated
    `cpu_offload_param: true` becomes the same `offload_param` section.

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
            "offload_optimizer": {"device": "cpu"},
            "offload_param": {"device": "cpu"}
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
            "offload_optimizer": {"device": "cpu"},
            "offload_param": {"device": "cpu"}
          }
        }
    ```

    ## References
    - https://www.deepspeed.ai/docs/config-json/#parameter-offloading
    - deepspeed/runtime/engine.py (`_configure_zero_optimizer`: stages 1 and 2
      get `offload_optimizer_config` only)
    - deepspeed/runtime/zero/offload_config.py (`DeepSpeedZeroOffloadParamConfig`:
      "Valid only with stage 3")
    """

    code = "TRN030"
    name = "zero-param-offload-below-stage3"
    severity = Severity.WARNING
    mechanism = "deepspeed-zero-stages"
    kinds = frozenset({"ConfigMap"})
    requires = frozenset({DEEPSPEED_CONFIG})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for key, zero in zero_configs(resource, graph):
            if zero.stage is None or zero.stage == 3:
                continue
            param = zero.param
            if param is None or not param.active:
                continue
            yield self.finding(
                resource,
                f"{key}: {param.setting()} but {zero.stage_source}: DeepSpeed reads "
                "offload_param only at stage 3, so the parameters stay on the GPUs",
                path=("data", key),
            )
