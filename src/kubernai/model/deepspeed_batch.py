"""DeepSpeed's batch keys, and the workloads that pass a DeepSpeed config.

DeepSpeed (``deepspeed/runtime/config.py``, ``DeepSpeedConfig``) reads
``train_batch_size``, ``train_micro_batch_size_per_gpu`` and
``gradient_accumulation_steps``; a key that is absent or ``null`` is not given.
It fills in the missing ones with integer division by the data-parallel size
(``_set_batch_related_parameters``) and then asserts that
``train_batch_size == micro x accumulation x world size``, each above 0
(``_batch_assertion``). With ``elasticity.enabled`` the elastic section
computes all three instead.

The Hugging Face Trainer (``transformers/integrations/deepspeed.py``,
``HfTrainerDeepSpeedConfig.fill_match``) and Accelerate replace the value
``"auto"`` with their own arguments; nothing else is filled in, so ``"auto"``
is unknown here rather than wrong.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Path, Resource
from kubernai.model.training import (
    DeepSpeedConfig,
    Launch,
    deepspeed_config_of,
    deepspeed_configs,
    launches,
    mounted_file,
)
from kubernai.model.workload import PodTemplate

TRAIN = "train_batch_size"
MICRO = "train_micro_batch_size_per_gpu"
ACCUM = "gradient_accumulation_steps"
BATCH_KEYS = (TRAIN, MICRO, ACCUM)
AUTO = "auto"
HF_OPTION = "--deepspeed"
"""The option of the Hugging Face ``TrainingArguments`` (and of DeepSpeed's own
``add_config_arguments``, where it is a flag next to ``--deepspeed_config``)."""

_DEEPSPEED_ONLY = frozenset(
    {
        "zero_optimization",
        "train_micro_batch_size_per_gpu",
        "zero_allow_untested_optimizer",
        "zero_force_ds_cpu_optimizer",
        "gradient_clipping",
        "steps_per_print",
        "wall_clock_breakdown",
        "elasticity",
        "activation_checkpointing",
        "flops_profiler",
        "communication_data_type",
    }
)
"""Top-level keys of a DeepSpeed config that other training configs do not use."""
_TRAINING_ARGUMENTS = frozenset({"output_dir", "per_device_train_batch_size"})
"""Keys of a Hugging Face ``TrainingArguments`` JSON, which also holds
``gradient_accumulation_steps``."""


def is_deepspeed_config(data: Mapping[str, Any]) -> bool:
    """Whether a JSON object is a DeepSpeed config (not some other trainer's)."""
    if _TRAINING_ARGUMENTS & data.keys():
        return False
    if _DEEPSPEED_ONLY & data.keys():
        return True
    return any(
        isinstance(data.get(section), Mapping) and "enabled" in data[section]
        for section in ("fp16", "bf16")
    )


def elasticity_enabled(data: Mapping[str, Any]) -> bool:
    """DeepSpeed's ``elasticity_enabled``: ``elasticity.enabled`` (default false)."""
    section = data.get("elasticity")
    return isinstance(section, Mapping) and section.get("enabled") is True


def batch_int(value: Any) -> int | None:
    """A batch key's value as DeepSpeed uses it: an integral number, else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


@dataclass(frozen=True, slots=True)
class BatchKeys:
    """The three batch keys of a config: numbers, ``"auto"`` and the rest."""

    values: Mapping[str, int]
    """The keys set to an integral number."""
    auto: frozenset[str]
    """The keys set to ``"auto"``."""
    other: frozenset[str]
    """The keys set to anything else (a placeholder, a string, a list...)."""

    @property
    def train(self) -> int | None:
        """``train_batch_size`` if a number."""
        return self.values.get(TRAIN)

    @property
    def micro(self) -> int | None:
        """``train_micro_batch_size_per_gpu`` if a number."""
        return self.values.get(MICRO)

    @property
    def accum(self) -> int | None:
        """``gradient_accumulation_steps`` if a number."""
        return self.values.get(ACCUM)

    @property
    def readable(self) -> bool:
        """Every key given is a number: DeepSpeed sees exactly these values."""
        return not self.auto and not self.other

    @property
    def positive(self) -> bool:
        """Every number given is above 0 (else the config is invalid on its own)."""
        return all(value > 0 for value in self.values.values())

    def describe(self) -> str:
        """``train_batch_size 64, train_micro_batch_size_per_gpu 4`` for messages."""
        return ", ".join(
            f"{k} {self.values[k]}" for k in BATCH_KEYS if k in self.values
        )


def batch_keys(data: Mapping[str, Any]) -> BatchKeys:
    """The batch keys of a DeepSpeed config."""
    values: dict[str, int] = {}
    auto, other = set(), set()
    for key in BATCH_KEYS:
        raw = data.get(key)
        if raw is None:
            continue
        number = batch_int(raw)
        if number is not None:
            values[key] = number
        elif raw == AUTO:
            auto.add(key)
        else:
            other.add(key)
    return BatchKeys(values=values, auto=frozenset(auto), other=frozenset(other))


def derivation(train: int, micro: int | None, accum: int | None, size: int) -> str:
    """DeepSpeed's integer division for the keys a config leaves out, spelled out.

    ``train`` is ``train_batch_size``; at most one of ``micro`` and ``accum``
    is given; ``size`` is the data-parallel world size.
    """
    if micro is not None:
        return f"{ACCUM} = {train} // {micro} // {size} = {train // micro // size}"
    if accum is not None:
        return f"{MICRO} = {train} // {size} // {accum} = {train // size // accum}"
    return f"{MICRO} = {train} // {size} = {train // size} (and {ACCUM} 1)"


@dataclass(frozen=True, slots=True)
class DeepSpeedLaunch:
    """A launch whose script gets a DeepSpeed config that is in the input."""

    template: PodTemplate
    launch: Launch
    config: DeepSpeedConfig
    where: Path
    """The script option that passes the config (``--deepspeed``...)."""
    option: str
    """``--deepspeed`` or ``--deepspeed_config``."""

    @property
    def source(self) -> str:
        """``ConfigMap ds-config key ds.json`` for messages."""
        return f"ConfigMap {self.config.configmap.name} key {self.config.key}"


def _fallback(
    resource: Resource, template: PodTemplate, launch: Launch, graph: ObjectGraph
) -> tuple[DeepSpeedConfig, Path] | None:
    """``--deepspeed --deepspeed_config ds.json``: DeepSpeed's flag, then the path."""
    value, where = launch.script_option("--deepspeed_config")
    if not value or where is None or value.startswith("-"):
        return None
    found = mounted_file(resource, template, launch.container, value, graph)
    if found is None:
        return None
    configmap, key = found
    for name, data in deepspeed_configs(configmap):
        if name == key:
            return DeepSpeedConfig(data=data, configmap=configmap, key=key), where
    return None


def deepspeed_launches(
    resource: Resource, graph: ObjectGraph
) -> Iterator[DeepSpeedLaunch]:
    """Launches of ``resource`` that pass a DeepSpeed config held in the input."""
    for template in resource.templates:
        for launch in launches(template):
            found = deepspeed_config_of(resource, template, launch, graph)
            if found is None:
                found = _fallback(resource, template, launch, graph)
            if found is None:
                continue
            config, where = found
            _, hf_where = launch.script_option(HF_OPTION)
            option = HF_OPTION if hf_where == where else "--deepspeed_config"
            yield DeepSpeedLaunch(
                template=template,
                launch=launch,
                config=config,
                where=where,
                option=option,
            )
