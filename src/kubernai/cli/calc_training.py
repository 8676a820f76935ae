"""``kubernai calc`` zero, train-memory, batch, checkpoint and precision.

``add_training_calculators`` adds the parsers to the ``calc`` subparsers;
``run_training_calculator`` runs one and returns its exit code (None when the
calculator is not one of these): 0 fits, 1 does not fit, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any, TextIO

from kubernai.errors import EXIT_CLEAN, EXIT_FINDINGS, InputError

if TYPE_CHECKING:
    from kubernai.calc.catalog import Gpu
    from kubernai.calc.train_memory import ModelSizes

# The parsers are built on every run of kubernai, so they import no calculator;
# tests check these against kubernai.calc.
STRATEGIES = (
    "ddp",
    "fsdp-no-shard",
    "zero1",
    "zero2",
    "fsdp-shard-grad-op",
    "fsdp-hybrid-shard",
    "zero3",
    "fsdp-full-shard",
)
PRECISIONS = ("bf16-mixed", "fp16-mixed", "fp32", "bf16-pure")
OPTIMIZERS = ("adam", "adamw", "sgd", "sgd-momentum")
NUMBER_FORMATS = (
    "fp32",
    "bf16",
    "fp16",
    "fp8-e4m3",
    "fp8-e5m2",
    "fp8-e4m3fnuz",
    "fp8-e5m2fnuz",
)
DEFAULT_BUFFER_FACTOR = 1.5
DEFAULT_GRACE_PERIOD_S = 30
GIB = 2**30
CALCULATORS = ("zero", "train-memory", "batch", "checkpoint", "precision")
_SUFFIXES = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9, "t": 10**12}
_COUNT = re.compile(
    r"^\s*([0-9][0-9_,]*(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)\s*([kmbgt]?)\s*$"
)


def parse_count(text: str) -> int:
    """A parameter count: ``70553706496``, ``7e9``, ``8.03B``, ``350M``, ``1.5T``.

    Raises:
        argparse.ArgumentTypeError: not a whole, positive number.
    """
    from decimal import Decimal, InvalidOperation

    match = _COUNT.match(text.lower())
    if match is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a count (e.g. 7000000000, 7e9, 7B, 350M)"
        )
    number, suffix = match.groups()
    try:
        value = Decimal(number.replace("_", "").replace(",", "")) * _SUFFIXES[suffix]
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count") from None
    if value != value.to_integral_value() or value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole count of 1 or more")
    return int(value)


def positive_int(text: str) -> int:
    """An integer of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1")
    return value


def positive_float(text: str) -> float:
    """A number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not above 0")
    return value


def _format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f",
        "--format",
        choices=("text", "json"),
        default="text",
        help="output format (default: text)",
    )


def _model_or_params(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--model", metavar="ID|PATH", help="HF model id or config.json path"
    )
    group.add_argument(
        "--params", type=parse_count, metavar="N", help="parameters, e.g. 7e9 or 8B"
    )


def add_training_calculators(
    calculators: argparse._SubParsersAction[Any],
) -> None:
    """Add the zero, train-memory, batch, checkpoint and precision parsers."""
    _add_zero(calculators)
    _add_train_memory(calculators)
    _add_batch(calculators)
    _add_checkpoint(calculators)
    _add_precision(calculators)


def _add_zero(
    calculators: argparse._SubParsersAction[Any],
) -> None:
    p = calculators.add_parser(
        "zero",
        help="DeepSpeed ZeRO model-state memory per GPU and per node",
        description=(
            "Model-state memory of DeepSpeed ZeRO. Stages 2 and 3 give DeepSpeed "
            "0.19.8's own estimators (estimate_zero2_model_states_mem_needs, "
            "estimate_zero3_model_states_mem_needs) to the byte; stages 0 and 1 the "
            "ZeRO paper's formulas (mixed-precision Adam: 16Ψ, 4Ψ + 12Ψ/N). The "
            "paper's figure is shown for every stage."
        ),
        epilog=(
            "Unlike DeepSpeed's functions, offload is off unless asked for. Model "
            "states only: activations, communication buckets and fragmentation "
            "come on top. GiB = 2^30 B (DeepSpeed prints GiB labelled GB)."
        ),
    )
    p.add_argument(
        "--params",
        required=True,
        type=parse_count,
        metavar="N",
        help="total parameters (shared ones once), e.g. 7e9 or 8B",
    )
    p.add_argument(
        "--largest-layer-params",
        type=parse_count,
        metavar="N",
        help=(
            "stage 3: the most parameters one module holds itself (for an LLM "
            "usually the embedding, vocabulary x hidden)"
        ),
    )
    p.add_argument(
        "--gpus-per-node", type=positive_int, default=1, metavar="N", help="default 1"
    )
    p.add_argument(
        "--nodes", type=positive_int, default=1, metavar="N", help="default 1"
    )
    p.add_argument(
        "--stage",
        type=int,
        required=True,
        choices=(0, 1, 2, 3),
        help="0 plain data parallel, 1 optimizer states, 2 + gradients, 3 + params",
    )
    p.add_argument(
        "--cpu-offload",
        action="store_true",
        help="offload_optimizer to the CPU (stages 2 and 3)",
    )
    p.add_argument(
        "--cpu-offload-params",
        action="store_true",
        help="offload_param to the CPU too (stage 3, with --cpu-offload)",
    )
    p.add_argument(
        "--zero-init",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="stage 3: model built under deepspeed.zero.Init (default: yes)",
    )
    p.add_argument(
        "--buffer-factor",
        type=positive_float,
        default=DEFAULT_BUFFER_FACTOR,
        metavar="F",
        help="DeepSpeed's additional_buffer_factor for CPU memory (default: 1.5)",
    )
    _format_option(p)


def _add_train_memory(
    calculators: argparse._SubParsersAction[Any],
) -> None:
    p = calculators.add_parser(
        "train-memory",
        help="training memory per GPU under DDP, FSDP or ZeRO, and what fits",
        description=(
            "Per-GPU model states (parameters, gradients, optimizer states, fp32 "
            "master copies) and strategy buffers (DDP buckets, FSDP unsharded "
            "units, ZeRO-3's gathered layer) against a GPU's usable memory, and the "
            "fewest GPUs each strategy needs."
        ),
        epilog=(
            "Activations are not included: they depend on batch, sequence length "
            "and activation checkpointing. Usable memory = what torch sees less an "
            "estimated 0.5 GiB for the CUDA context and NCCL. Exit codes: 0 fits, "
            "1 does not fit, 2 bad input."
        ),
    )
    _model_or_params(p)
    p.add_argument(
        "--gpu",
        required=True,
        metavar="NAME",
        help="GPU id, nvidia-smi name or GFD product string",
    )
    p.add_argument(
        "--gpus", required=True, type=positive_int, metavar="N", help="GPUs per node"
    )
    p.add_argument(
        "--nodes", type=positive_int, default=1, metavar="N", help="default 1"
    )
    p.add_argument(
        "--strategy",
        required=True,
        choices=STRATEGIES,
        help="PyTorch DDP, FSDP sharding strategy, or DeepSpeed ZeRO stage",
    )
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="bf16-mixed",
        help="default: bf16-mixed (16-bit compute, fp32 master weights)",
    )
    p.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        default="adamw",
        help="default: adamw",
    )
    p.add_argument(
        "--unit-params",
        type=parse_count,
        metavar="N",
        help="largest FSDP unit (default with --model: a block or the embedding)",
    )
    p.add_argument(
        "--largest-layer-params",
        type=parse_count,
        metavar="N",
        help="largest module, for ZeRO-3 (default with --model: embedding or MLP)",
    )
    _format_option(p)


def _add_batch(
    calculators: argparse._SubParsersAction[Any],
) -> None:
    p = calculators.add_parser(
        "batch",
        help="global batch, DeepSpeed's batch check, gradient syncs per step",
        description=(
            "Global batch = micro batch x gradient accumulation x data-parallel "
            "size (world / (TP x PP x CP)); DeepSpeed's train_batch_size rule with "
            "its own error text; gradient collectives per optimizer step for DDP, "
            "FSDP and ZeRO."
        ),
        epilog=(
            "As DeepSpeed does, a missing --micro-batch or --grad-accum is derived "
            "from --train-batch-size by floor division. Exit codes: 0 consistent, "
            "1 DeepSpeed would refuse the batch keys, 2 bad input."
        ),
    )
    p.add_argument(
        "--micro-batch",
        type=positive_int,
        metavar="N",
        help="train_micro_batch_size_per_gpu",
    )
    p.add_argument(
        "--grad-accum",
        type=positive_int,
        metavar="N",
        help="gradient_accumulation_steps",
    )
    p.add_argument(
        "--world-size", required=True, type=positive_int, metavar="N", help="all GPUs"
    )
    for flag, what in (("--tp", "tensor"), ("--pp", "pipeline"), ("--cp", "context")):
        p.add_argument(
            flag,
            type=positive_int,
            default=1,
            metavar="N",
            help=f"{what}-parallel size (default 1)",
        )
    p.add_argument(
        "--train-batch-size",
        type=positive_int,
        metavar="N",
        help="DeepSpeed's train_batch_size, to check",
    )
    p.add_argument(
        "--params",
        type=parse_count,
        metavar="N",
        help="parameters, for the number of DDP buckets per sync",
    )
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="bf16-mixed",
        help="gradient dtype for the DDP buckets (mixed: fp32 gradients)",
    )
    _format_option(p)


def _add_checkpoint(
    calculators: argparse._SubParsersAction[Any],
) -> None:
    p = calculators.add_parser(
        "checkpoint",
        help="checkpoint size, write time, and the termination grace period",
        description=(
            "Checkpoint size (weights only; full resume with fp32 master weights "
            "and optimizer states: 14Ψ for mixed-precision Adam), the time to write "
            "it at a storage bandwidth, and whether it is written before SIGKILL."
        ),
        epilog=(
            "GB = 10^9 B. Use the lower of the storage's aggregate write bandwidth "
            "and the nodes' summed egress. Exit codes: 0 the full checkpoint fits "
            "the grace period, 1 it does not, 2 bad input."
        ),
    )
    _model_or_params(p)
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="bf16-mixed",
        help="default: bf16-mixed (16-bit weights, fp32 master copy)",
    )
    p.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        default="adam",
        help="default: adam",
    )
    p.add_argument(
        "--bandwidth",
        required=True,
        type=positive_float,
        metavar="GB/S",
        help="write bandwidth in GB/s",
    )
    p.add_argument(
        "--grace-period",
        type=float,
        default=DEFAULT_GRACE_PERIOD_S,
        metavar="S",
        help="terminationGracePeriodSeconds (default: 30)",
    )
    _format_option(p)


def _add_precision(
    calculators: argparse._SubParsersAction[Any],
) -> None:
    names = ", ".join(NUMBER_FORMATS)
    p = calculators.add_parser(
        "precision",
        help="number formats (BF16, FP16, FP32, FP8) and the GPUs that run them",
        description=(
            "Largest finite, smallest normal and subnormal values and epsilon of "
            f"{names}, derived exactly from their bit layouts, and which catalog "
            "GPUs support each (BF16 from compute capability 8.0; FP8 on 8.9, 9.0 "
            "and 10.x)."
        ),
        epilog="Exit codes: 0, or 1 when --gpu does not support FORMAT.",
    )
    p.add_argument(
        "number_format",
        nargs="?",
        metavar="FORMAT",
        help=f"one of {names} (or an alias such as bfloat16, e4m3)",
    )
    p.add_argument("--gpu", metavar="NAME", help="say whether this GPU supports it")
    _format_option(p)


def run_training_calculator(args: argparse.Namespace, *, stdout: TextIO) -> int | None:
    """Run one training calculator; None when ``args`` names another calculator."""
    runners = {
        "zero": _zero,
        "train-memory": _train_memory,
        "batch": _batch,
        "checkpoint": _checkpoint,
        "precision": _precision,
    }
    runner = runners.get(getattr(args, "calculator", None) or "")
    if runner is None:
        return None
    return runner(args, stdout)


def _emit(args: argparse.Namespace, stdout: TextIO, result: Any, text: str) -> None:
    if args.format == "json":
        stdout.write(json.dumps(asdict(result), indent=2) + "\n")
    else:
        stdout.write(text)


def _steps(steps: tuple[str, ...]) -> list[str]:
    return [f"  {i}. {step}" for i, step in enumerate(steps, 1)]


def _gib(n: float) -> str:
    return f"{n / GIB:,.2f} GiB"


def _find_gpu(name: str) -> Gpu:
    from kubernai.calc.catalog import find_gpu, gpus

    gpu = find_gpu(name)
    if gpu is None:
        known = ", ".join(sorted({g.id for g in gpus().values()}))
        raise InputError(f"unknown GPU {name!r} (one of: {known})")
    return gpu


def _zero(args: argparse.Namespace, stdout: TextIO) -> int:
    from kubernai.calc import zero

    result = zero.estimate(
        args.params,
        stage=args.stage,
        gpus_per_node=args.gpus_per_node,
        nodes=args.nodes,
        largest_layer_params=args.largest_layer_params,
        cpu_offload=args.cpu_offload,
        cpu_offload_params=args.cpu_offload_params,
        zero_init=args.zero_init,
        buffer_factor=args.buffer_factor,
    )
    lines = [
        f"ZeRO stage {result.stage}: {result.total_params:,} parameters on "
        f"{result.nodes} node(s) x {result.gpus_per_node} GPU(s)",
        "",
        *_steps(result.steps),
        "",
        f"  per GPU: {result.gpu_bytes_per_gpu:,} B ({_gib(result.gpu_bytes_per_gpu)})",
    ]
    if result.cpu_bytes_per_node is not None:
        lines.append(
            f"  per CPU (node): {result.cpu_bytes_per_node:,} B "
            f"({_gib(result.cpu_bytes_per_node)})"
        )
    lines += [
        f"  source: {result.source}",
        "  model states only: activations and buffers come on top",
    ]
    _emit(args, stdout, result, "\n".join(lines) + "\n")
    return EXIT_CLEAN


def _sizes(args: argparse.Namespace) -> tuple[str, ModelSizes]:
    from kubernai.calc.catalog import load_model
    from kubernai.calc.train_memory import ModelSizes, model_sizes

    if args.model:
        model = load_model(args.model)
        sizes = model_sizes(model)
        name = model.id
    else:
        sizes = ModelSizes(params=args.params)
        name = ""
    overrides = {
        key: value
        for key, value in (
            ("unit_params", getattr(args, "unit_params", None)),
            ("largest_layer_params", getattr(args, "largest_layer_params", None)),
        )
        if value is not None
    }
    return name, replace(sizes, **overrides)


def _train_memory(args: argparse.Namespace, stdout: TextIO) -> int:
    from kubernai.calc import train_memory
    from kubernai.calc.precision import Precision
    from kubernai.calc.train_memory import Optimizer, Strategy

    name, sizes = _sizes(args)
    result = train_memory.calculate(
        sizes,
        gpu=_find_gpu(args.gpu),
        strategy=Strategy(args.strategy),
        gpus_per_node=args.gpus,
        nodes=args.nodes,
        precision=Precision(args.precision),
        optimizer=Optimizer(args.optimizer),
        model=name,
    )
    memory = result.memory
    lines = [
        f"{result.model}: {result.strategy} on {result.nodes} node(s) x "
        f"{result.gpus_per_node} {result.gpu}",
        "",
        *_steps(result.steps),
        "",
        f"  per GPU: {_gib(memory.total_bytes)} of {_gib(result.usable_bytes)} "
        "usable (activations not included)",
        *(f"  note: {note}" for note in memory.notes),
        "  fits: yes" if result.fits else "  fits: NO",
        "",
        "  fewest GPUs per strategy (model states and buffers, no activations):",
    ]
    lines += [
        f"    {m.strategy:<19} {m.gpus:>5} GPU(s)  {_gib(m.total_bytes)} per GPU"
        for m in result.smallest
    ]
    if result.smallest:
        best = result.smallest[0]
        lines.append(f"  smallest: {best.strategy} on {best.gpus} GPU(s)")
    else:
        lines.append("  no strategy fits on up to 1024 nodes")
    _emit(args, stdout, result, "\n".join(lines) + "\n")
    return EXIT_CLEAN if result.fits else EXIT_FINDINGS


def _batch(args: argparse.Namespace, stdout: TextIO) -> int:
    from kubernai.calc import batch
    from kubernai.calc.precision import Precision, precision_bytes

    gradient_bytes = None
    if args.params is not None:
        gradient_bytes = (
            args.params * precision_bytes(Precision(args.precision)).storage_bytes
        )
    result = batch.calculate(
        world_size=args.world_size,
        micro_batch=args.micro_batch,
        grad_accum=args.grad_accum,
        train_batch_size=args.train_batch_size,
        tensor_parallel=args.tp,
        pipeline_parallel=args.pp,
        context_parallel=args.cp,
        gradient_bytes=gradient_bytes,
    )
    lines = [
        f"{result.world_size} GPU(s), data-parallel size {result.data_parallel_size}",
        "",
        *_steps(result.steps),
        "",
        f"  global batch: {result.global_batch_size:,} samples per optimizer step",
        "",
        "  gradient collectives per optimizer step "
        f"({result.gradient_accumulation_steps} micro-batch(es)):",
        *(
            f"    {s.strategy:<22} {s.gradient_collectives_per_step:>4} x "
            f"{s.collective}" + (f" ({s.note})" if s.note else "")
            for s in result.syncs
        ),
        "",
        "  DeepSpeed: consistent"
        if result.consistent
        else f"  DeepSpeed: AssertionError: {result.message}",
    ]
    _emit(args, stdout, result, "\n".join(lines) + "\n")
    return EXIT_CLEAN if result.consistent else EXIT_FINDINGS


def _checkpoint(args: argparse.Namespace, stdout: TextIO) -> int:
    from kubernai.calc import checkpoint
    from kubernai.calc.precision import Precision
    from kubernai.calc.train_memory import Optimizer

    name, sizes = _sizes(args)
    result = checkpoint.calculate(
        sizes.params,
        bandwidth_gb_per_s=args.bandwidth,
        precision=Precision(args.precision),
        optimizer=Optimizer(args.optimizer),
        grace_period_s=args.grace_period,
        model=name,
    )
    verdict = (
        "yes"
        if result.fits
        else "NO: SIGKILL arrives before the full checkpoint is written"
        + (" (the weights alone fit)" if result.weights_only_fits else "")
    )
    lines = [
        f"{result.model}, {result.precision}, {result.optimizer}",
        "",
        *_steps(result.steps),
        "",
        f"  weights only: {result.weights_only_bytes / 1e9:,.1f} GB in "
        f"{result.weights_only_write_s:,.1f} s",
        f"  full resume: {result.full_resume_bytes / 1e9:,.1f} GB in "
        f"{result.full_resume_write_s:,.1f} s",
        f"  fits the {result.grace_period_s:g} s grace period: {verdict}",
    ]
    _emit(args, stdout, result, "\n".join(lines) + "\n")
    return EXIT_CLEAN if result.fits else EXIT_FINDINGS


def _precision(args: argparse.Namespace, stdout: TextIO) -> int:
    from kubernai.calc.precision import describe, find_format, number_formats, supports

    gpu = _find_gpu(args.gpu) if args.gpu else None
    formats = (
        (find_format(args.number_format),) if args.number_format else number_formats()
    )
    facts = [describe(f) for f in formats]
    code = EXIT_CLEAN
    if gpu is not None and args.number_format and not supports(formats[0], gpu):
        code = EXIT_FINDINGS
    if args.format == "json":
        payload: Any = [asdict(f) for f in facts]
        if args.number_format:
            payload = payload[0]
        stdout.write(json.dumps(payload, indent=2) + "\n")
        return code
    lines: list[str] = []
    for fmt, fact in zip(formats, facts, strict=True):
        lines += [
            f"{fact.name}: {fact.torch_dtype}, {fact.bits} bits "
            f"(sign/exponent/mantissa {fact.layout}, bias {fact.bias})",
            f"  max finite:     {fact.max_finite!r} = {fact.max_finite_exact}",
            f"  min normal:     {fact.min_normal!r} = {fact.min_normal_exact}",
            f"  min subnormal:  {fact.min_subnormal!r} = {fact.min_subnormal_exact}",
            f"  epsilon:        {fact.epsilon!r} = {fact.epsilon_exact}",
            f"  infinity: {'yes' if fact.has_infinity else 'no'}; NaN: {fact.nan}",
            f"  needs: {fact.requirement}",
            "  catalog GPUs: " + (", ".join(fact.supported_gpus) or "none"),
            *(f"  note: {note}" for note in fact.notes),
        ]
        if gpu is not None:
            ok = supports(fmt, gpu)
            lines.append(
                f"  {gpu.name} (compute capability {gpu.compute_capability}): "
                + ("supported" if ok else "NOT supported")
            )
        lines.append("")
    stdout.write("\n".join(lines))
    return code
