"""What ZeRO's memory arithmetic needs from a training workload, when it is certain.

DeepSpeed's estimators (``estimate_zero2_model_states_mem_needs`` and
``estimate_zero3_model_states_mem_needs``, in ``kubernai.calc.zero``) count the
model states of full training with mixed-precision Adam: 16-bit parameters and
gradients and 12 bytes of fp32 optimizer state per parameter. The numbers are
a floor for a run only when all of the following hold, so anything else gives
no inputs here:

- the model is named: the script's ``--model_name_or_path`` (the rules look it
  up in the model catalog, since the model layer cannot import the
  calculators);
- every parameter is trained: nothing on the script's command line mentions
  LoRA, PEFT, adapters, 4/8-bit loading, quantization or freezing, and a
  LLaMA-Factory command line (``--stage``) sets ``--finetuning_type full``
  (its default is ``lora``);
- the optimizer keeps two fp32 states per parameter: the DeepSpeed config's
  ``optimizer.type`` is Adam, AdamW or Lamb (or a 1-bit variant), or the config
  has none and the script is a Hugging Face Trainer (``--deepspeed <config>``)
  whose ``--optim`` is unset (AdamW) or a plain AdamW;
- no precision option shrinks the states (``bf16.bf16_optimizer_states``,
  ``bf16.bf16_master_weights_and_grads``, ``fp16.fp16_master_weights_and_grads``);
- the number of processes is known (``kubernai.model.world_size``) and no
  tensor, pipeline or sequence parallelism divides them, and the config has
  no ``expert_parallel`` section (experts split over GPUs hold fewer
  parameters per GPU than the estimators count).

For an elastic job the largest node count is used: it gives the smallest share
per GPU and per pod, so the checks stay on the safe side.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kubernai.model.deepspeed_batch import (
    HF_OPTION,
    DeepSpeedLaunch,
    deepspeed_launches,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.kv_cache_inputs import GpuChoice, gpu_choice, gpu_count
from kubernai.model.resource import Path, Resource, get_map, get_str
from kubernai.model.training import Launch
from kubernai.model.world_size import deepspeed_world_size, launch_world_size
from kubernai.model.zero_config import ZeroConfig, read_zero_config

MODEL_OPTION = "--model_name_or_path"
ADAM_TYPES = frozenset(
    {"adam", "adamw", "lamb", "onebitadam", "zerooneadam", "onebitlamb"}
)
"""DeepSpeed ``optimizer.type`` values (lower-cased, as DeepSpeed compares them)
whose state is two fp32 tensors per parameter, plus the fp32 master copy."""
HF_ADAMW = frozenset(
    {"adamw_torch", "adamw_torch_fused", "adamw_hf", "adamw_apex_fused"}
)
"""Hugging Face ``--optim`` values for plain fp32 AdamW."""
_PARTIAL_MARKS = (
    "lora",
    "peft",
    "adapter",
    "4bit",
    "8bit",
    "4-bit",
    "8-bit",
    "quant",
    "freeze",
    "frozen",
    "prefix-tuning",
    "prefix_tuning",
    "p-tuning",
    "p_tuning",
    "prompt-tuning",
    "prompt_tuning",
    "ia3",
)
"""Words on a command line that mean not every parameter is trained in 16 bits."""
_STATE_SHRINKERS = (
    ("bf16", "bf16_optimizer_states"),
    ("bf16", "bf16_master_weights_and_grads"),
    ("bfloat16", "bf16_optimizer_states"),
    ("bfloat16", "bf16_master_weights_and_grads"),
    ("fp16", "fp16_master_weights_and_grads"),
)


@dataclass(frozen=True, slots=True)
class ZeroRun:
    """A launch that passes a DeepSpeed config, with its ZeRO settings."""

    template_launch: DeepSpeedLaunch
    zero: ZeroConfig

    @property
    def launch(self) -> Launch:
        """The launcher invocation."""
        return self.template_launch.launch

    @property
    def where(self) -> Path:
        """The script option that passes the config."""
        return self.template_launch.where

    @property
    def source(self) -> str:
        """``ConfigMap ds-config key ds.json`` for messages."""
        return self.template_launch.source

    @property
    def data(self) -> Mapping[str, Any]:
        """The whole DeepSpeed config."""
        return self.template_launch.config.data


@dataclass(frozen=True, slots=True)
class ZeroShape:
    """A run whose model, optimizer and process count are all certain."""

    run: ZeroRun
    model: str
    """The script's ``--model_name_or_path``."""
    pods: int
    """Pods (nodes, in DeepSpeed's terms) at the largest size of the job."""
    per_pod: int
    """Processes per pod, each with one GPU."""
    how: str
    """How the manifest sets the processes, for messages."""

    @property
    def processes(self) -> int:
        """Processes in all (DeepSpeed's data-parallel size)."""
        return self.pods * self.per_pod


def zero_runs(resource: Resource, graph: ObjectGraph) -> Iterator[ZeroRun]:
    """Launches of ``resource`` that pass a DeepSpeed config held in the input."""
    for found in deepspeed_launches(resource, graph):
        zero = read_zero_config(found.config.data)
        if zero is not None:
            yield ZeroRun(template_launch=found, zero=zero)


def _option(launch: Launch, name: str) -> str | None:
    value, where = launch.script_option(name)
    return value if where is not None else None


def trains_every_parameter(launch: Launch) -> bool:
    """Whether nothing on the script's command line points to partial training."""
    for token in launch.script_args:
        text = token.text.lower()
        if any(mark in text for mark in _PARTIAL_MARKS):
            return False
    if launch.script_option("--stage")[1] is not None or "llamafactory" in (
        launch.script.lower().replace("_", "").replace("-", "")
    ):
        return (_option(launch, "--finetuning_type") or "").strip() == "full"
    return True


def uses_adam(found: DeepSpeedLaunch) -> bool:
    """Whether the optimizer keeps Adam's fp32 states (see the module docstring)."""
    section = found.config.data.get("optimizer")
    if section is not None:
        kind = get_str(section, "type").lower()
        return kind in ADAM_TYPES
    if found.option != HF_OPTION:
        return False  # not the Hugging Face Trainer: the script's optimizer is unknown
    optim = _option(found.launch, "--optim")
    return optim is None or optim.strip().lower() in HF_ADAMW


def keeps_full_states(data: Mapping[str, Any]) -> bool:
    """Whether no precision option shrinks the master weights or optimizer states."""
    for section, key in _STATE_SHRINKERS:
        value = get_map(data, section).get(key)
        if value is not None and value is not False and value != "false":
            return False
    return True


def model_name(launch: Launch) -> str | None:
    """The script's ``--model_name_or_path``, if given."""
    name = _option(launch, MODEL_OPTION)
    return name.strip() if name and name.strip() else None


def zero_shape(
    resource: Resource, run: ZeroRun, graph: ObjectGraph
) -> ZeroShape | None:
    """The model and process count of a run; ``None`` unless all are certain."""
    launch = run.launch
    model = model_name(launch)
    if model is None:
        return None
    if not trains_every_parameter(launch) or not uses_adam(run.template_launch):
        return None
    if not keeps_full_states(run.data) or "expert_parallel" in run.data:
        return None
    template = run.template_launch.template
    world = deepspeed_world_size(
        launch_world_size(resource, template, launch, graph), run.data
    )
    if world is None or world.divisor != 1 or world.per_node is None:
        return None
    pods = world.nodes[1]
    if pods < 1 or world.per_node < 1:
        return None
    return ZeroShape(
        run=run, model=model, pods=pods, per_pod=world.per_node, how=world.how
    )


def gpu_products(
    resource: Resource, run: ZeroRun, graph: ObjectGraph
) -> GpuChoice | None:
    """The GPU products the run's pods may land on, when named exactly.

    ``None`` when the container requests no whole NVIDIA GPU or nothing names
    the products.
    """
    if gpu_count(run.launch.container) < 1:
        return None
    choice = gpu_choice(resource, run.template_launch.template, graph.facts)
    if choice is None or not choice.products:
        return None
    return choice
