"""TRN017 deepspeed-lamb-with-static-loss-scale."""

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
from kubernai.model.resource import Resource, get_str
from kubernai.rules.base import Finding, Rule, Severity


class DeepspeedLambWithStaticLossScale(Rule):
    """DeepSpeed's LAMB optimizer is combined with a static fp16 loss scale.

    ## Mechanism
    DeepSpeed's `Lamb` and `OneBitLamb` optimizers handle fp16 overflow
    themselves and only work with dynamic loss scaling. The engine checks
    this in `_do_sanity_check` before training: with a config whose
    `optimizer.type` is `Lamb` or `OneBitLamb` and an `fp16.loss_scale`
    other than 0 every rank stops with `AssertionError: DeepSpeed lamb
    optimizer requires dynamic loss scaling` (`onebitlamb` for 1-bit LAMB).

    ## Example
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: ds-config
    data:
      ds.json: |
        {
          "train_batch_size": 1024,
          "optimizer": {"type": "Lamb", "params": {"lr": 0.002}},
          "fp16": {"enabled": true, "loss_scale": 512}
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
          "train_batch_size": 1024,
          "optimizer": {"type": "Lamb", "params": {"lr": 0.002}},
          "fp16": {"enabled": true, "loss_scale": 0}
        }
    ```

    ## References
    - deepspeed/runtime/engine.py (`_do_sanity_check`: "DeepSpeed {} optimizer
      requires dynamic loss scaling"; `dynamic_loss_scale`: `loss_scale == 0`)
    - https://www.deepspeed.ai/docs/config-json/#optimizer-parameters
    """

    code = "TRN017"
    name = "deepspeed-lamb-with-static-loss-scale"
    severity = Severity.ERROR
    mechanism = "mixed-precision-bf16-vs-fp16"
    kinds = frozenset({"ConfigMap"})
    requires = frozenset({DEEPSPEED_CONFIG})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for key, data in precision_configs(resource):
            if not is_lamb(data):
                continue
            optimizer = get_str(data, "optimizer", "type")
            sections = deepspeed_precision(data)
            if not sections.fp16_enabled or not sections.loss_scale:
                continue
            yield self.finding(
                resource,
                f"{key}: optimizer {optimizer} with the static fp16.loss_scale "
                f"{sections.written(FP16, 'loss_scale')}: DeepSpeed stops with "
                f'"DeepSpeed {optimizer.lower()} optimizer requires dynamic loss '
                'scaling"',
                path=("data", key),
            )
