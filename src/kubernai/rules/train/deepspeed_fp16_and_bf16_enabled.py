"""TRN010 deepspeed-fp16-and-bf16-enabled."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.deepspeed_precision import (
    BF16,
    FP16,
    deepspeed_precision,
    precision_configs,
)
from kubernai.model.features import DEEPSPEED_CONFIG
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class DeepspeedFp16AndBf16Enabled(Rule):
    """DeepSpeed config enables fp16 and bf16 at the same time.

    ## Mechanism
    A DeepSpeed engine trains in one 16-bit format. When it reads its config,
    `DeepSpeedConfig` builds the `fp16` and `bf16` sections (the legacy key
    `bfloat16` stands in for `bf16` when `bf16` is absent) and asserts that
    not both are enabled, so the job dies on every rank before the first step
    with `AssertionError: bfloat16 and fp16 modes cannot be simultaneously
    enabled`. Since DeepSpeed 0.17.1 `enabled` is coerced like a pydantic
    boolean (`true`, `1`, `"yes"`...), and the value `"auto"` is dropped
    (the Hugging Face Trainer fills it in from `--fp16`/`--bf16`, of which it
    accepts only one), so `"auto"` does not count here.

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
          "fp16": {"enabled": true, "loss_scale": 0},
          "bf16": {"enabled": true},
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
          "fp16": {"enabled": false},
          "bf16": {"enabled": true},
          "zero_optimization": {"stage": 2}
        }
    ```

    ## References
    - deepspeed/runtime/config.py (`DeepSpeedConfig._initialize_params`: "bfloat16
      and fp16 modes cannot be simultaneously enabled")
    - deepspeed/runtime/precision_config.py (`get_bfloat16_config`,
      `DeepSpeedFP16Config`)
    - https://www.deepspeed.ai/docs/config-json/#bfloat16-training-options
    """

    code = "TRN010"
    name = "deepspeed-fp16-and-bf16-enabled"
    severity = Severity.ERROR
    mechanism = "mixed-precision-bf16-vs-fp16"
    kinds = frozenset({"ConfigMap"})
    requires = frozenset({DEEPSPEED_CONFIG})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for key, data in precision_configs(resource):
            sections = deepspeed_precision(data)
            if sections.fp16_enabled and sections.bf16_enabled:
                yield self.finding(
                    resource,
                    f"{key}: fp16.enabled is {sections.written(FP16)} and "
                    f"{sections.bf16_key}.enabled is {sections.written(BF16)}: "
                    "DeepSpeed stops with "
                    '"bfloat16 and fp16 modes cannot be simultaneously enabled"',
                    path=("data", key),
                )
