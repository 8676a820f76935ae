"""TRN012 invalid-deepspeed-loss-scaling."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from kubernai.model.deepspeed_precision import (
    AUTO,
    deepspeed_precision,
    number,
    precision_configs,
    shown,
)
from kubernai.model.features import DEEPSPEED_CONFIG
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity

_POSITIVE = ("loss_scale_window", "min_loss_scale")
"""Validated by ``_reject_non_integer_scale_params`` and, with dynamic scaling,
``_validate_dynamic_loss_scale_params`` (DeepSpeed 0.19.3 and later)."""
_INTEGERS = ("initial_scale_power", "hysteresis")
"""Plain pydantic ``int`` fields of ``DeepSpeedFP16Config``."""


def _as_int(value: Any) -> int | None:
    """``int(value)`` as DeepSpeed's validator tries it, then pydantic's int."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return None
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _loss_scale(value: Any) -> str | None:
    """``_validate_loss_scale``'s message for a value, else ``None``."""
    if isinstance(value, bool):
        return "fp16.loss_scale must be a number, not bool"
    parsed = number(value)
    if parsed is None:
        return "fp16.loss_scale must be a number"
    if not math.isfinite(parsed):
        return "fp16.loss_scale must be a finite number (not inf/-inf/nan)"
    if parsed < 0:
        return "fp16.loss_scale must be >= 0 (0 enables dynamic loss scaling)"
    return None


def _problems(fp16: Mapping[str, Any], dynamic: bool) -> Iterator[tuple[str, str]]:
    """(field, DeepSpeed's message) for each value the fp16 section refuses."""
    if "loss_scale" in fp16 and fp16["loss_scale"] != AUTO:
        message = _loss_scale(fp16["loss_scale"])
        if message is not None:
            yield "loss_scale", message
    for field in _POSITIVE:
        if field not in fp16 or fp16[field] == AUTO:
            continue
        value = fp16[field]
        if isinstance(value, bool):
            yield field, f"fp16.{field} must be an integer, not bool"
            continue
        if isinstance(value, float) and not math.isfinite(value):
            yield field, f"fp16.{field} must be a finite number (not inf/-inf/nan)"
            continue
        parsed = _as_int(value)
        if parsed is None:
            yield field, f"fp16.{field} must be an integer"
        elif dynamic and parsed <= 0:
            yield (
                field,
                f"fp16.{field} must be > 0 when dynamic loss scaling is enabled "
                "(loss_scale=0)",
            )
    for field in _INTEGERS:
        if field in fp16 and fp16[field] != AUTO and _as_int(fp16[field]) is None:
            yield field, f"fp16.{field} must be an integer"


class InvalidDeepspeedLossScaling(Rule):
    """DeepSpeed fp16 loss-scaling value that DeepSpeed refuses.

    ## Mechanism
    DeepSpeed validates the `fp16` section with a pydantic model
    (`DeepSpeedFP16Config`) when the engine starts, whether or not fp16 is
    enabled, after dropping values written as `"auto"`. The job stops on
    every rank with a validation error for:

    - `loss_scale` that is a boolean, not a number, infinite or NaN, or
      negative: `fp16.loss_scale must be >= 0 (0 enables dynamic loss
      scaling)` and its siblings (DeepSpeed 0.18.8 and later; 0 means
      dynamic scaling, any positive value a static scale);
    - `loss_scale_window` or `min_loss_scale` that is a boolean or not an
      integer, and, while fp16 is enabled with dynamic scaling, one that is 0
      or negative: `fp16.loss_scale_window must be > 0 when dynamic loss
      scaling is enabled (loss_scale=0)` (DeepSpeed 0.19.3 and later; before,
      a window of 0 raised `ZeroDivisionError` in the scaler's
      `stable_interval % scale_window` after the first clean steps);
    - `initial_scale_power` or `hysteresis` that is not an integer.

    A large `initial_scale_power` is valid: the default 16 already gives an
    initial scale of 65536, above fp16's maximum of 65504, because the scale
    multiplies the fp32 loss and dynamic scaling lowers it after an overflow.

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
          "fp16": {"enabled": true, "loss_scale": -1, "loss_scale_window": 0}
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
          "fp16": {"enabled": true, "loss_scale": 0, "loss_scale_window": 1000}
        }
    ```

    ## References
    - deepspeed/runtime/precision_config.py (`DeepSpeedFP16Config`:
      `_validate_loss_scale`, `_reject_non_integer_scale_params`,
      `_validate_dynamic_loss_scale_params`)
    - https://github.com/deepspeedai/DeepSpeed/pull/7889 and
      https://github.com/deepspeedai/DeepSpeed/pull/8050
    - https://www.deepspeed.ai/docs/config-json/#fp16-training-options
    """

    code = "TRN012"
    name = "invalid-deepspeed-loss-scaling"
    severity = Severity.ERROR
    mechanism = "mixed-precision-bf16-vs-fp16"
    kinds = frozenset({"ConfigMap"})
    requires = frozenset({DEEPSPEED_CONFIG})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for key, data in precision_configs(resource):
            sections = deepspeed_precision(data)
            fp16 = sections.fp16
            if fp16 is None:
                continue
            dynamic = bool(sections.fp16_enabled) and sections.loss_scale == 0
            for field, message in _problems(fp16, dynamic):
                yield self.finding(
                    resource,
                    f"{key}: fp16.{field} is {shown(fp16[field])}: DeepSpeed "
                    f'refuses the config ("{message}")',
                    path=("data", key),
                )
