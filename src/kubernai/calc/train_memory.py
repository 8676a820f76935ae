"""Training memory per GPU: model states under DDP, FSDP and DeepSpeed ZeRO.

Model states are the parameters, gradients, optimizer states and fp32 master
copies; buffers are what the strategy adds around them (DDP's gradient
buckets, FSDP's unsharded units, ZeRO-3's gathered layer). Activations are
not counted: they depend on the batch, the sequence length and checkpointing.

Where each number comes from:

- PyTorch (torch 2.13, ``torch/distributed/fsdp/api.py`` and
  ``nn/parallel/distributed.py``): with mixed precision the parameters stay in
  fp32 (they are the master copy), gradients are fp32 for the optimizer step
  (FSDP's ``keep_low_precision_grads=False``), and forward and backward run on
  16-bit copies. DDP keeps gradient buckets as large as the gradients unless
  ``gradient_as_bucket_view=True``. FULL_SHARD shards everything and
  all-gathers one unit at a time (the next one prefetched); SHARD_GRAD_OP
  keeps the 16-bit parameters unsharded from forward to backward;
  HYBRID_SHARD shards within a node; NO_SHARD replicates.
- DeepSpeed ZeRO (``deepspeed/runtime/zero/stage_1_and_2.py``, ``stage3.py``):
  stages 1 and 2 keep 16-bit parameters and gradients, an fp32 master
  partition, the optimizer states and, at the step, an fp32 copy of the
  gradient partition (2Ψ + 18Ψ/N for stage 2, as DeepSpeed's estimator);
  stage 3 keeps 16-bit parameter partitions and reduces gradients straight
  into an fp32 partition (18Ψ/N), plus the largest layer's gathered 16-bit
  parameters and gradients (4 bytes per parameter of that layer), as
  DeepSpeed's estimator.

A sharded term holds ``ceil(params / shard group)`` parameters per GPU, as the
padded flat partitions of FSDP and ZeRO do.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kubernai.calc.catalog import Gpu, ModelArch
from kubernai.calc.kv_cache import (
    GIB,
    MIB,
    NON_TORCH_ESTIMATE_BYTES,
    TORCH_SHORTFALL_MIB,
)
from kubernai.calc.precision import Precision, precision_bytes
from kubernai.errors import InputError


class Strategy(StrEnum):
    """A data-parallel training strategy."""

    DDP = "ddp"
    FSDP_NO_SHARD = "fsdp-no-shard"
    ZERO1 = "zero1"
    ZERO2 = "zero2"
    FSDP_SHARD_GRAD_OP = "fsdp-shard-grad-op"
    FSDP_HYBRID_SHARD = "fsdp-hybrid-shard"
    ZERO3 = "zero3"
    FSDP_FULL_SHARD = "fsdp-full-shard"


STRATEGY_ORDER = tuple(Strategy)
"""From the least communication to the most: the last tie-break between fits."""
DEEPSPEED = frozenset({Strategy.ZERO1, Strategy.ZERO2, Strategy.ZERO3})


class Optimizer(StrEnum):
    """An optimizer, by the number of states it keeps per parameter."""

    ADAM = "adam"
    ADAMW = "adamw"
    SGD = "sgd"
    SGD_MOMENTUM = "sgd-momentum"


OPTIMIZER_STATES = {
    Optimizer.ADAM: 2,
    Optimizer.ADAMW: 2,
    Optimizer.SGD: 0,
    Optimizer.SGD_MOMENTUM: 1,
}
"""Adam(W): momentum and variance; SGD with momentum: the momentum buffer."""


@dataclass(frozen=True, slots=True)
class MemoryPart:
    """One line of the per-GPU memory."""

    name: str
    bytes: int
    formula: str
    buffer: bool = False
    """A strategy buffer rather than a model state."""


@dataclass(frozen=True, slots=True)
class StrategyMemory:
    """Per-GPU memory of one strategy on one GPU count."""

    strategy: Strategy
    gpus: int
    shard_group: int
    parts: tuple[MemoryPart, ...]
    model_states_bytes: int
    buffer_bytes: int
    total_bytes: int
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ModelSizes:
    """Parameter counts the strategies need."""

    params: int
    unit_params: int | None = None
    """The largest FSDP unit (one transformer block, or the embedding)."""
    largest_layer_params: int | None = None
    """The largest module's own parameters (DeepSpeed's largest_layer_params)."""


def model_sizes(model: ModelArch) -> ModelSizes:
    """Parameter counts of a catalog model (units and layers estimated).

    The largest layer is the embedding (vocabulary x hidden) or one MLP
    projection (hidden x intermediate); the FSDP unit is the larger of the
    embedding and one transformer block, the non-embedding parameters split
    evenly over the layers.
    """
    embedding = model.vocab * model.hidden
    projection = model.hidden * (model.intermediate or 4 * model.hidden)
    block = max(0, model.params - embedding) // max(1, model.layers)
    return ModelSizes(
        params=model.params,
        unit_params=max(embedding, block),
        largest_layer_params=max(embedding, projection),
    )


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def strategy_memory(
    sizes: ModelSizes,
    *,
    strategy: Strategy,
    gpus_per_node: int,
    nodes: int = 1,
    precision: Precision = Precision.BF16_MIXED,
    optimizer: Optimizer = Optimizer.ADAMW,
) -> StrategyMemory:
    """Per-GPU model states and buffers of ``strategy``.

    Raises:
        InputError: a count below 1, or a ZeRO strategy without mixed precision
            (DeepSpeed's accounting is for 16-bit training with fp32 master
            weights).
    """
    if sizes.params < 1 or gpus_per_node < 1 or nodes < 1:
        raise InputError("parameters, GPUs per node and nodes must be at least 1")
    gpus = gpus_per_node * nodes
    if strategy in DEEPSPEED:
        if precision not in (Precision.BF16_MIXED, Precision.FP16_MIXED):
            raise InputError(
                f"{strategy} is modelled for bf16-mixed or fp16-mixed (16-bit "
                f"parameters with fp32 master weights), not {precision}"
            )
        return _zero(sizes, strategy=strategy, gpus=gpus, optimizer=optimizer)
    return _pytorch(
        sizes,
        strategy=strategy,
        gpus=gpus,
        gpus_per_node=gpus_per_node,
        precision=precision,
        optimizer=optimizer,
    )


def _result(
    strategy: Strategy,
    gpus: int,
    group: int,
    parts: list[MemoryPart],
    notes: list[str],
) -> StrategyMemory:
    states = sum(p.bytes for p in parts if not p.buffer)
    buffers = sum(p.bytes for p in parts if p.buffer)
    return StrategyMemory(
        strategy=strategy,
        gpus=gpus,
        shard_group=group,
        parts=tuple(parts),
        model_states_bytes=states,
        buffer_bytes=buffers,
        total_bytes=states + buffers,
        notes=tuple(notes),
    )


def _pytorch(
    sizes: ModelSizes,
    *,
    strategy: Strategy,
    gpus: int,
    gpus_per_node: int,
    precision: Precision,
    optimizer: Optimizer,
) -> StrategyMemory:
    psi = sizes.params
    b = precision_bytes(precision)
    k = OPTIMIZER_STATES[optimizer]
    mixed = b.compute_bytes != b.storage_bytes
    group = {
        Strategy.DDP: 1,
        Strategy.FSDP_NO_SHARD: 1,
        Strategy.FSDP_HYBRID_SHARD: min(gpus, gpus_per_node),
    }.get(strategy, gpus)
    shard = _cdiv(psi, group)
    per = "Ψ" if group == 1 else f"ceil(Ψ/{group})"
    dtype = f"{b.storage_bytes} B"
    parts = [
        MemoryPart(
            "parameters" + (" (fp32, also the master copy)" if mixed else ""),
            b.storage_bytes * shard,
            f"{dtype} x {per}",
        ),
        MemoryPart(
            "gradients" + (" (fp32 for the optimizer step)" if mixed else ""),
            b.storage_bytes * shard,
            f"{dtype} x {per}",
        ),
        MemoryPart(
            f"optimizer states ({optimizer}: {k} per parameter)",
            k * b.state_bytes * shard,
            f"{k} x {b.state_bytes} B x {per}",
        ),
    ]
    notes: list[str] = []
    c = b.compute_bytes
    unit = sizes.unit_params
    if strategy is Strategy.DDP:
        parts.append(
            MemoryPart(
                "DDP gradient buckets (0 with gradient_as_bucket_view=True)",
                b.storage_bytes * psi,
                f"{dtype} x Ψ",
                buffer=True,
            )
        )
        if mixed:
            parts.append(
                MemoryPart(
                    "16-bit weight copies (torch.autocast casts each weight once "
                    "per forward; backward keeps them)",
                    c * psi,
                    f"{c} B x Ψ",
                    buffer=True,
                )
            )
        return _result(strategy, gpus, group, parts, notes)
    if strategy is Strategy.FSDP_NO_SHARD and not mixed:
        return _result(strategy, gpus, group, parts, notes)
    if strategy is Strategy.FSDP_SHARD_GRAD_OP:
        parts.append(
            MemoryPart(
                "unsharded parameters, kept from forward to backward",
                c * psi,
                f"{c} B x Ψ",
                buffer=True,
            )
        )
        units, what = 1, "unsharded gradient of one unit"
    elif strategy is Strategy.FSDP_NO_SHARD:
        units, what = 3, "16-bit copies of two units and one unit's gradient"
    else:
        units, what = 3, "two unsharded units (current, prefetched) and one gradient"
    if unit is None:
        notes.append(
            f"{what} not counted: give the model or the largest FSDP unit's parameters"
        )
    else:
        parts.append(
            MemoryPart(
                what, units * c * unit, f"{units} x {c} B x U ({unit:,})", buffer=True
            )
        )
    return _result(strategy, gpus, group, parts, notes)


def _zero(
    sizes: ModelSizes, *, strategy: Strategy, gpus: int, optimizer: Optimizer
) -> StrategyMemory:
    psi = sizes.params
    k = OPTIMIZER_STATES[optimizer]
    shard = _cdiv(psi, gpus)
    per = f"ceil(Ψ/{gpus})"
    zero3 = strategy is Strategy.ZERO3
    grads_sharded = strategy is not Strategy.ZERO1
    parts = [
        MemoryPart(
            "16-bit parameters",
            2 * (shard if zero3 else psi),
            f"2 B x {per if zero3 else 'Ψ'}",
        )
    ]
    if not zero3:
        parts.append(
            MemoryPart(
                "16-bit gradients",
                2 * (shard if grads_sharded else psi),
                f"2 B x {per if grads_sharded else 'Ψ'}",
            )
        )
    parts += [
        MemoryPart("fp32 master parameters", 4 * shard, f"4 B x {per}"),
        MemoryPart(
            f"optimizer states ({optimizer}: {k} per parameter)",
            4 * k * shard,
            f"{k} x 4 B x {per}",
        ),
        MemoryPart(
            "fp32 gradient partition"
            + (
                " (ZeRO-3 reduces into it)"
                if zero3
                else " (made for the optimizer step)"
            ),
            4 * shard,
            f"4 B x {per}",
        ),
    ]
    notes: list[str] = []
    if strategy is Strategy.ZERO3:
        layer = sizes.largest_layer_params
        if layer is None:
            notes.append(
                "the largest layer's gathered parameters and gradients are not "
                "counted: give the model or the largest layer's parameters"
            )
        else:
            parts.append(
                MemoryPart(
                    "largest layer, gathered (16-bit parameters and gradients)",
                    4 * layer,
                    f"4 B x {layer:,}",
                    buffer=True,
                )
            )
    notes.append(
        "DeepSpeed's reduce and all-gather buckets (reduce_bucket_size, "
        "allgather_bucket_size) are not counted, as in DeepSpeed's estimator"
    )
    return _result(strategy, gpus, gpus, parts, notes)


def candidate_gpu_counts(gpus_per_node: int, *, max_nodes: int) -> list[int]:
    """GPU counts tried: powers of two within a node, then whole nodes."""
    counts = []
    n = 1
    while n < gpus_per_node:
        counts.append(n)
        n *= 2
    counts += [gpus_per_node * nodes for nodes in range(1, max_nodes + 1)]
    return counts


def smallest_fits(
    sizes: ModelSizes,
    *,
    usable_bytes: int,
    gpus_per_node: int,
    precision: Precision,
    optimizer: Optimizer,
    max_nodes: int = 1024,
) -> tuple[StrategyMemory, ...]:
    """For each strategy, the fewest GPUs whose memory holds its model states.

    Strategies that never fit within ``max_nodes`` nodes, and ZeRO without
    mixed precision, are left out. Sorted by GPU count, then by memory per GPU
    (the most left for activations), then by the order of ``Strategy`` (least
    communication first).
    """
    found: list[StrategyMemory] = []
    counts = candidate_gpu_counts(gpus_per_node, max_nodes=max_nodes)
    for strategy in STRATEGY_ORDER:
        if strategy in DEEPSPEED and precision in (Precision.FP32, Precision.BF16_PURE):
            continue
        for count in counts:
            if strategy is Strategy.FSDP_HYBRID_SHARD and count <= gpus_per_node:
                continue  # on one node it is FULL_SHARD
            per_node = min(count, gpus_per_node)
            memory = strategy_memory(
                sizes,
                strategy=strategy,
                gpus_per_node=per_node,
                nodes=count // per_node,
                precision=precision,
                optimizer=optimizer,
            )
            if memory.total_bytes <= usable_bytes:
                found.append(memory)
                break
            if strategy in (Strategy.DDP, Strategy.FSDP_NO_SHARD):
                break  # replicated: more GPUs never hold less
    found.sort(key=lambda m: (m.gpus, m.total_bytes, STRATEGY_ORDER.index(m.strategy)))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class TrainMemoryResult:
    """Whether the model states of a training setup fit one GPU's memory."""

    model: str
    gpu: str
    params: int
    strategy: Strategy
    precision: Precision
    optimizer: Optimizer
    gpus_per_node: int
    nodes: int
    device_total_bytes: int
    usable_bytes: int
    memory: StrategyMemory
    fits: bool
    smallest: tuple[StrategyMemory, ...]
    """Per strategy, the fewest GPUs that fit, the best first."""
    steps: tuple[str, ...]
    activations_included: bool = False


def usable_bytes(gpu: Gpu) -> int:
    """What PyTorch can allocate: the device as torch sees it, less the CUDA context.

    The same estimates as the KV-cache calculator: torch sees about 440 MiB
    less than nvidia-smi, and the CUDA context, cuBLAS workspaces and NCCL
    buffers take about 0.5 GiB.
    """
    return (gpu.memory_mib - TORCH_SHORTFALL_MIB) * MIB - NON_TORCH_ESTIMATE_BYTES


def calculate(
    sizes: ModelSizes,
    *,
    gpu: Gpu,
    strategy: Strategy,
    gpus_per_node: int,
    nodes: int = 1,
    precision: Precision = Precision.BF16_MIXED,
    optimizer: Optimizer = Optimizer.ADAMW,
    model: str = "",
    max_nodes: int = 1024,
) -> TrainMemoryResult:
    """Per-GPU model states of ``strategy`` against ``gpu``, and what fits.

    Raises:
        InputError: see ``strategy_memory``.
    """
    memory = strategy_memory(
        sizes,
        strategy=strategy,
        gpus_per_node=gpus_per_node,
        nodes=nodes,
        precision=precision,
        optimizer=optimizer,
    )
    usable = usable_bytes(gpu)
    total = (gpu.memory_mib - TORCH_SHORTFALL_MIB) * MIB
    steps = [
        f"Ψ = {sizes.params:,} parameters, {precision}, {optimizer}, {strategy} on "
        f"{nodes} node(s) x {gpus_per_node} GPU(s)"
        + (f", shard group {memory.shard_group}" if memory.shard_group > 1 else ""),
    ]
    steps += [
        f"{part.name}{' [buffer]' if part.buffer else ''}: {part.formula} = "
        f"{part.bytes / GIB:,.2f} GiB"
        for part in memory.parts
    ]
    steps.append(
        f"model states {memory.model_states_bytes / GIB:,.2f} GiB + buffers "
        f"{memory.buffer_bytes / GIB:,.2f} GiB = {memory.total_bytes / GIB:,.2f} GiB "
        "per GPU, activations not included"
    )
    steps.append(
        f"usable on {gpu.name}: ({gpu.memory_mib:,} MiB - {TORCH_SHORTFALL_MIB} MiB "
        f"torch does not see) - {NON_TORCH_ESTIMATE_BYTES / GIB:.1f} GiB CUDA "
        f"context and NCCL (estimate) = {usable / GIB:,.2f} GiB"
    )
    return TrainMemoryResult(
        model=model or f"{sizes.params:,} parameters",
        gpu=gpu.name,
        params=sizes.params,
        strategy=strategy,
        precision=precision,
        optimizer=optimizer,
        gpus_per_node=gpus_per_node,
        nodes=nodes,
        device_total_bytes=total,
        usable_bytes=usable,
        memory=memory,
        fits=memory.total_bytes <= usable,
        smallest=smallest_fits(
            sizes,
            usable_bytes=usable,
            gpus_per_node=gpus_per_node,
            precision=precision,
            optimizer=optimizer,
            max_nodes=max_nodes,
        ),
        steps=tuple(steps),
    )
