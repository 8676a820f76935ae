"""Shared by the KV-cache sizing rules (SRV050-SRV053): vLLM's memory budget.

Not a rule. It turns the inputs read from a manifest
(``kubernai.model.kv_cache_inputs``) into two runs of the calculator
(``kubernai.calc.kv_cache``), for catalog models and catalog GPUs only:

- ``estimate``: the calculator as is, with its estimates of the activation
  peak and of the memory outside PyTorch, on the device total PyTorch sees;
- ``bound``: the most memory the KV cache could possibly get: the whole
  device as nvidia-smi reports it, times ``gpu_memory_utilization``, minus the
  weights and nothing else (``--kv-cache-memory-bytes`` when given). A cache
  that does not fit in ``bound`` does not fit, whatever the estimates.

The model layer cannot import the calculators (layers contract), so this glue
lives next to the rules that use it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace

from kubernai.calc.catalog import Gpu, ModelArch, find_gpu, find_model, gpus
from kubernai.calc.kv_cache import (
    GIB,
    MIB,
    CalcError,
    KvCacheResult,
    ServeConfig,
    calculate,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.kv_cache_inputs import (
    GpuChoice,
    KvCacheInputs,
    context_length_override,
    kv_cache_inputs,
)
from kubernai.model.resource import Resource

DEFAULT_UTILIZATION = 0.92
"""vLLM's default ``gpu_memory_utilization``: 0.92 in current vLLM, 0.9 before.

The larger one is assumed, so that no finding depends on the version.
"""
_FLOAT_DTYPES = frozenset({"bfloat16", "float16", "float32"})
_HALF_NAMES = frozenset({"auto", "half", "float16", "bfloat16"})


@dataclass(frozen=True, slots=True)
class KvCacheFit:
    """One vLLM server's memory budget, estimated and bounded."""

    inputs: KvCacheInputs
    model: ModelArch
    gpu: Gpu
    utilization: float
    estimate: KvCacheResult
    bound: KvCacheResult
    device_bytes: int
    """The device total as nvidia-smi reports it."""
    usable_bytes: int
    """What vLLM may use: ``ceil(device x utilization)``, or the whole device
    when ``--kv-cache-memory-bytes`` is given."""

    @property
    def kv_bytes_given(self) -> bool:
        """Whether ``--kv-cache-memory-bytes`` fixes the KV budget."""
        return self.inputs.args.kv_cache_memory_bytes is not None

    @property
    def weights_exceed(self) -> bool:
        """The weights alone leave the KV cache nothing."""
        return self.bound.weights_bytes >= self.usable_bytes

    @property
    def needed_bytes(self) -> int:
        """KV cache one request of the maximum length needs on one GPU."""
        bound = self.bound
        return bound.blocks_per_request * bound.page_size_bytes * bound.group_size

    @property
    def parallel(self) -> str:
        """``TP 2`` or ``TP 8 x PP 2``."""
        args = self.inputs.args
        pp = args.pipeline_parallel_size
        return f"TP {args.tensor_parallel_size}" + (f" x PP {pp}" if pp > 1 else "")

    @property
    def where(self) -> str:
        """The model and the GPU, and what names the GPU."""
        choice = self.inputs.gpu
        largest = (
            ", the largest of the products allowed" if len(choice.products) > 1 else ""
        )
        return (
            f"{self.inputs.args.model} on {self.gpu.name} "
            f"({self.gpu.memory_mib:,} MiB, {self.parallel}; GPU from "
            f"{choice.source}{largest})"
        )

    @property
    def budget(self) -> str:
        """How the usable memory was found, with what was assumed."""
        device = self.device_bytes / GIB
        if self.kv_bytes_given:
            return f"the whole {device:.2f} GiB device (--kv-cache-memory-bytes given)"
        if self.inputs.args.gpu_memory_utilization is None:
            setting = "gpu_memory_utilization not set (vLLM's default 0.92 assumed)"
        else:
            setting = f"gpu_memory_utilization {self.utilization:g}"
        return f"{setting} x {device:.2f} GiB = {self.usable_bytes / GIB:.2f} GiB"

    @property
    def overheads(self) -> str:
        """The estimated memory that ``bound`` leaves out."""
        estimate = self.estimate
        total = estimate.activation_estimate_bytes + estimate.non_torch_estimate_bytes
        return (
            f"{total / GIB:.2f} GiB (activation peak of a "
            f"{estimate.max_num_batched_tokens}-token profile run and memory "
            "outside PyTorch, both estimates)"
        )


def _gpu(choice: GpuChoice) -> Gpu | None:
    """The catalog GPU for the choice: exact product strings only.

    Among several allowed products the one with the most memory is used, so
    that a finding holds on every node the pod may land on.
    """
    found: list[Gpu] = []
    by_id = {g.id.lower(): g for g in gpus().values()}
    for product in choice.products:
        gpu = find_gpu(product)
        if gpu is None:
            return None
        exact = product in (gpu.product, gpu.product.removeprefix("NVIDIA-"))
        if choice.configured:
            lowered = product.lower()
            exact = exact or lowered in (gpu.name.lower(), gpu.product.lower())
            exact = exact or by_id.get(lowered) is gpu
        if not exact:
            return None
        found.append(gpu)
    if not found:
        return None
    return max(found, key=lambda g: g.memory_mib)


def _model(inputs: KvCacheInputs) -> ModelArch | None:
    args = inputs.args
    model = find_model(args.model)
    if model is None:
        return None
    listed, context = context_length_override(args.model)
    if listed:
        if context is None:
            if args.max_model_len is None:
                return None  # the default length is not known for this id
        else:
            model = replace(model, max_position_embeddings=context)
    if model.sliding_layers and args.keeps_full_attention:
        return None
    return model


def _config(inputs: KvCacheInputs, model: ModelArch) -> ServeConfig | None:
    args = inputs.args
    dtype = args.dtype
    if model.dtype not in _FLOAT_DTYPES:
        # A quantized checkpoint keeps its weight format; --dtype only sets
        # the activation dtype, which is 16-bit either way.
        if dtype not in _HALF_NAMES:
            return None
        dtype = "auto"
    return ServeConfig(
        max_model_len=args.max_model_len,
        tensor_parallel_size=args.tensor_parallel_size,
        pipeline_parallel_size=args.pipeline_parallel_size,
        dtype=dtype,
        kv_cache_dtype=args.kv_cache_dtype,
        gpu_memory_utilization=args.gpu_memory_utilization or DEFAULT_UTILIZATION,
        block_size=args.block_size,
        max_num_seqs=args.max_num_seqs,
        max_num_batched_tokens=args.max_num_batched_tokens,
        kv_cache_memory_bytes=args.kv_cache_memory_bytes,
    )


def _fit(inputs: KvCacheInputs) -> KvCacheFit | None:
    model = _model(inputs)
    gpu = _gpu(inputs.gpu)
    if model is None or gpu is None:
        return None
    config = _config(inputs, model)
    if config is None:
        return None
    device = gpu.memory_mib * MIB
    try:
        estimate = calculate(model, gpu, config)
        if config.kv_cache_memory_bytes is not None:
            usable = device
            budget = config.kv_cache_memory_bytes
        else:
            usable = math.ceil(device * config.gpu_memory_utilization)
            budget = usable - estimate.weights_bytes
        bound = calculate(
            model,
            gpu,
            replace(config, gpu_memory_bytes=device, kv_cache_memory_bytes=budget),
        )
    except CalcError:
        return None
    return KvCacheFit(
        inputs=inputs,
        model=model,
        gpu=gpu,
        utilization=config.gpu_memory_utilization,
        estimate=estimate,
        bound=bound,
        device_bytes=device,
        usable_bytes=usable,
    )


_last: list[tuple[Resource, ObjectGraph, tuple[KvCacheFit, ...]]] = []
"""The fits of the last object: the engine runs every rule on one object in turn."""


def kv_cache_fits(resource: Resource, graph: ObjectGraph) -> tuple[KvCacheFit, ...]:
    """The vLLM servers of ``resource`` whose model and GPU the catalogs know."""
    if _last:
        last_resource, last_graph, fits = _last[0]
        if last_resource is resource and last_graph is graph:
            return fits
    fits = tuple(_fits(resource, graph))
    _last[:] = [(resource, graph, fits)]
    return fits


def _fits(resource: Resource, graph: ObjectGraph) -> Iterator[KvCacheFit]:
    for inputs in kv_cache_inputs(resource, graph.facts):
        fit = _fit(inputs)
        if fit is not None:
            yield fit


def shortfall(fit: KvCacheFit) -> str:
    """Why one request of the maximum length does not fit, and vLLM's error."""
    bound = fit.bound
    need = (
        f"one request of {bound.max_model_len:,} tokens needs "
        f"{fit.needed_bytes / GIB:.2f} GiB of KV cache per GPU "
        f"({bound.kv_bytes_per_token:,} B per token, "
        f"{bound.kv_dtype_bytes} B per element)"
    )
    if fit.kv_bytes_given:
        have = f"--kv-cache-memory-bytes gives {bound.kv_cache_bytes / GIB:.2f} GiB"
    else:
        have = (
            f"at most {bound.kv_cache_bytes / GIB:.2f} GiB is left after "
            f"{bound.weights_bytes / GIB:.2f} GiB of weights ({fit.budget}), even "
            "with no activation or runtime memory"
        )
    quoted = fit.estimate.message
    if fit.kv_bytes_given:
        return f"{need}, but {have}; vLLM refuses to start: {quoted}"
    return (
        f"{need}, but {have}; vLLM refuses to start. With kubernai's estimate of "
        f"the rest, {fit.overheads}, its error reads: {quoted}"
    )
