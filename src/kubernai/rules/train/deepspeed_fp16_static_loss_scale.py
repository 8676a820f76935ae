"""TRN011 deepspeed-fp16-static-loss-scale."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.deepspeed_precision import (
    FP16,
    deepspeed_precision,
    is_lamb,
    precision_configs,
)
from kubernai.model.features import DEEPSPEED_CONFIG
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class DeepspeedFp16StaticLossScale(Rule):
    """DeepSpeed fp16 training uses a fixed loss scale.

    ## Mechanism
    fp16 has five exponent bits: its largest value is 65504 and anything
    below about 6e-8 becomes zero. Loss scaling multiplies the loss before
    the backward pass so that small gradients stay representable, and divides
    the gradients again before the optimizer step. With `fp16.loss_scale: 0`
    (the default) DeepSpeed scales dynamically: it starts at
    `2^initial_scale_power`, halves the scale when gradients overflow (once
    `hysteresis` overflows are used up) and doubles it after
    `loss_scale_window` clean steps. Any value above 0 is a static
    scale that never changes. When the scaled gradients overflow, DeepSpeed
    still skips the step but does not lower the scale (its fp16 optimizer
    logs `Grad overflow on iteration N` and `Using static loss scale of:
    X`), so the same overflow skips step after step; when the scale is too
    small, gradients underflow to zero and the weights stop moving. Both show
    up only as a flat or diverging loss.
    bf16 has fp32's exponent range and needs no scale at all.

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
          "fp16": {"enabled": true, "loss_scale": 1024},
          "zero_optimization": {"stage": 2}
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
          "fp16": {"enabled": true, "loss_scale": 0, "initial_scale_power": 16},
          "zero_optimization": {"stage": 2}
        }
    ```

    ## References
    - https://www.deepspeed.ai/docs/config-json/#fp16-training-options
      ("loss_scale ... 0.0 means dynamic loss scaling")
    - deepspeed/runtime/engine.py (`dynamic_loss_scale`: `loss_scale == 0`)
    - deepspeed/runtime/fp16/fused_optimizer.py (`_update_scale`: a static
      scale only logs the overflow; the step is skipped) and
      deepspeed/runtime/zero/stage_1_and_2.py (`step`: overflow clears the
      gradients; the static `LossScaler.update_scale` does nothing)
    """

    code = "TRN011"
    name = "deepspeed-fp16-static-loss-scale"
    severity = Severity.WARNING
    mechanism = "mixed-precision-bf16-vs-fp16"
    kinds = frozenset({"ConfigMap"})
    requires = frozenset({DEEPSPEED_CONFIG})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for key, data in precision_configs(resource):
            sections = deepspeed_precision(data)
            if sections.bf16_enabled or is_lamb(data):
                continue  # deepspeed-lamb-with-static-loss-scale says more
            scale = sections.loss_scale
            if not scale:
                continue
            if sections.fp16_enabled:
                when = ""
            elif sections.fp16_auto:
                when = ' (fp16.enabled is "auto": it applies when the Trainer runs '
                when += "with --fp16)"
            else:
                continue
            yield self.finding(
                resource,
                f"{key}: fp16.loss_scale is {sections.written(FP16, 'loss_scale')}, "
                f"a static loss scale that DeepSpeed never adjusts{when}; 0 makes "
                "it dynamic",
                path=("data", key),
            )
