"""``kubernai calc``: the calculators on the command line."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import TextIO

from kubernai.calc.catalog import find_gpu, gpus, load_model
from kubernai.calc.kv_cache import GIB, CalcError, KvCacheResult, ServeConfig, calculate
from kubernai.errors import EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE, InputError


def run_calc(args: argparse.Namespace, *, stdout: TextIO) -> int:
    """Dispatch to one calculator."""
    if args.calculator == "kv-cache":
        return _kv_cache(args, stdout)
    from kubernai.cli.calc_training import run_training_calculator

    code = run_training_calculator(args, stdout=stdout)
    if code is not None:
        return code
    raise InputError(
        "calc needs a CALCULATOR: kv-cache, zero, train-memory, batch, checkpoint, "
        "precision (see `kubernai calc --help`)"
    )


def _kv_cache(args: argparse.Namespace, stdout: TextIO) -> int:
    model = load_model(args.model)
    gpu = None
    if args.gpu:
        gpu = find_gpu(args.gpu)
        if gpu is None:
            known = ", ".join(sorted({g.id for g in gpus().values()}))
            raise InputError(
                f"unknown GPU {args.gpu!r} (one of: {known}; or --gpu-memory GIB)"
            )
    elif args.gpu_memory is None and args.kv_cache_memory_bytes is None:
        raise InputError(
            "give --gpu NAME, --gpu-memory GIB or --kv-cache-memory-bytes N"
        )
    config = ServeConfig(
        max_model_len=args.max_model_len,
        tensor_parallel_size=args.tensor_parallel_size,
        pipeline_parallel_size=args.pipeline_parallel_size,
        dtype=args.dtype,
        kv_cache_dtype=args.kv_cache_dtype,
        gpu_memory_utilization=args.gpu_memory_utilization,
        block_size=args.block_size,
        max_num_seqs=args.max_num_seqs,
        max_num_batched_tokens=args.max_num_batched_tokens,
        kv_cache_memory_bytes=args.kv_cache_memory_bytes,
        gpu_memory_bytes=int(args.gpu_memory * GIB) if args.gpu_memory else None,
    )
    try:
        result = calculate(model, gpu, config)
    except CalcError as exc:
        raise InputError(str(exc)) from exc
    if args.format == "json":
        stdout.write(json.dumps(asdict(result), indent=2) + "\n")
    else:
        stdout.write(render_kv_cache(result))
    if not result.fits:
        return EXIT_FINDINGS
    return EXIT_CLEAN if result.kv_cache_tokens else EXIT_USAGE


def render_kv_cache(result: KvCacheResult) -> str:
    """The text view: each step, then the figures vLLM would log."""
    lines = [f"{result.model} on {result.gpu}", ""]
    lines += [f"  {i}. {step}" for i, step in enumerate(result.steps, 1)]
    lines += [
        "",
        f"  Available KV cache memory: {result.kv_cache_bytes / GIB:.2f} GiB",
        f"  GPU KV cache size: {result.kv_cache_tokens:,} tokens",
        f"  Maximum concurrency for {result.max_model_len:,} tokens per request: "
        f"{result.max_concurrency:.2f}x",
    ]
    if result.max_concurrency < result.max_num_seqs:
        lines.append(
            f"  (below max_num_seqs {result.max_num_seqs}: requests queue or are "
            "preempted when the cache is full)"
        )
    lines.append("")
    lines.append(
        "  fits: yes" if result.fits else f"  fits: NO\n  vLLM: {result.message}"
    )
    return "\n".join(lines) + "\n"
