"""TRN024 deepspeed-batch-size-missing."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.calc.batch import NO_BATCH_KEY
from kubernai.model.deepspeed_batch import (
    ACCUM,
    MICRO,
    TRAIN,
    elasticity_enabled,
    is_deepspeed_config,
)
from kubernai.model.features import DEEPSPEED_CONFIG
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.training import deepspeed_configs
from kubernai.rules.base import Finding, Rule, Severity


class DeepspeedBatchSizeMissing(Rule):
    """DeepSpeed config with neither train_batch_size nor the micro batch size.

    ## Mechanism
    DeepSpeed can derive two of its batch keys, but it needs
    `train_batch_size` or `train_micro_batch_size_per_gpu` to start from.
    With neither (a `gradient_accumulation_steps` alone is not enough) the
    engine stops at start-up: `AssertionError: Either train_batch_size or
    train_micro_batch_size_per_gpu needs to be provided`. The Hugging Face
    Trainer and Accelerate do not add missing keys: they only replace
    values written as `"auto"`, so a config meant for the Trainer needs
    `"train_micro_batch_size_per_gpu": "auto"` (and usually
    `"train_batch_size": "auto"`) to be filled in. A config with an enabled
    `elasticity` section is exempt: DeepSpeed computes the batch from it.

    ## Example
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: zero3
    data:
      ds_config.json: |
        {"gradient_accumulation_steps": 4,
         "bf16": {"enabled": true},
         "zero_optimization": {"stage": 3, "overlap_comm": true}}
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: zero3
    data:
      ds_config.json: |
        {"train_batch_size": "auto",
         "train_micro_batch_size_per_gpu": "auto",
         "gradient_accumulation_steps": "auto",
         "bf16": {"enabled": true},
         "zero_optimization": {"stage": 3, "overlap_comm": true}}
    ```

    ## References
    - `_set_batch_related_parameters`:
      https://github.com/deepspeedai/DeepSpeed/blob/master/deepspeed/runtime/config.py
    - `fill_match`:
      https://github.com/huggingface/transformers/blob/main/src/transformers/integrations/deepspeed.py
    - `_prepare_deepspeed`:
      https://github.com/huggingface/accelerate/blob/main/src/accelerate/accelerator.py
    """

    code = "TRN024"
    name = "deepspeed-batch-size-missing"
    severity = Severity.ERROR
    mechanism = "gradient-accumulation-mechanics"
    kinds = frozenset({"ConfigMap"})
    requires = frozenset({DEEPSPEED_CONFIG})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for key, data in deepspeed_configs(resource):
            if not is_deepspeed_config(data) or elasticity_enabled(data):
                continue
            if data.get(TRAIN) is not None or data.get(MICRO) is not None:
                continue
            only = f" (only {ACCUM})" if data.get(ACCUM) is not None else ""
            yield self.finding(
                resource,
                f"{key} sets neither {TRAIN} nor {MICRO}{only}, not even as "
                f'"auto": DeepSpeed stops with "{NO_BATCH_KEY}"',
                path=("data", key),
            )
