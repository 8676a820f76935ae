"""The ZeRO section of a DeepSpeed config, read the way DeepSpeed reads it.

DeepSpeed validates ``zero_optimization`` with pydantic models
(``deepspeed/runtime/zero/config.py``, ``DeepSpeedZeroConfig``, and
``offload_config.py``) in lax mode, after dropping every key whose value is
the string ``"auto"`` (``DeepSpeedConfigModel.__init__`` in
``deepspeed/runtime/config_utils.py``; the Hugging Face Trainer and Accelerate
fill some of those in first, so ``"auto"`` is unknown here):

- ``stage``: ``ZeroStageEnum`` 0 to 3, default 0. ``3``, ``"3"`` and ``3.0``
  all give stage 3. The deprecated form ``"zero_optimization": true`` means
  stage 1 and ``false`` stage 0 (``read_zero_config_deprecated``).
- ``offload_optimizer`` and ``offload_param``: ``device`` is ``none``, ``cpu``
  or ``nvme`` (default ``none``, case-sensitive), ``nvme_path`` (default
  none), ``pin_memory`` (default ``true`` since DeepSpeed 0.19.5, ``false``
  before), and for the optimizer ``ratio`` (default 1.0, between 0 and 1).
- the deprecated booleans ``cpu_offload`` (becomes
  ``offload_optimizer: {device: cpu}``) and ``cpu_offload_param`` (becomes
  ``offload_param: {device: cpu}``); ``cpu_offload_use_pin_memory`` only logs a
  warning and sets nothing. A deprecated key given together with the key that
  replaces it, whatever the values, fails an assertion
  (``_process_deprecated_field``): ``Cannot provide deprecated parameter
  'cpu_offload' and replacing parameter 'offload_optimizer' together``.
  ``stage3_gather_fp16_weights_on_model_save`` and
  ``stage3_gather_16bit_weights_on_model_save`` are such a pair too.

Anything DeepSpeed would refuse, or that is ``"auto"``, reads as unknown
(``None``) so that checks stay silent on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.training import deepspeed_configs

ZERO = "zero_optimization"
OPTIMIZER = "offload_optimizer"
PARAM = "offload_param"
NONE, CPU, NVME = "none", "cpu", "nvme"
DEVICES = frozenset({NONE, CPU, NVME})
AUTO = "auto"
PIN_MEMORY_DEFAULT_SINCE = "0.19.5"
"""DeepSpeed release whose offload ``pin_memory`` default became true (commit
7dfa67aea, "pinned offload buffers by default")."""

DEPRECATED_PAIRS = (
    ("cpu_offload_param", PARAM),
    ("cpu_offload", OPTIMIZER),
    (
        "stage3_gather_fp16_weights_on_model_save",
        "stage3_gather_16bit_weights_on_model_save",
    ),
)
"""Deprecated ``zero_optimization`` keys and the key that replaces each, in the
order DeepSpeed processes them (``DeepSpeedZeroConfig`` field order)."""
_REPLACEMENT_FIELD = {
    "stage3_gather_16bit_weights_on_model_save": "gather_16bit_weights_on_model_save"
}
"""Field names that differ from the key users write (pydantic aliases)."""


@dataclass(frozen=True, slots=True)
class Offload:
    """One offload section (``offload_optimizer`` or ``offload_param``)."""

    key: str
    """``offload_optimizer`` or ``offload_param``: what DeepSpeed ends up with."""
    written: str
    """The key as written: the section, or a deprecated ``cpu_offload*`` key."""
    device: str | None
    """``none``, ``cpu`` or ``nvme``; ``None`` when unknown or refused."""
    nvme_path: str | None
    """``None`` when not given (or null)."""
    nvme_path_known: bool
    """False when ``nvme_path`` is ``"auto"`` or not a string."""
    pin_memory_set: bool
    """Whether ``pin_memory`` is written (else the version's default holds)."""
    ratio: float | None
    """``offload_optimizer.ratio`` (1.0 when not given); ``None`` when unknown."""

    @property
    def active(self) -> bool:
        """Whether it offloads at all (``cpu`` or ``nvme``)."""
        return self.device in (CPU, NVME)

    @property
    def deprecated(self) -> bool:
        """Whether it is written as a deprecated ``cpu_offload*`` boolean."""
        return self.written != self.key

    def field(self, name: str) -> str:
        """``zero_optimization.offload_optimizer.device`` for messages."""
        if self.deprecated:
            return f"{ZERO}.{self.written}"
        return f"{ZERO}.{self.key}.{name}"

    def setting(self) -> str:
        """``zero_optimization.offload_param.device is 'cpu'`` for messages."""
        if self.deprecated:
            return f"{ZERO}.{self.written} is true"
        return f"{ZERO}.{self.key}.device is {self.device!r}"


@dataclass(frozen=True, slots=True)
class ZeroConfig:
    """What DeepSpeed makes of a config's ``zero_optimization``."""

    stage: int | None
    """0 to 3; ``None`` when unknown (``"auto"``, a placeholder, refused)."""
    stage_source: str
    """How the stage is set, for messages."""
    optimizer: Offload | None
    param: Offload | None
    section: Mapping[str, Any]
    conflicts: tuple[tuple[str, str], ...]
    """Deprecated keys given together with their replacement (an assertion)."""

    @property
    def offloads(self) -> tuple[Offload, ...]:
        """The offload sections that are present."""
        return tuple(o for o in (self.optimizer, self.param) if o is not None)


def _stage(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    number: Any = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    if isinstance(number, float):
        if not number.is_integer():
            return None
        number = int(number)
    if isinstance(number, int) and 0 <= number <= 3:
        return number
    return None


def _ratio(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if 0.0 <= number <= 1.0 else None


def _section(zero: Mapping[str, Any], key: str) -> Offload | None:
    if key not in zero:
        return None
    raw = zero[key]
    if raw is None or raw == AUTO:
        return None  # null is no offload; "auto" is dropped by DeepSpeed
    if not isinstance(raw, Mapping):
        return Offload(key, key, None, None, False, False, None)
    device = raw.get("device", NONE)
    path = raw.get("nvme_path")
    ratio: float | None = 1.0
    if "ratio" in raw and raw.get("ratio") != AUTO:
        ratio = _ratio(raw.get("ratio"))
    return Offload(
        key=key,
        written=key,
        device=device if isinstance(device, str) and device in DEVICES else None,
        nvme_path=path if isinstance(path, str) and path != AUTO else None,
        nvme_path_known=path is None or (isinstance(path, str) and path != AUTO),
        pin_memory_set="pin_memory" in raw and raw.get("pin_memory") != AUTO,
        ratio=ratio,
    )


def _deprecated(zero: Mapping[str, Any], old: str, key: str) -> Offload | None:
    """``cpu_offload: true`` and ``cpu_offload_param: true``."""
    value = zero.get(old)
    if value is True:
        return Offload(key, old, CPU, None, True, False, 1.0)
    if value is False or value is None:
        return None
    return Offload(key, old, None, None, True, False, None)


def _valid(value: Any) -> bool:
    """A value of a shape those keys accept (else validation fails first)."""
    return value is None or isinstance(value, bool | Mapping)


def _conflicts(zero: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    found = []
    for old, new in DEPRECATED_PAIRS:
        if old in zero and new in zero and _valid(zero[old]) and _valid(zero[new]):
            found.append((old, new))
    return tuple(found)


def read_zero_config(data: Mapping[str, Any]) -> ZeroConfig | None:
    """The ZeRO settings of a DeepSpeed config; ``None`` for a shape DeepSpeed refuses.

    Args:
        data: The parsed DeepSpeed JSON config.

    Returns:
        The stage, the offload sections and the deprecated-key conflicts.
    """
    raw = data.get(ZERO) if ZERO in data else {}
    if isinstance(raw, bool):
        level = 1 if raw else 0
        return ZeroConfig(
            level, f"{ZERO}: {str(raw).lower()} (stage {level})", None, None, {}, ()
        )
    if not isinstance(raw, Mapping):
        return None
    zero: Mapping[str, Any] = raw
    if "stage" not in zero:
        stage: int | None = 0
        source = f"no {ZERO}.stage (DeepSpeed's default, stage 0)"
    else:
        stage = _stage(zero.get("stage"))
        source = f"{ZERO}.stage {zero.get('stage')!r}"
    conflicts = _conflicts(zero)
    optimizer = _section(zero, OPTIMIZER)
    if optimizer is None and not any(new == OPTIMIZER for _, new in conflicts):
        optimizer = _deprecated(zero, "cpu_offload", OPTIMIZER)
    param = _section(zero, PARAM)
    if param is None and not any(new == PARAM for _, new in conflicts):
        param = _deprecated(zero, "cpu_offload_param", PARAM)
    return ZeroConfig(
        stage=stage,
        stage_source=source,
        optimizer=optimizer,
        param=param,
        section=zero,
        conflicts=conflicts,
    )


def replacement_field(key: str) -> str:
    """The pydantic field a replacing key sets (DeepSpeed names it in its error)."""
    return _REPLACEMENT_FIELD.get(key, key)


_MEMO = "zero_config.configmaps"


def zero_configs(
    configmap: Resource, graph: ObjectGraph
) -> tuple[tuple[str, ZeroConfig], ...]:
    """The DeepSpeed configs of a ConfigMap that DeepSpeed can read, by key.

    Parsed once per ConfigMap for all rules: the cache lives as long as the
    graph, which keeps the manifest (and so its ``id()``) alive.
    """
    if configmap.kind != "ConfigMap":
        return ()
    memo: dict[int, tuple[tuple[str, ZeroConfig], ...]] = graph.derived(
        _MEMO, lambda _: {}
    )
    key = id(configmap.raw)
    found = memo.get(key)
    if found is None:
        found = tuple(
            (name, zero)
            for name, data in deepspeed_configs(configmap)
            if (zero := read_zero_config(data)) is not None
        )
        memo[key] = found
    return found
