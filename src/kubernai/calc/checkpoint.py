"""Checkpoint size, write time, and whether it fits the termination grace period.

A weights-only checkpoint holds the model in its compute dtype (2Ψ bytes in
bf16). A full resume checkpoint adds what training needs to continue: the
fp32 master weights (mixed precision) and the optimizer states, 14Ψ bytes for
mixed-precision Adam (2 + 4 + 8), plus small extras (RNG, scheduler, loss
scaler) not counted. DeepSpeed writes the 16-bit weights to
``mp_rank_XX_model_states.pt`` and the master weights and Adam states, split
by data-parallel rank, to ``*zero_pp_rank_*_optim_states.pt``; the bytes are
the same. FSDP1's full state dict saves the parameters in fp32 (4Ψ).

Writing takes ``bytes / bandwidth``, where the bandwidth is the lower of the
storage's aggregate write bandwidth and the nodes' summed egress. Kubernetes
sends SIGTERM and, ``terminationGracePeriodSeconds`` later (30 s by default),
SIGKILL: a checkpoint started at SIGTERM must finish inside that window.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubernai.calc.precision import Precision, precision_bytes
from kubernai.calc.train_memory import OPTIMIZER_STATES, Optimizer
from kubernai.errors import InputError

DEFAULT_GRACE_PERIOD_S = 30
"""Kubernetes' default ``terminationGracePeriodSeconds``."""
GB = 10**9


@dataclass(frozen=True, slots=True)
class CheckpointResult:
    """Checkpoint sizes and write times against the grace period."""

    model: str
    params: int
    precision: Precision
    optimizer: Optimizer
    weights_bytes_per_param: int
    resume_bytes_per_param: int
    weights_only_bytes: int
    full_resume_bytes: int
    bandwidth_gb_per_s: float
    weights_only_write_s: float
    full_resume_write_s: float
    grace_period_s: float
    fits: bool
    """The full resume checkpoint is written within the grace period."""
    weights_only_fits: bool
    min_bandwidth_gb_per_s: float | None
    """The bandwidth that writes the full checkpoint in the grace period (None: 0 s)."""
    steps: tuple[str, ...]


def calculate(
    params: int,
    *,
    bandwidth_gb_per_s: float,
    precision: Precision = Precision.BF16_MIXED,
    optimizer: Optimizer = Optimizer.ADAM,
    grace_period_s: float = DEFAULT_GRACE_PERIOD_S,
    model: str = "",
) -> CheckpointResult:
    """Checkpoint size and write time at ``bandwidth_gb_per_s`` (1 GB = 1e9 B).

    Raises:
        InputError: no parameters, a bandwidth that is not positive or a
            negative grace period.
    """
    if params < 1:
        raise InputError(f"the parameter count must be at least 1, not {params}")
    if not bandwidth_gb_per_s > 0:
        raise InputError(
            f"the bandwidth must be above 0 GB/s, not {bandwidth_gb_per_s}"
        )
    if grace_period_s < 0:
        raise InputError(f"the grace period must be 0 s or more, not {grace_period_s}")
    b = precision_bytes(precision)
    states = OPTIMIZER_STATES[optimizer]
    weights = b.compute_bytes
    resume = weights + b.master_bytes + states * b.state_bytes
    weights_only = weights * params
    full = resume * params
    rate = bandwidth_gb_per_s * GB
    weights_s, full_s = weights_only / rate, full / rate
    steps = [
        f"weights only = {weights} B x {params:,} parameters = {weights_only:,} B "
        f"({weights_only / GB:,.1f} GB)",
        f"full resume = ({weights} B weights + {b.master_bytes} B fp32 master + "
        f"{states} x {b.state_bytes} B {optimizer} states) x Ψ = {resume}Ψ = "
        f"{full:,} B ({full / GB:,.1f} GB)",
        f"write at {bandwidth_gb_per_s:g} GB/s: weights only {weights_s:,.1f} s, "
        f"full resume {full_s:,.1f} s",
    ]
    needed = full / GB / grace_period_s if grace_period_s else None
    steps.append(
        f"grace period {grace_period_s:g} s (SIGTERM to SIGKILL): the full checkpoint "
        + (
            f"needs at least {needed:,.2f} GB/s"
            if needed is not None
            else "cannot be written in 0 s"
        )
    )
    return CheckpointResult(
        model=model or f"{params:,} parameters",
        params=params,
        precision=precision,
        optimizer=optimizer,
        weights_bytes_per_param=weights,
        resume_bytes_per_param=resume,
        weights_only_bytes=weights_only,
        full_resume_bytes=full,
        bandwidth_gb_per_s=bandwidth_gb_per_s,
        weights_only_write_s=weights_s,
        full_resume_write_s=full_s,
        grace_period_s=grace_period_s,
        fits=full_s <= grace_period_s,
        weights_only_fits=weights_s <= grace_period_s,
        min_bandwidth_gb_per_s=needed,
        steps=tuple(steps),
    )
