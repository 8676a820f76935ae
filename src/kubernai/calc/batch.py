"""Global batch size, gradient accumulation and gradient syncs per step.

The global batch is ``micro batch x accumulation steps x data-parallel size``,
where the data-parallel size is the world size over TP x PP x CP. DeepSpeed
fills in a missing batch key and then asserts the three agree
(``deepspeed/runtime/config.py``: ``_set_batch_related_parameters`` and
``_batch_assertion``, DeepSpeed 0.19.6 to 0.19.8); its ``world_size`` there is
the data-parallel size. The messages are DeepSpeed's.

Gradient collectives per optimizer step follow PyTorch DDP and FSDP
(``no_sync()``, ``set_requires_gradient_sync``; 25 MiB DDP buckets after a
1 MiB first bucket) and DeepSpeed ZeRO (stage 1 reduces at the accumulation
boundary; stages 2 and 3 reduce-scatter every micro-batch).
"""

from __future__ import annotations

from dataclasses import dataclass

from kubernai.errors import InputError

DDP_BUCKET_BYTES = 25 * 2**20
"""DDP's default ``bucket_cap_mb`` (25 MiB)."""
DDP_FIRST_BUCKET_BYTES = 2**20
"""DDP's first bucket, kept small so that communication starts early (1 MiB)."""
NO_BATCH_KEY = (
    "Either train_batch_size or train_micro_batch_size_per_gpu needs to be provided"
)


@dataclass(frozen=True, slots=True)
class GradientSync:
    """Gradient collectives of one strategy per optimizer step."""

    strategy: str
    gradient_collectives_per_step: int
    collective: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class BatchResult:
    """The batch arithmetic, DeepSpeed's check, and syncs per strategy."""

    world_size: int
    tensor_parallel: int
    pipeline_parallel: int
    context_parallel: int
    data_parallel_size: int
    micro_batch_per_gpu: int
    gradient_accumulation_steps: int
    global_batch_size: int
    """Samples per optimizer step: micro x accumulation x data-parallel size."""
    train_batch_size: int
    """DeepSpeed's ``train_batch_size`` (given or derived)."""
    derived: tuple[str, ...]
    """The DeepSpeed keys filled in from the others."""
    consistent: bool
    message: str
    """DeepSpeed's assertion message when the keys disagree."""
    syncs: tuple[GradientSync, ...]
    ddp_buckets_per_sync: int | None
    steps: tuple[str, ...]


def _at_least_one(**values: int | None) -> None:
    for name, value in values.items():
        if value is not None and value < 1:
            raise InputError(f"{name} must be at least 1, not {value}")


def deepspeed_batch(
    *,
    data_parallel_size: int,
    train_batch_size: int | None = None,
    micro_batch: int | None = None,
    grad_accum: int | None = None,
) -> tuple[int, int, int, tuple[str, ...], str]:
    """DeepSpeed's batch keys: fill in the missing ones, then check them.

    Args:
        data_parallel_size: DeepSpeed's ``world_size`` (the data-parallel size).
        train_batch_size: ``train_batch_size``, if set.
        micro_batch: ``train_micro_batch_size_per_gpu``, if set.
        grad_accum: ``gradient_accumulation_steps``, if set.

    Returns:
        ``(train_batch_size, micro_batch, grad_accum, derived keys, message)``
        where the message is DeepSpeed's AssertionError text, or "" when the
        keys agree.

    Raises:
        InputError: neither the train batch size nor the micro batch is given.
    """
    dp = data_parallel_size
    train, micro, accum = train_batch_size, micro_batch, grad_accum
    derived: tuple[str, ...] = ()
    if train is not None and micro is not None and accum is not None:
        pass
    elif train is not None and micro is not None:
        accum, derived = train // micro // dp, ("gradient_accumulation_steps",)
    elif train is not None and accum is not None:
        micro, derived = train // dp // accum, ("train_micro_batch_size_per_gpu",)
    elif micro is not None and accum is not None:
        train, derived = micro * accum * dp, ("train_batch_size",)
    elif train is not None:
        accum, micro = 1, train // dp
        derived = ("gradient_accumulation_steps", "train_micro_batch_size_per_gpu")
    elif micro is not None:
        train, accum = micro * dp, 1
        derived = ("train_batch_size", "gradient_accumulation_steps")
    else:
        raise InputError(NO_BATCH_KEY)
    message = ""
    if train <= 0:
        message = f"Train batch size: {train} has to be greater than 0"
    elif micro <= 0:
        message = f"Micro batch size per gpu: {micro} has to be greater than 0"
    elif accum <= 0:
        message = f"Gradient accumulation steps: {accum} has to be greater than 0"
    elif train != micro * accum * dp:
        message = (
            "Check batch related parameters. train_batch_size is not equal to "
            "micro_batch_per_gpu * gradient_acc_step * world_size "
            f"{train} != {micro} * {accum} * {dp}"
        )
    return train, micro, accum, derived, message


def gradient_syncs(accum: int) -> tuple[GradientSync, ...]:
    """Gradient collectives per optimizer step with ``accum`` micro-batches."""
    per_unit = "per FSDP unit and micro-batch"
    return (
        GradientSync(
            "ddp",
            1,
            "all-reduce (bucketed)",
            f"no_sync() on the first {accum - 1} micro-batch(es)",
        ),
        GradientSync(
            "ddp without no_sync()", accum, "all-reduce (bucketed)", "every micro-batch"
        ),
        GradientSync(
            "fsdp-no-shard", accum, "all-reduce", "1 with no_sync(), as for DDP"
        ),
        GradientSync(
            "fsdp-full-shard",
            accum,
            "reduce-scatter",
            f"plus 2 parameter all-gathers {per_unit}, forward and backward; 1 "
            "reduce-scatter with no_sync() / set_requires_gradient_sync(False), "
            "holding unsharded gradients",
        ),
        GradientSync(
            "fsdp-shard-grad-op",
            accum,
            "reduce-scatter",
            f"plus 1 parameter all-gather {per_unit}",
        ),
        GradientSync(
            "fsdp-hybrid-shard",
            accum,
            "reduce-scatter in the node, then all-reduce across nodes",
            f"plus 2 parameter all-gathers {per_unit}, within the node",
        ),
        GradientSync(
            "zero1", 1, "reduce-scatter", "at the gradient-accumulation boundary"
        ),
        GradientSync(
            "zero2",
            accum,
            "reduce-scatter",
            "every micro-batch: the gradients are partitioned",
        ),
        GradientSync(
            "zero3",
            accum,
            "reduce-scatter",
            "every micro-batch, plus parameter all-gathers in forward and backward",
        ),
    )


def ddp_buckets(gradient_bytes: int) -> int:
    """About how many all-reduce calls one DDP sync makes (default buckets)."""
    rest = max(0, gradient_bytes - DDP_FIRST_BUCKET_BYTES)
    return 1 + -(-rest // DDP_BUCKET_BYTES)


def calculate(
    *,
    world_size: int,
    micro_batch: int | None = None,
    grad_accum: int | None = None,
    train_batch_size: int | None = None,
    tensor_parallel: int = 1,
    pipeline_parallel: int = 1,
    context_parallel: int = 1,
    gradient_bytes: int | None = None,
) -> BatchResult:
    """Global batch, DeepSpeed's batch check and gradient syncs per step.

    Args:
        world_size: All GPUs (ranks).
        micro_batch: Samples per GPU per forward pass.
        grad_accum: Micro-batches per optimizer step.
        train_batch_size: DeepSpeed's ``train_batch_size``, to check.
        tensor_parallel: TP size.
        pipeline_parallel: PP size.
        context_parallel: CP (or sequence-parallel) size.
        gradient_bytes: Bytes of all gradients, for DDP's bucket count.

    Raises:
        InputError: a value below 1, a world size that TP x PP x CP does not
            divide, or neither a micro batch nor a train batch size.
    """
    _at_least_one(
        world_size=world_size,
        micro_batch=micro_batch,
        grad_accum=grad_accum,
        train_batch_size=train_batch_size,
        tensor_parallel=tensor_parallel,
        pipeline_parallel=pipeline_parallel,
        context_parallel=context_parallel,
    )
    model_parallel = tensor_parallel * pipeline_parallel * context_parallel
    if world_size % model_parallel:
        raise InputError(
            f"world size {world_size} is not divisible by TP x PP x CP = "
            f"{tensor_parallel} x {pipeline_parallel} x {context_parallel} = "
            f"{model_parallel}"
        )
    dp = world_size // model_parallel
    train, micro, accum, derived, message = deepspeed_batch(
        data_parallel_size=dp,
        train_batch_size=train_batch_size,
        micro_batch=micro_batch,
        grad_accum=grad_accum,
    )
    steps = [
        f"data-parallel size = world {world_size} / (TP {tensor_parallel} x PP "
        f"{pipeline_parallel} x CP {context_parallel}) = {dp}"
    ]
    if derived:
        steps.append(
            "DeepSpeed fills in "
            + ", ".join(
                f"{key} = {value}"
                for key, value in (
                    ("train_batch_size", train),
                    ("train_micro_batch_size_per_gpu", micro),
                    ("gradient_accumulation_steps", accum),
                )
                if key in derived
            )
            + " (floor division)"
        )
    global_batch = micro * accum * dp
    steps.append(
        f"global batch = micro {micro} x accumulation {accum} x data-parallel {dp} "
        f"= {global_batch:,} samples per optimizer step"
    )
    steps.append(
        f"DeepSpeed: train_batch_size {train:,} "
        + ("agrees" if not message else "does not agree: AssertionError")
    )
    buckets = None
    if gradient_bytes is not None:
        buckets = ddp_buckets(gradient_bytes)
        steps.append(
            f"DDP: {gradient_bytes / 2**30:,.2f} GiB of gradients in about {buckets:,} "
            "bucket(s) (1 MiB first, then 25 MiB): about that many all-reduce calls "
            "per sync"
        )
    return BatchResult(
        world_size=world_size,
        tensor_parallel=tensor_parallel,
        pipeline_parallel=pipeline_parallel,
        context_parallel=context_parallel,
        data_parallel_size=dp,
        micro_batch_per_gpu=micro,
        gradient_accumulation_steps=accum,
        global_batch_size=global_batch,
        train_batch_size=train,
        derived=derived,
        consistent=not message,
        message=message,
        syncs=gradient_syncs(max(1, accum)),
        ddp_buckets_per_sync=buckets,
        steps=tuple(steps),
    )
