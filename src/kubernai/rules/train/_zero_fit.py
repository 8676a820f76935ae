"""Shared by the ZeRO memory rules (TRN035, TRN036): model states against memory.

Not a rule. It turns what ``kubernai.model.zero_memory`` reads from a manifest
(the script's model, the process count, the ZeRO settings) into runs of the
ZeRO calculator (``kubernai.calc.zero``), for catalog models only. The model
layer cannot import the calculators (layers contract), so this glue lives next
to the rules that use it.

- ``gpu_states``: model states per GPU. Stages 2 and 3 use DeepSpeed's own
  estimators, stages 0 and 1 the ZeRO paper's figures (DeepSpeed has no stage-1
  estimator; with optimizer offload its stage-2 estimator, which it documents
  for stages 1 and 2, gives the 16-bit parameters alone). For stage 3 the
  largest layer is taken as the input embedding (vocabulary x hidden), which
  no module of a decoder LLM is smaller than, so the figure stays a floor.
  Offloading to NVMe frees the GPU as offloading to the CPU does.
- ``cpu_floor``: host memory a pod needs for what ZeRO offloads to the CPU:
  16 bytes per parameter of its share of the optimizer (fp32 master weights,
  fp32 gradients, Adam momentum and variance; stage 1 and 2 offload to the CPU
  even with ``device: nvme``) and 2 bytes per parameter of its share of the
  16-bit parameters (stage-3 ``offload_param`` to the CPU). A pod holds
  ``1 / pods`` of them. DeepSpeed's estimators add a 1.5 buffer factor (and,
  for ZeRO-2, count every process's fp32 copy of the model); their figure is
  shown for reference only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kubernai.calc.catalog import Gpu, ModelArch, find_gpu, find_model
from kubernai.calc.zero import (
    DEEPSPEED_VERSION,
    deepspeed_zero2_estimate,
    deepspeed_zero3_estimate,
    estimate,
)
from kubernai.errors import InputError
from kubernai.model.graph import ObjectGraph
from kubernai.model.kv_cache_inputs import GpuChoice
from kubernai.model.resource import Resource
from kubernai.model.zero_config import CPU, NVME, ZeroConfig
from kubernai.model.zero_memory import (
    ZeroRun,
    ZeroShape,
    gpu_products,
    zero_runs,
    zero_shape,
)

OPTIMIZER_CPU_BYTES = 16
"""fp32 master weights, fp32 gradients, Adam momentum and variance."""
PARAM_CPU_BYTES = 2
"""16-bit parameters (stage-3 parameter offload)."""


@dataclass(frozen=True, slots=True)
class ZeroFit:
    """A run with a catalog model, a known process count and a known stage."""

    shape: ZeroShape
    model: ModelArch
    stage: int

    @property
    def run(self) -> ZeroRun:
        """The launch and its config."""
        return self.shape.run

    @property
    def zero(self) -> ZeroConfig:
        """The ZeRO settings."""
        return self.shape.run.zero

    def describe_model(self) -> str:
        """``meta-llama/Llama-3.1-8B (8,030,000,000 parameters)``."""
        return f"{self.model.id} ({self.model.params:,} parameters)"

    def describe_processes(self) -> str:
        """``16 GPUs (torchrun ...)``."""
        return f"{self.shape.processes} GPU(s) ({self.shape.how})"


def zero_fits(resource: Resource, graph: ObjectGraph) -> Iterator[ZeroFit]:
    """The runs of ``resource`` whose model states can be counted."""
    for run in zero_runs(resource, graph):
        stage = run.zero.stage
        if stage is None:
            continue
        shape = zero_shape(resource, run, graph)
        if shape is None:
            continue
        model = find_model(shape.model)
        if model is None or model.params < 1:
            continue
        yield ZeroFit(shape=shape, model=model, stage=stage)


def gpu_of(
    resource: Resource, run: ZeroRun, graph: ObjectGraph
) -> tuple[Gpu, GpuChoice] | None:
    """The catalog GPU with the most memory among those the pods may land on."""
    choice = gpu_products(resource, run, graph)
    if choice is None:
        return None
    found = [find_gpu(product) for product in choice.products]
    gpus = [gpu for gpu in found if gpu is not None]
    if not gpus or len(gpus) != len(found):
        return None
    return max(gpus, key=lambda gpu: gpu.memory_mib), choice


def largest_layer_params(model: ModelArch) -> int | None:
    """The input embedding's parameters: a floor for the largest module."""
    if model.vocab < 1 or model.hidden < 1:
        return None
    return model.vocab * model.hidden


def gib(count: float) -> str:
    """Bytes as ``12.3 GiB``."""
    return f"{count / 2**30:,.1f} GiB"


@dataclass(frozen=True, slots=True)
class GpuStates:
    """Model states per GPU and where the figure comes from."""

    bytes_per_gpu: int
    source: str
    offload: str
    """``""``, or how the config offloads, for messages."""


def _offloads(fit: ZeroFit) -> tuple[bool, bool] | None:
    """Whether the optimizer and the parameters leave the GPU; ``None``: unknown."""
    optimizer, param = fit.zero.optimizer, fit.zero.param
    if optimizer is not None and optimizer.device is None:
        return None
    if fit.stage == 3 and param is not None and param.device is None:
        return None
    optimizer_on = optimizer is not None and optimizer.active
    param_on = fit.stage == 3 and param is not None and param.active
    return optimizer_on, param_on


def gpu_states(fit: ZeroFit) -> GpuStates | None:
    """Model states per GPU for the run's stage and offload; ``None`` if unknown."""
    offloads = _offloads(fit)
    if offloads is None:
        return None
    optimizer_on, param_on = offloads
    params, stage = fit.model.params, fit.stage
    per_pod, pods = fit.shape.per_pod, fit.shape.pods
    if (stage == 0 and optimizer_on) or (param_on and not optimizer_on):
        return None  # combinations no estimator models
    offload = ""
    if optimizer_on:
        offload = " with the optimizer offloaded"
        if param_on:
            offload = " with the optimizer and the parameters offloaded"
    if stage == 1 and optimizer_on:
        found = deepspeed_zero2_estimate(
            params, gpus_per_node=per_pod, nodes=pods, cpu_offload=True
        )
        return GpuStates(
            found.gpu_bytes_per_gpu,
            f"DeepSpeed {DEEPSPEED_VERSION} estimate_zero2_model_states_mem_needs, "
            "its estimator for stages 1 and 2",
            offload,
        )
    largest = largest_layer_params(fit.model) if stage == 3 else None
    if stage == 3 and largest is None:
        return None
    try:
        result = estimate(
            params,
            stage=stage,
            gpus_per_node=per_pod,
            nodes=pods,
            largest_layer_params=largest,
            cpu_offload=optimizer_on,
            cpu_offload_params=param_on,
        )
    except InputError:
        return None
    return GpuStates(result.gpu_bytes_per_gpu, result.source, offload)


@dataclass(frozen=True, slots=True)
class CpuFloor:
    """Host memory one pod needs for what ZeRO offloads to the CPU."""

    bytes_per_pod: int
    what: str
    """What is counted, for messages."""
    deepspeed_bytes: int | None
    """DeepSpeed's estimate per node (with its buffer factor), when it has one."""


def cpu_floor(fit: ZeroFit) -> CpuFloor | None:
    """The CPU-side offload floor of one pod; ``None`` when nothing is offloaded.

    ``None`` too when the offload is partial (``ratio`` below 1) or unknown.
    """
    optimizer, param = fit.zero.optimizer, fit.zero.param
    stage = fit.stage
    if stage == 0:
        return None
    offloads = _offloads(fit)
    if offloads is None:
        return None
    optimizer_cpu = optimizer is not None and (
        optimizer.device == CPU or (optimizer.device == NVME and stage < 3)
    )
    if optimizer is not None and optimizer_cpu and optimizer.ratio != 1.0:
        return None  # partial offload (or an unreadable ratio)
    param_cpu = stage == 3 and param is not None and param.device == CPU
    per_param = OPTIMIZER_CPU_BYTES * optimizer_cpu + PARAM_CPU_BYTES * param_cpu
    if not per_param:
        return None
    params, pods, per_pod = fit.model.params, fit.shape.pods, fit.shape.per_pod
    parts = []
    if optimizer_cpu:
        parts.append(f"{OPTIMIZER_CPU_BYTES} B of fp32 optimizer state")
    if param_cpu:
        parts.append(f"{PARAM_CPU_BYTES} B of 16-bit parameters")
    what = f"{' + '.join(parts)} per parameter"
    deepspeed: int | None = None
    if optimizer_cpu and stage < 3:
        deepspeed = deepspeed_zero2_estimate(
            params, gpus_per_node=per_pod, nodes=pods, cpu_offload=True
        ).cpu_bytes_per_node
    elif optimizer_cpu:
        deepspeed = deepspeed_zero3_estimate(
            params,
            largest_layer_params(fit.model) or 1,
            gpus_per_node=per_pod,
            nodes=pods,
            cpu_offload=True,
            cpu_offload_params=param_cpu,
            zero_init=True,
        ).cpu_bytes_per_node
    return CpuFloor(per_param * params // pods, what, deepspeed)
