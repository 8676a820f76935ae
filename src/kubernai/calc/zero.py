"""ZeRO model-state memory: DeepSpeed's own estimators and the ZeRO paper.

Stages 2 and 3 reproduce DeepSpeed's ``estimate_zero2_model_states_mem_needs``
(``deepspeed/runtime/zero/stage_1_and_2.py``) and
``estimate_zero3_model_states_mem_needs`` (``deepspeed/runtime/zero/stage3.py``),
as of DeepSpeed 0.19.8, to the byte. DeepSpeed evaluates them in floating point
and truncates with ``int()``; the same expressions are evaluated here in the
same order, so that the bytes agree even where float rounding shows (a
``1 / num_nodes`` factor, an ``additional_buffer_factor``). DeepSpeed has no
ZeRO-1 estimator (the ZeRO-2 one is meant to cover stages 1 and 2).

Stages 0 and 1 follow the ZeRO paper (Rajbhandari et al., SC'20, arXiv
1910.02054, section 3 and Figure 1): mixed-precision Adam keeps 2 bytes of
16-bit parameters, 2 bytes of 16-bit gradients and K = 12 bytes of optimizer
state (fp32 master copy, momentum, variance) per parameter. The paper's figures
for every stage are computed too, with exact integers: a sharded term holds
``ceil(params / gpus)`` parameters per GPU, as the padded flat partitions of
DeepSpeed and FSDP do.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubernai.errors import InputError

PAPER_PARAM_BYTES = 2
"""16-bit parameters (ZeRO paper)."""
PAPER_GRAD_BYTES = 2
"""16-bit gradients (ZeRO paper)."""
PAPER_OPTIMIZER_BYTES = 12
"""K for mixed-precision Adam: fp32 master copy, momentum and variance."""
DEEPSPEED_VERSION = "0.19.8"
DEFAULT_BUFFER_FACTOR = 1.5
"""``additional_buffer_factor`` of DeepSpeed's estimators."""


@dataclass(frozen=True, slots=True)
class DeepSpeedEstimate:
    """What one of DeepSpeed's estimators returns, in bytes."""

    cpu_bytes_per_node: int
    gpu_bytes_per_gpu: int
    largest_layer_bytes: int | None = None
    """ZeRO-3 only: ``4 x largest_layer_params``."""


@dataclass(frozen=True, slots=True)
class ZeroEstimate:
    """Model-state memory of one ZeRO stage on one hardware shape."""

    stage: int
    total_params: int
    largest_layer_params: int | None
    gpus_per_node: int
    nodes: int
    total_gpus: int
    cpu_offload: bool
    cpu_offload_params: bool
    zero_init: bool
    buffer_factor: float
    gpu_bytes_per_gpu: int
    """DeepSpeed's estimate for stages 2 and 3, the paper's for stages 0 and 1."""
    cpu_bytes_per_node: int | None
    """DeepSpeed's estimate (stages 2 and 3); None where it has none."""
    largest_layer_bytes: int | None
    paper_gpu_bytes_per_gpu: int
    """The ZeRO paper's model states per GPU (no offload) for this stage."""
    source: str
    steps: tuple[str, ...]


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def deepspeed_zero2_estimate(
    total_params: int,
    *,
    gpus_per_node: int = 1,
    nodes: int = 1,
    cpu_offload: bool = True,
    buffer_factor: float = DEFAULT_BUFFER_FACTOR,
) -> DeepSpeedEstimate:
    """``estimate_zero2_model_states_mem_needs`` of DeepSpeed 0.19.8, to the byte.

    The defaults are DeepSpeed's, ``cpu_offload=True`` included.

    Args:
        total_params: Parameters of the model (shared ones counted once).
        gpus_per_node: GPUs per node.
        nodes: Nodes.
        cpu_offload: ``offload_optimizer`` to the CPU.
        buffer_factor: DeepSpeed's ``additional_buffer_factor``.

    Returns:
        CPU bytes per node and GPU bytes per GPU.
    """
    total_gpus = nodes * gpus_per_node
    if cpu_offload:
        gpu: float = 2 * total_params
        # DeepSpeed uses the total GPU count here, not the count per node.
        cpu: float = total_params * max(4 * total_gpus, 16) * buffer_factor
    else:
        gpu = 2 * total_params + int(18 * total_params / total_gpus)
        cpu = total_params * 4 * gpus_per_node * buffer_factor
    return DeepSpeedEstimate(cpu_bytes_per_node=int(cpu), gpu_bytes_per_gpu=int(gpu))


def deepspeed_zero3_estimate(
    total_params: int,
    largest_layer_params: int,
    *,
    gpus_per_node: int = 1,
    nodes: int = 1,
    cpu_offload: bool = True,
    cpu_offload_params: bool = True,
    zero_init: bool = True,
    buffer_factor: float = DEFAULT_BUFFER_FACTOR,
) -> DeepSpeedEstimate:
    """``estimate_zero3_model_states_mem_needs`` of DeepSpeed 0.19.8, to the byte.

    The defaults are DeepSpeed's. As in DeepSpeed, ``cpu_offload_params``
    counts only together with ``cpu_offload``.

    Args:
        total_params: Parameters of the model (shared ones counted once).
        largest_layer_params: The largest module's own parameters (for LLMs
            usually the embedding, vocabulary x hidden size).
        gpus_per_node: GPUs per node.
        nodes: Nodes.
        cpu_offload: ``offload_optimizer`` to the CPU.
        cpu_offload_params: ``offload_param`` to the CPU.
        zero_init: Model built under ``deepspeed.zero.Init``.
        buffer_factor: DeepSpeed's ``additional_buffer_factor``.

    Returns:
        CPU bytes per node, GPU bytes per GPU and the largest layer's bytes.
    """
    total_gpus = nodes * gpus_per_node
    gpus_factor = 1 / nodes
    largest = 4 * largest_layer_params
    gpu: float
    cpu: float
    if cpu_offload and cpu_offload_params:
        gpu = largest
        if zero_init:
            cpu = total_params * 18 * gpus_factor * buffer_factor
        else:
            cpu = (
                total_params * max(4 * gpus_per_node, 18 * gpus_factor) * buffer_factor
            )
    elif cpu_offload:
        gpu = largest + int(2 * total_params / total_gpus)
        if zero_init:
            cpu = total_params * 16 * gpus_factor * buffer_factor
        else:
            cpu = (
                total_params * max(4 * gpus_per_node, 16 * gpus_factor) * buffer_factor
            )
    else:
        gpu = largest + int(18 * total_params / total_gpus)
        if zero_init:
            cpu = largest_layer_params * 4 * gpus_per_node * buffer_factor
        else:
            cpu = total_params * 4 * gpus_per_node * buffer_factor
    return DeepSpeedEstimate(
        cpu_bytes_per_node=int(cpu),
        gpu_bytes_per_gpu=int(gpu),
        largest_layer_bytes=largest,
    )


def paper_model_states_bytes(params: int, *, stage: int, gpus: int) -> int:
    """Model states per GPU in the ZeRO paper (mixed-precision Adam, K = 12).

    Stage 0 (plain data parallelism) 16Ψ; stage 1 (P_os) 4Ψ + 12Ψ/N; stage 2
    (P_os+g) 2Ψ + 14Ψ/N; stage 3 (P_os+g+p) 16Ψ/N, where a sharded Ψ/N is
    ``ceil(params / gpus)``.

    Args:
        params: Parameters (Ψ).
        stage: ZeRO stage, 0 to 3.
        gpus: Data-parallel GPUs (N_d).

    Returns:
        Bytes per GPU.
    """
    _check_counts(params=params, gpus=gpus)
    shard = _cdiv(params, gpus)
    p, g, k = PAPER_PARAM_BYTES, PAPER_GRAD_BYTES, PAPER_OPTIMIZER_BYTES
    if stage == 0:
        return (p + g + k) * params
    if stage == 1:
        return (p + g) * params + k * shard
    if stage == 2:
        return p * params + (g + k) * shard
    if stage == 3:
        return (p + g + k) * shard
    raise InputError(f"ZeRO stage must be 0, 1, 2 or 3, not {stage}")


def _check_counts(*, params: int, gpus: int) -> None:
    if params < 1:
        raise InputError(f"the parameter count must be at least 1, not {params}")
    if gpus < 1:
        raise InputError(f"the GPU count must be at least 1, not {gpus}")


def _gib(n: float) -> str:
    return f"{n / 2**30:,.2f} GiB"


def _gb(n: float) -> str:
    return f"{n / 1e9:,.2f} GB"


def estimate(
    total_params: int,
    *,
    stage: int,
    gpus_per_node: int = 1,
    nodes: int = 1,
    largest_layer_params: int | None = None,
    cpu_offload: bool = False,
    cpu_offload_params: bool = False,
    zero_init: bool = True,
    buffer_factor: float = DEFAULT_BUFFER_FACTOR,
) -> ZeroEstimate:
    """Model-state memory of ZeRO ``stage``, each step explained.

    Stages 2 and 3 give DeepSpeed's estimate; stages 0 and 1 the paper's.
    Unlike DeepSpeed's functions, offloading is off unless asked for.

    Raises:
        InputError: a count below 1, an unknown stage, a combination the
            estimators do not model, or stage 3 without
            ``largest_layer_params``.
    """
    _check_options(
        stage=stage,
        nodes=nodes,
        largest_layer_params=largest_layer_params,
        cpu_offload=cpu_offload,
        cpu_offload_params=cpu_offload_params,
        buffer_factor=buffer_factor,
    )
    total_gpus = gpus_per_node * nodes
    paper = paper_model_states_bytes(total_params, stage=stage, gpus=total_gpus)
    steps = [
        f"Ψ = {total_params:,} parameters on {nodes} node(s) x {gpus_per_node} "
        f"GPU(s) = {total_gpus} GPU(s)",
        _paper_step(total_params, stage=stage, gpus=total_gpus, paper=paper),
    ]
    ds: DeepSpeedEstimate | None = None
    if stage == 2:
        ds = deepspeed_zero2_estimate(
            total_params,
            gpus_per_node=gpus_per_node,
            nodes=nodes,
            cpu_offload=cpu_offload,
            buffer_factor=buffer_factor,
        )
        source = f"DeepSpeed {DEEPSPEED_VERSION} estimate_zero2_model_states_mem_needs"
    elif stage == 3 and largest_layer_params is not None:
        ds = deepspeed_zero3_estimate(
            total_params,
            largest_layer_params,
            gpus_per_node=gpus_per_node,
            nodes=nodes,
            cpu_offload=cpu_offload,
            cpu_offload_params=cpu_offload_params,
            zero_init=zero_init,
            buffer_factor=buffer_factor,
        )
        source = f"DeepSpeed {DEEPSPEED_VERSION} estimate_zero3_model_states_mem_needs"
    else:
        source = "ZeRO paper (arXiv 1910.02054), mixed-precision Adam, K = 12"
        steps.append(
            "DeepSpeed has no estimator for this stage (its ZeRO-2 estimator is "
            "meant for stages 1 and 2): the paper's figure is the result"
        )
    if ds is not None:
        steps += _deepspeed_steps(
            ds,
            stage=stage,
            largest_layer_params=largest_layer_params,
            gpus_per_node=gpus_per_node,
            nodes=nodes,
            cpu_offload=cpu_offload,
            cpu_offload_params=cpu_offload_params,
            zero_init=zero_init,
            buffer_factor=buffer_factor,
        )
    return ZeroEstimate(
        stage=stage,
        total_params=total_params,
        largest_layer_params=largest_layer_params,
        gpus_per_node=gpus_per_node,
        nodes=nodes,
        total_gpus=total_gpus,
        cpu_offload=cpu_offload,
        cpu_offload_params=cpu_offload_params,
        zero_init=zero_init,
        buffer_factor=buffer_factor,
        gpu_bytes_per_gpu=paper if ds is None else ds.gpu_bytes_per_gpu,
        cpu_bytes_per_node=None if ds is None else ds.cpu_bytes_per_node,
        largest_layer_bytes=None if ds is None else ds.largest_layer_bytes,
        paper_gpu_bytes_per_gpu=paper,
        source=source,
        steps=tuple(steps),
    )


def _check_options(
    *,
    stage: int,
    nodes: int,
    largest_layer_params: int | None,
    cpu_offload: bool,
    cpu_offload_params: bool,
    buffer_factor: float,
) -> None:
    if nodes < 1:
        raise InputError(f"the node count must be at least 1, not {nodes}")
    if stage not in (0, 1, 2, 3):
        raise InputError(f"ZeRO stage must be 0, 1, 2 or 3, not {stage}")
    if not buffer_factor > 0:
        raise InputError(f"the buffer factor must be above 0, not {buffer_factor}")
    if cpu_offload_params and stage != 3:
        raise InputError("offloading parameters (offload_param) is ZeRO stage 3 only")
    if cpu_offload_params and not cpu_offload:
        raise InputError(
            "DeepSpeed's estimator counts offload_param only together with "
            "offload_optimizer (without it the row is 'no offload'): add the "
            "optimizer offload"
        )
    if cpu_offload and stage < 2:
        raise InputError(
            f"stage {stage} is computed from the ZeRO paper, which has no CPU "
            "offload; DeepSpeed estimates offload for stages 2 and 3"
        )
    if stage == 3 and largest_layer_params is None:
        raise InputError(
            "ZeRO stage 3 needs the largest layer's parameters (DeepSpeed's "
            "largest_layer_params: the most parameters one module holds "
            "itself, for an LLM usually the embedding, vocabulary x hidden)"
        )
    if largest_layer_params is not None and largest_layer_params < 1:
        raise InputError(
            "the largest layer's parameters must be at least 1, not "
            f"{largest_layer_params}"
        )


def _paper_step(params: int, *, stage: int, gpus: int, paper: int) -> str:
    formula = {
        0: "(2 + 2 + 12)Ψ = 16Ψ",
        1: "2Ψ (16-bit params) + 2Ψ (16-bit grads) + 12Ψ/N (optimizer states)",
        2: "2Ψ (16-bit params) + (2 + 12)Ψ/N (grads, optimizer states)",
        3: "(2 + 2 + 12)Ψ/N (params, grads, optimizer states)",
    }[stage]
    shard = "" if stage == 0 else f", Ψ/N = ceil({params:,} / {gpus}) per GPU"
    return (
        f"ZeRO paper, stage {stage}: {formula}{shard} = {paper:,} B "
        f"({_gb(paper)}, {_gib(paper)})"
    )


_GPU_FORMULAS = {
    (2, True, False): "2Ψ (16-bit params)",
    (2, False, False): (
        "2Ψ + int(18Ψ / N), 18 = 2 (16-bit grads) + 4 (fp32 grads) + 4 (fp32 "
        "params) + 8 (Adam momentum and variance)"
    ),
    (3, True, True): "largest layer",
    (3, True, False): "largest layer + int(2Ψ / N) (16-bit params)",
    (3, False, False): "largest layer + int(18Ψ / N)",
}
_CPU_FORMULAS = {
    (2, True, False, True): "Ψ x max(4 x {gpus} GPUs in all, 16) x {f}",
    (2, False, False, True): (
        "Ψ x 4 x {n} GPUs per node x {f} (each process loads the model in fp32)"
    ),
    (3, True, True, True): "Ψ x 18 x 1/{nodes} x {f}",
    (3, True, True, False): "Ψ x max(4 x {n}, 18 x 1/{nodes}) x {f}",
    (3, True, False, True): "Ψ x 16 x 1/{nodes} x {f}",
    (3, True, False, False): "Ψ x max(4 x {n}, 16 x 1/{nodes}) x {f}",
    (3, False, False, True): "largest layer params x 4 x {n} x {f}",
    (3, False, False, False): "Ψ x 4 x {n} x {f}",
}


def _deepspeed_steps(
    ds: DeepSpeedEstimate,
    *,
    stage: int,
    largest_layer_params: int | None,
    gpus_per_node: int,
    nodes: int,
    cpu_offload: bool,
    cpu_offload_params: bool,
    zero_init: bool,
    buffer_factor: float,
) -> list[str]:
    steps = []
    if ds.largest_layer_bytes is not None:
        steps.append(
            f"largest layer = 4 x {largest_layer_params:,} params = "
            f"{ds.largest_layer_bytes:,} B (its gathered 16-bit parameters and "
            "gradients)"
        )
    offload = {
        (True, True): "optimizer and parameters offloaded",
        (True, False): "optimizer offloaded",
    }.get((cpu_offload, cpu_offload_params), "no offload")
    gpu_formula = _GPU_FORMULAS[(stage, cpu_offload, cpu_offload_params)]
    cpu_formula = _CPU_FORMULAS[
        (stage, cpu_offload, cpu_offload_params, zero_init or stage == 2)
    ].format(
        gpus=gpus_per_node * nodes, n=gpus_per_node, nodes=nodes, f=f"{buffer_factor:g}"
    )
    gpu, cpu = ds.gpu_bytes_per_gpu, ds.cpu_bytes_per_node
    init = f", zero_init={int(zero_init)}" if stage == 3 else ""
    steps.append(f"DeepSpeed, {offload}: GPU = {gpu_formula} = {gpu:,} B ({_gib(gpu)})")
    steps.append(f"CPU per node{init} = {cpu_formula} = {cpu:,} B ({_gib(cpu)})")
    return steps
