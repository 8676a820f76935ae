"""vLLM's KV-cache arithmetic, to the byte where vLLM is exact.

Follows the V1 engine (vLLM 0.10 and later): ``vllm/v1/kv_cache_interface.py``
for page sizes, ``vllm/v1/core/kv_cache_utils.py`` for the number of blocks,
hybrid (sliding-window) groups, the reported token capacity and concurrency and
the error when one request does not fit, ``vllm/v1/worker/utils.py`` for
``gpu_memory_utilization``, and ``vllm/engine/arg_utils.py`` for the batch
defaults. What vLLM *measures* at start-up (the activation peak of its profile
run and the memory outside PyTorch) is *estimated* here, with the formula
shown; pass ``kv_cache_memory_bytes`` (``--kv-cache-memory-bytes``) to size the
cache from a known budget, as vLLM does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from kubernai.calc.catalog import Gpu, ModelArch

GIB = 2**30
MIB = 2**20
DEFAULT_BLOCK_SIZE = 16
MLA_BLOCK_SIZE = 64
"""vLLM forces 64-token blocks for the FlashMLA backend (vllm/platforms/cuda.py)."""
TORCH_SHORTFALL_MIB = 440
"""PyTorch sees less than nvidia-smi's total: H100 shows 81,559 MiB in nvidia-smi and
79.1-79.3 GiB in torch (325-551 MiB less); the middle is assumed."""
NON_TORCH_ESTIMATE_BYTES = GIB // 2
"""Estimate of the CUDA context, cuBLAS workspaces and NCCL buffers."""
_DTYPE_BYTES = {
    "float32": 4,
    "float": 4,
    "bfloat16": 2,
    "float16": 2,
    "half": 2,
    "fp8": 1,
    "fp8_e4m3": 1,
    "fp8_e5m2": 1,
    "float8_e4m3fn": 1,
}


class CalcError(ValueError):
    """An input vLLM itself would refuse, with vLLM's message."""


@dataclass(frozen=True, slots=True)
class ServeConfig:
    """The vLLM engine arguments that size the KV cache."""

    max_model_len: int | None = None
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    dtype: str = "auto"
    kv_cache_dtype: str = "auto"
    gpu_memory_utilization: float = 0.9
    block_size: int | None = None
    max_num_seqs: int | None = None
    max_num_batched_tokens: int | None = None
    kv_cache_memory_bytes: int | None = None
    gpu_memory_bytes: int | None = None
    """What PyTorch reports as the device total; estimated from the GPU otherwise."""


@dataclass(frozen=True, slots=True)
class KvCacheResult:
    """Everything the calculation found, with each step explained."""

    model: str
    gpu: str
    max_model_len: int
    block_size: int
    kv_dtype_bytes: int
    kv_heads_per_gpu: int
    layers_per_gpu: int
    page_size_bytes: int
    """One block of one layer."""
    kv_bytes_per_token: int
    """Per GPU, all its layers; sliding layers counted as if they kept every token."""
    weights_bytes: int
    """Per GPU."""
    device_total_bytes: int
    requested_bytes: int
    activation_estimate_bytes: int
    non_torch_estimate_bytes: int
    kv_cache_bytes: int
    """The KV budget per GPU."""
    num_blocks: int
    kv_cache_tokens: int
    blocks_per_request: int
    max_concurrency: float
    max_num_seqs: int
    max_num_batched_tokens: int
    fits: bool
    message: str
    groups: int = 1
    group_size: int = 0
    steps: list[str] = field(default_factory=list)


def dtype_bytes(dtype: str) -> int:
    """Bytes per element of a dtype name as vLLM accepts it."""
    found = _DTYPE_BYTES.get(dtype.lower())
    if found is None:
        raise CalcError(f"unknown dtype {dtype!r} (one of: {', '.join(_DTYPE_BYTES)})")
    return found


def _compute_dtype(model: ModelArch, dtype: str) -> str:
    if dtype != "auto":
        return dtype
    # vLLM computes in the checkpoint's 16-bit dtype; fp32 and fp8 checkpoints in bf16.
    return model.dtype if model.dtype in ("bfloat16", "float16") else "bfloat16"


def pipeline_partitions(layers: int, pp: int) -> list[int]:
    """Layers per pipeline rank as vLLM splits them (``get_pp_indices``)."""
    base = [layers // pp] * pp
    for i in range(2, layers % pp + 2):
        base[-i] += 1
    return base


def batch_defaults(gpu_total_bytes: int, gpu_name: str) -> tuple[int, int]:
    """``(max_num_seqs, max_num_batched_tokens)`` of ``vllm serve`` on a GPU.

    vllm/engine/arg_utils.py ``get_batch_defaults``: 1024 and 8192 on devices
    with at least 70 GiB whose name does not contain "a100", else 256 and 2048.
    """
    if gpu_total_bytes >= 70 * GIB and "a100" not in gpu_name.lower():
        return 1024, 8192
    return 256, 2048


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def calculate(model: ModelArch, gpu: Gpu | None, config: ServeConfig) -> KvCacheResult:
    """Size vLLM's KV cache for ``model`` on ``gpu`` with ``config``."""
    steps: list[str] = []
    tp, pp = config.tensor_parallel_size, config.pipeline_parallel_size
    if tp < 1 or pp < 1:
        raise CalcError("tensor and pipeline parallel sizes must be at least 1")
    if model.heads % tp:
        raise CalcError(
            f"Total number of attention heads ({model.heads}) must be divisible by "
            f"tensor parallel size ({tp})."
        )
    if not 0 < config.gpu_memory_utilization <= 1:
        raise CalcError("gpu_memory_utilization must be in (0, 1]")
    derived = model.max_position_embeddings
    max_len = config.max_model_len or derived
    if derived and max_len > derived:
        raise CalcError(
            f"User-specified max_model_len ({max_len}) is greater than the derived "
            f"max_model_len (max_position_embeddings={derived} in the model's config)."
        )
    compute = _compute_dtype(model, config.dtype)
    kv_dtype = compute if config.kv_cache_dtype == "auto" else config.kv_cache_dtype
    kv_bytes = dtype_bytes(kv_dtype)
    mla = model.attention == "mla"
    block = config.block_size or (MLA_BLOCK_SIZE if mla else DEFAULT_BLOCK_SIZE)
    kv_heads = 1 if mla else max(1, model.kv_heads // tp)
    head = model.head_size
    page = (1 if mla else 2) * block * kv_heads * head * kv_bytes
    steps.append(
        f"page (one block of one layer) = {'' if mla else '2 (K and V) x '}{block} "
        f"tokens x {kv_heads} KV head(s) per GPU x head size {head} x {kv_bytes} B "
        f"= {page:,} B"
        + (
            " (MLA: one latent vector, no factor 2, the same on every TP rank)"
            if mla
            else ""
        )
    )
    partitions = pipeline_partitions(model.layers, pp)
    layers = max(partitions)
    start = sum(partitions[: partitions.index(layers)])
    pattern = (
        model.sliding_layers[start : start + layers] if model.sliding_layers else ()
    )
    sliding = sum(pattern)
    full = layers - sliding
    per_token = page // block * layers
    steps.append(
        f"KV per token on one GPU = {page // block:,} B x {layers} layers "
        f"= {per_token:,} B"
    )

    total = _device_total(gpu, config)
    name = gpu.name if gpu is not None else "GPU"
    seqs_default, batched_default = batch_defaults(total, name)
    max_seqs = config.max_num_seqs or seqs_default
    batched = config.max_num_batched_tokens or batched_default
    checkpoint_bytes = dtype_bytes(model.dtype)
    if model.weights_bytes_per_param:
        weights_per_param: float = model.weights_bytes_per_param
    elif checkpoint_bytes == 1:
        weights_per_param = 1  # an FP8 checkpoint stays FP8 whatever --dtype says
    else:
        weights_per_param = dtype_bytes(compute)
    weights = math.ceil(model.params * weights_per_param / (tp * pp))
    requested = math.ceil(total * config.gpu_memory_utilization)
    activation = _activation_estimate(
        model, tp, batched, max_seqs, dtype_bytes(compute)
    )
    if config.kv_cache_memory_bytes is not None:
        budget = config.kv_cache_memory_bytes
        steps.append(
            f"KV budget given: {budget / GIB:.2f} GiB (gpu_memory_utilization ignored)"
        )
    else:
        budget = requested - weights - activation - NON_TORCH_ESTIMATE_BYTES
        steps.append(
            f"requested = ceil({total / GIB:.2f} GiB x "
            f"{config.gpu_memory_utilization}) = {requested / GIB:.2f} GiB; minus "
            f"weights {weights / GIB:.2f} GiB ({model.params / 1e9:.2f}B params x "
            f"{weights_per_param:g} B / {tp * pp} GPUs), activation peak estimate "
            f"{activation / GIB:.2f} GiB, non-PyTorch estimate "
            f"{NON_TORCH_ESTIMATE_BYTES / GIB:.2f} GiB = {budget / GIB:.2f} GiB "
            "for the KV cache"
        )

    if sliding and full:
        small, large = sorted((sliding, full))
        group_size = large if large < 1.5 * small else small
        groups = _cdiv(full, group_size) + _cdiv(sliding, group_size)
    else:
        group_size, groups = layers, 1
    num_blocks = max(0, budget) // page // group_size
    tokens = num_blocks // groups * block
    full_blocks = _cdiv(max_len, block)
    window_blocks = _cdiv(min(model.sliding_window - 1 + batched, max_len), block) + 1
    if sliding and not full:
        per_request = window_blocks
    elif sliding:
        per_request = (
            _cdiv(full, group_size) * full_blocks
            + _cdiv(sliding, group_size) * window_blocks
        )
    else:
        per_request = full_blocks
    steps.append(
        f"blocks = {max(0, budget):,} B // {page:,} B // {group_size} layers per group "
        f"= {num_blocks:,}; GPU KV cache size: {tokens:,} tokens"
    )
    concurrency = num_blocks / per_request if per_request else 0.0
    steps.append(
        f"one request of {max_len:,} tokens needs {per_request:,} blocks: maximum "
        f"concurrency {concurrency:.2f}x"
    )
    needed = per_request * page * group_size
    fits, message = True, ""
    if total and weights > total:
        fits = False
        message = (
            f"the weights need {weights / GIB:.2f} GiB per GPU, more than the "
            f"device's {total / GIB:.2f} GiB: loading fails with "
            "torch.OutOfMemoryError (CUDA out of memory) before the KV cache is sized"
        )
    elif budget <= 0:
        fits = False
        message = (
            "No available memory for the cache blocks. Try increasing "
            "`gpu_memory_utilization` when initializing the engine."
        )
    elif needed > budget:
        fits = False
        estimate = _largest_fitting_len(budget, page, group_size, block, max_len)
        estimated = (
            f"Based on the available memory, the estimated maximum model length is "
            f"{estimate}. "
            if estimate
            else ""
        )
        message = (
            f"To serve at least one request with the models's max seq len ({max_len}), "
            f"({needed / GIB:.2f} GiB KV cache is needed, which is larger than the "
            f"available KV cache memory ({budget / GIB:.2f} GiB). {estimated}Try "
            "increasing `gpu_memory_utilization` or decreasing `max_model_len` when "
            "initializing the engine."
        )
    return KvCacheResult(
        model=model.id,
        gpu=name,
        max_model_len=max_len,
        block_size=block,
        kv_dtype_bytes=kv_bytes,
        kv_heads_per_gpu=kv_heads,
        layers_per_gpu=layers,
        page_size_bytes=page,
        kv_bytes_per_token=per_token,
        weights_bytes=weights,
        device_total_bytes=total,
        requested_bytes=requested,
        activation_estimate_bytes=activation,
        non_torch_estimate_bytes=NON_TORCH_ESTIMATE_BYTES,
        kv_cache_bytes=max(0, budget),
        num_blocks=num_blocks,
        kv_cache_tokens=tokens,
        blocks_per_request=per_request,
        max_concurrency=concurrency,
        max_num_seqs=max_seqs,
        max_num_batched_tokens=batched,
        fits=fits,
        message=message,
        groups=groups,
        group_size=group_size,
        steps=steps,
    )


def _device_total(gpu: Gpu | None, config: ServeConfig) -> int:
    if config.gpu_memory_bytes is not None:
        return config.gpu_memory_bytes
    if gpu is None:
        if config.kv_cache_memory_bytes is not None:
            return 0
        raise CalcError("give a GPU or its memory")
    return (gpu.memory_mib - TORCH_SHORTFALL_MIB) * MIB


def _activation_estimate(
    model: ModelArch, tp: int, batched: int, seqs: int, act_bytes: int
) -> int:
    """Peak of vLLM's profile run, estimated (vLLM measures it).

    One forward pass of ``max_num_batched_tokens`` tokens: the gated MLP's two
    intermediate tensors (sharded by TP) and four hidden-size buffers, plus the
    sampler's fp32 logits for ``max_num_seqs`` sequences (vocabulary sharded by
    TP).
    """
    intermediate = model.intermediate or 4 * model.hidden
    hidden_part = batched * (4 * model.hidden + 2 * intermediate // tp) * act_bytes
    logits = seqs * (model.vocab // tp) * 4
    return hidden_part + logits


def _largest_fitting_len(
    budget: int, page: int, group: int, block: int, limit: int
) -> int:
    """The longest max_model_len whose cache fits (vLLM's binary search)."""
    low, high = 0, limit
    while low < high:
        middle = (low + high + 1) // 2
        if _cdiv(middle, block) * page * group <= budget:
            low = middle
        else:
            high = middle - 1
    return low
