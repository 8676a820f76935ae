"""TRN023 invalid-deepspeed-batch-size."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from kubernai.model.deepspeed_batch import (
    ACCUM,
    AUTO,
    BATCH_KEYS,
    MICRO,
    TRAIN,
    is_deepspeed_config,
)
from kubernai.model.features import DEEPSPEED_CONFIG
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, is_placeholder
from kubernai.model.training import deepspeed_configs
from kubernai.rules.base import Finding, Rule, Severity

_ASSERTIONS = {
    TRAIN: "Train batch size: {} has to be greater than 0",
    MICRO: "Micro batch size per gpu: {} has to be greater than 0",
    ACCUM: "Gradient accumulation steps: {} has to be greater than 0",
}
"""DeepSpeed's ``_batch_assertion`` messages."""


class InvalidDeepspeedBatchSize(Rule):
    """DeepSpeed batch key that is zero, negative or not a number.

    ## Mechanism
    DeepSpeed asserts that each of `train_batch_size`,
    `train_micro_batch_size_per_gpu` and `gradient_accumulation_steps` is
    above 0 before the engine starts, whatever the world size:
    `AssertionError: Train batch size: 0 has to be greater than 0`
    (likewise `Micro batch size per gpu: ...` and `Gradient accumulation
    steps: ...`). A key it is given is never recomputed, so a zero or
    negative value always fails. The only string that anything fills in is
    `"auto"` (the Hugging Face Trainer and Accelerate replace it with their
    own arguments); any other string, such as `"32"`, reaches DeepSpeed as a
    string and the comparison with 0 raises a `TypeError`, or the Trainer
    reports it as a mismatch with its arguments.

    ## Example
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: ds-config
    data:
      ds.json: |
        {"train_micro_batch_size_per_gpu": "4",
         "gradient_accumulation_steps": 0,
         "zero_optimization": {"stage": 3}}
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: ds-config
    data:
      ds.json: |
        {"train_micro_batch_size_per_gpu": 4,
         "gradient_accumulation_steps": "auto",
         "zero_optimization": {"stage": 3}}
    ```

    ## References
    - `_batch_assertion`:
      https://github.com/deepspeedai/DeepSpeed/blob/master/deepspeed/runtime/config.py
    - `fill_match`:
      https://github.com/huggingface/transformers/blob/main/src/transformers/integrations/deepspeed.py
    - https://huggingface.co/docs/transformers/deepspeed
    """

    code = "TRN023"
    name = "invalid-deepspeed-batch-size"
    severity = Severity.ERROR
    mechanism = "gradient-accumulation-mechanics"
    kinds = frozenset({"ConfigMap"})
    requires = frozenset({DEEPSPEED_CONFIG})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for key, data in deepspeed_configs(resource):
            if not is_deepspeed_config(data):
                continue
            for name in BATCH_KEYS:
                problem = _problem(name, data)
                if problem:
                    yield self.finding(
                        resource, f"{key}: {problem}", path=("data", key)
                    )


def _problem(name: str, data: Mapping[str, object]) -> str:
    value = data.get(name)
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, int | float):
        if value > 0:
            return ""
        shown = int(value) if isinstance(value, float) and value.is_integer() else value
        message = _ASSERTIONS[name].format(shown)
        return f'{name} is {shown}: DeepSpeed stops with "{message}"'
    if isinstance(value, str):
        if value == AUTO or is_placeholder(value):
            return ""
        return (
            f'{name} is the string "{value}": only "auto" is filled in (by the '
            "Hugging Face Trainer or Accelerate); DeepSpeed compares anything else "
            "with 0 and fails with a TypeError"
        )
    kind = "a list" if isinstance(value, list) else "an object"
    return f"{name} is {kind}, not a number: DeepSpeed cannot compare it with 0"
