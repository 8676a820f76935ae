"""The ``fp16`` and ``bf16`` sections of a DeepSpeed config, read as DeepSpeed does.

DeepSpeed (``deepspeed/runtime/precision_config.py``, ``config.py``) reads an
``fp16`` section and a ``bf16`` section; the legacy key ``bfloat16`` is used
when ``bf16`` is absent (``get_bfloat16_config``). Since DeepSpeed 0.17.1 both
are pydantic models (``DeepSpeedFP16Config``, ``DeepSpeedBF16Config``) that
first drop every value ``"auto"`` (the Hugging Face Trainer and Accelerate fill
those in from their own arguments) and coerce ``enabled`` like pydantic's lax
``bool``; before, the raw values were used. ``fp16.loss_scale`` 0 (the
default) means dynamic loss scaling, any positive value a static scale
(``DeepSpeedEngine.dynamic_loss_scale``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernai.model.deepspeed_batch import is_deepspeed_config
from kubernai.model.resource import Resource, get_map, get_str
from kubernai.model.workload import memoised

BF16, FP16, FP8 = "bf16", "fp16", "fp8"
AUTO = "auto"
"""The placeholder DeepSpeed drops and the Hugging Face Trainer fills in."""
_PYDANTIC_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_PYDANTIC_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
"""Strings pydantic's lax ``bool`` accepts (case-insensitive)."""
_LAMB = frozenset({"lamb", "onebitlamb"})
_MARKERS = ('"fp16"', '"bf16"', '"bfloat16"')


def pydantic_bool(value: Any) -> bool | None:
    """Pydantic's lax ``bool``; ``None`` for ``"auto"`` or anything it refuses."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.lower()
        if lowered in _PYDANTIC_TRUE:
            return True
        if lowered in _PYDANTIC_FALSE:
            return False
    return None


def number(value: Any) -> float | None:
    """A JSON number or numeric string as ``float()`` reads it; ``None`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except (ValueError, OverflowError):
        return None


def shown(value: Any) -> str:
    """A config value as JSON writes it (``true``, ``"auto"``, ``128``)."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


@dataclass(frozen=True, slots=True)
class DeepSpeedPrecision:
    """The ``fp16`` and ``bf16`` sections of a DeepSpeed config."""

    fp16: Mapping[str, Any] | None
    """The ``fp16`` section when it is a mapping."""
    bf16_key: str
    """``bf16``, or the legacy ``bfloat16`` when ``bf16`` is absent."""
    bf16: Mapping[str, Any] | None

    @property
    def fp16_enabled(self) -> bool | None:
        """``fp16.enabled``: ``None`` when ``"auto"`` or unreadable."""
        return _enabled(self.fp16)

    @property
    def bf16_enabled(self) -> bool | None:
        """``bf16.enabled`` (or ``bfloat16.enabled``), read the same way."""
        return _enabled(self.bf16)

    def written(self, section: str, key: str = "enabled") -> str:
        """A value of the ``fp16`` or bf16 section as JSON, for messages."""
        found = self.fp16 if section == FP16 else self.bf16
        return shown(found.get(key) if found is not None else None)

    @property
    def fp16_auto(self) -> bool:
        """Whether ``fp16.enabled`` is ``"auto"`` (the Trainer decides)."""
        return self.fp16 is not None and self.fp16.get("enabled") == AUTO

    @property
    def loss_scale(self) -> float | None:
        """``fp16.loss_scale`` when a valid number (0, the default, is dynamic)."""
        if self.fp16 is None or self.fp16.get("loss_scale", AUTO) == AUTO:
            return 0.0
        value = number(self.fp16.get("loss_scale"))
        if value is None or not math.isfinite(value) or value < 0:
            return None
        return value


def _enabled(section: Mapping[str, Any] | None) -> bool | None:
    if section is None or "enabled" not in section:
        return False
    value = section.get("enabled")
    if value == AUTO:
        return None
    return pydantic_bool(value)


def is_lamb(data: Mapping[str, Any]) -> bool:
    """Whether ``optimizer.type`` is DeepSpeed's ``Lamb`` or ``OneBitLamb``.

    ``LAMB_OPTIMIZER`` and ``ONEBIT_LAMB_OPTIMIZER`` in
    ``deepspeed/runtime/config.py``; DeepSpeed lower-cases its own optimizers'
    names.
    """
    return get_str(data, "optimizer", "type").lower() in _LAMB


def deepspeed_precision(data: Mapping[str, Any]) -> DeepSpeedPrecision:
    """The precision sections of a DeepSpeed config, as DeepSpeed picks them."""
    fp16 = data.get("fp16")
    bf16_key = "bf16" if data.get("bf16") is not None else "bfloat16"
    bf16 = data.get(bf16_key)
    return DeepSpeedPrecision(
        fp16=fp16 if isinstance(fp16, Mapping) else None,
        bf16_key=bf16_key,
        bf16=bf16 if isinstance(bf16, Mapping) else None,
    )


def precision_configs(configmap: Resource) -> tuple[tuple[str, Mapping[str, Any]], ...]:
    """ConfigMap keys holding a DeepSpeed config with an fp16 or bf16 section.

    Parsed once per ConfigMap.
    """
    if configmap.kind != "ConfigMap":
        return ()
    return memoised(configmap, "precision_configs", lambda: _configs(configmap))


def _configs(configmap: Resource) -> tuple[tuple[str, Mapping[str, Any]], ...]:
    found = []
    for key, text in get_map(configmap.raw, "data").items():
        if not isinstance(key, str) or not isinstance(text, str):
            continue
        if not any(marker in text for marker in _MARKERS):
            continue
        try:
            data = json.loads(text)
        except ValueError:
            continue
        if isinstance(data, dict) and is_deepspeed_config(data):
            found.append((key, data))
    return tuple(found)
