"""``kubernai``: parse the command line and dispatch; heavy modules load lazily."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from typing import TextIO

from kubernai._version import __version__
from kubernai.cli.audit import add_cluster_commands, run_cluster_command
from kubernai.cli.calc_training import add_training_calculators
from kubernai.cli.dcgm import add_dcgm_command
from kubernai.cli.simulate import add_simulate_command
from kubernai.errors import EXIT_INTERNAL, EXIT_USAGE, KubernaiError

FORMATS = ("text", "json", "sarif", "github")
FAIL_ON = ("error", "warning", "info", "never")


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so ``main`` owns the exit code."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(f"{self.prog}: {message}\n{self.format_usage().strip()}")


class _UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = _Parser(
        prog="kubernai",
        description=(
            "The mechanism reference for AI workloads on Kubernetes, made executable: "
            "find GPU training and LLM serving failure modes in manifests."
        ),
        epilog="Run `kubernai COMMAND --help` for a command's options.",
    )
    parser.add_argument(
        "--version", action="version", version=f"kubernai {__version__}"
    )
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks of internal errors"
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser
    )

    check = commands.add_parser(
        "check",
        help="find failure modes in manifests (files, folders, - for stdin)",
        description=(
            "Check Kubernetes manifests for GPU and AI failure modes. PATH is a "
            "file, a folder (searched for *.yaml, *.yml, *.json) or - for stdin, "
            "e.g. "
            "`helm template my-release ./chart | kubernai check -`."
        ),
        epilog=(
            "Exit codes: 0 nothing at or above --fail-on, 1 findings, 2 usage, "
            "input or config error, 3 internal error. Suppress one finding with "
            'the annotation ignore-check.kubernai.io/<rule-name>: "<reason>" on '
            "the object or its pod template."
        ),
    )
    check.add_argument(
        "paths", nargs="*", metavar="PATH", help="files, folders, or - for stdin"
    )
    check.add_argument(
        "-f",
        "--format",
        choices=FORMATS,
        default="text",
        help="output format (default: text)",
    )
    check.add_argument(
        "-o", "--output", metavar="FILE", help="write the report to FILE"
    )
    check.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="warning",
        help="lowest severity that makes the exit code 1 (default: warning)",
    )
    check.add_argument(
        "--rule",
        action="append",
        default=[],
        metavar="RULE",
        help="run only this rule (code or name; repeatable)",
    )
    check.add_argument(
        "--disable",
        action="append",
        default=[],
        metavar="RULE",
        help="turn a rule off (code or name; repeatable)",
    )
    config = check.add_mutually_exclusive_group()
    config.add_argument(
        "--config",
        metavar="FILE",
        help="config file (default: nearest .kubernai.yaml upward)",
    )
    config.add_argument(
        "--no-config", action="store_true", help="ignore any .kubernai.yaml"
    )
    check.add_argument(
        "--max-file-size",
        type=float,
        default=16.0,
        metavar="MIB",
        help="largest file read, in MiB (default: 16)",
    )
    check.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour in text output (default: auto, on a terminal without NO_COLOR)",
    )
    check.add_argument(
        "--debug", action="store_true", help="show tracebacks of internal errors"
    )

    add_cluster_commands(commands)

    calc = commands.add_parser(
        "calc",
        help="sizing arithmetic: vLLM KV cache, training memory, batches, checkpoints",
        description="Calculators with the arithmetic of the systems they model.",
    )
    calculators = calc.add_subparsers(
        dest="calculator", metavar="CALCULATOR", parser_class=_Parser
    )
    kv = calculators.add_parser(
        "kv-cache",
        help="vLLM KV-cache size, token capacity and concurrency on a GPU",
        description=(
            "Size vLLM's KV cache the way vLLM's V1 engine does: page and block "
            "arithmetic (GQA, MLA, sliding-window layers), weights per GPU, the "
            "memory budget, token capacity, maximum concurrency, and whether "
            "max-model-len fits."
        ),
        epilog=(
            "The activation peak and the memory outside PyTorch are estimates (vLLM "
            "measures them at start-up); pass --kv-cache-memory-bytes to use a known "
            "budget, e.g. the 'Available KV cache memory' of a vLLM log."
        ),
    )
    kv.add_argument(
        "--model",
        required=True,
        metavar="ID|PATH",
        help="HF model id or config.json path",
    )
    gpu = kv.add_mutually_exclusive_group()
    gpu.add_argument(
        "--gpu", metavar="NAME", help="GPU id, nvidia-smi name or GFD product string"
    )
    gpu.add_argument(
        "--gpu-memory",
        type=float,
        metavar="GIB",
        help="device memory as PyTorch reports it",
    )
    kv.add_argument(
        "--max-model-len", type=int, metavar="N", help="default: the model's maximum"
    )
    kv.add_argument("-tp", "--tensor-parallel-size", type=int, default=1, metavar="N")
    kv.add_argument("-pp", "--pipeline-parallel-size", type=int, default=1, metavar="N")
    kv.add_argument(
        "--dtype", default="auto", help="weights and compute dtype (default: auto)"
    )
    kv.add_argument(
        "--kv-cache-dtype",
        default="auto",
        help="auto, bfloat16, float16, fp8, fp8_e4m3, fp8_e5m2",
    )
    kv.add_argument(
        "--gpu-memory-utilization",
        type=float,
        default=0.9,
        metavar="F",
        help="default 0.9 (0.92 in the newest vLLM)",
    )
    kv.add_argument(
        "--max-num-seqs", type=int, metavar="N", help="default: vLLM's for the GPU"
    )
    kv.add_argument(
        "--max-num-batched-tokens",
        type=int,
        metavar="N",
        help="default: vLLM's for the GPU",
    )
    kv.add_argument(
        "--block-size", type=int, metavar="N", help="default 16 (64 for MLA models)"
    )
    kv.add_argument(
        "--kv-cache-memory-bytes",
        type=int,
        metavar="N",
        help="size the cache from this budget",
    )
    kv.add_argument("-f", "--format", choices=("text", "json"), default="text")
    add_training_calculators(calculators)

    rules = commands.add_parser(
        "rules", help="list the rules", description="List every rule kubernai has."
    )
    rules.add_argument("-f", "--format", choices=("text", "json", "md"), default="text")

    explain = commands.add_parser(
        "explain",
        help="read an article of the reference, or a rule's documentation",
        description=(
            "Show the article of a mechanism (slug), or the documentation of a rule "
            "(code or name) with its article's summary. Rendered for the terminal and "
            "paged when long; --format md prints the Markdown."
        ),
    )
    explain.add_argument("topic", metavar="SLUG|CODE|NAME")
    explain.add_argument(
        "-f", "--format", choices=("terminal", "md"), default="terminal"
    )
    explain.add_argument(
        "--no-pager", action="store_true", help="never page the output"
    )

    site = commands.add_parser(
        "site", help="build the reference as a static site with its RSS feed"
    )
    site_commands = site.add_subparsers(
        dest="site_command", metavar="ACTION", parser_class=_Parser
    )
    build = site_commands.add_parser(
        "build",
        help="write the static site (HTML, search index, rss.xml) into OUT",
        description=(
            "Write the reference as a static site: an index by section, tag pages, one "
            "page per article and per rule, client-side search, and rss.xml."
        ),
    )
    build.add_argument("out", metavar="OUT", help="folder to write (created if needed)")
    build.add_argument(
        "--base-url",
        default="https://kubernai.vercel.app/",
        metavar="URL",
        help="where the site is published; used for the feed's links",
    )
    add_simulate_command(commands)
    add_dcgm_command(commands)
    return parser


def entry() -> None:
    """The console script: run, flush, and exit without tearing down the heap.

    A run over thousands of objects leaves millions of small objects; freeing
    them one by one at interpreter exit costs more than the checks did.
    """
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        pass
    os._exit(code)


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run kubernai with ``argv``; returns the exit code."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    try:
        args = build_parser().parse_args(args_list)
    except _UsageError as exc:
        print(exc, file=err)
        return EXIT_USAGE
    except SystemExit as exc:  # --help and --version
        code = exc.code
        return code if isinstance(code, int) else 0
    try:
        if args.command == "check":
            from kubernai.cli.check import run_check

            return run_check(args, stdout=out, stderr=err)
        if args.command == "calc":
            from kubernai.cli.calc import run_calc

            return run_calc(args, stdout=out)
        if args.command == "rules":
            from kubernai.cli.catalog import run_rules

            return run_rules(args.format, stdout=out)
        if args.command == "explain":
            from kubernai.cli.catalog import run_explain

            return run_explain(
                args.topic,
                stdout=out,
                markdown_only=args.format == "md",
                pager=not args.no_pager,
            )
        if args.command == "simulate":
            from kubernai.cli.simulate import run_simulate

            return run_simulate(args, stdout=out, stderr=err)
        if args.command == "dcgm":
            from kubernai.cli.dcgm import run_dcgm

            return run_dcgm(args, stdout=out)
        if args.command == "site":
            from kubernai.cli.site import run_site

            return run_site(args, stdout=out, stderr=err)
        cluster_code = run_cluster_command(args, stdout=out, stderr=err)
        if cluster_code is not None:
            return cluster_code
        build_parser().print_help(out)
        return EXIT_USAGE
    except KubernaiError as exc:
        print(f"kubernai: error: {exc}", file=err)
        return exc.exit_code
    except KeyboardInterrupt:
        print("kubernai: interrupted", file=err)
        return 130
    except BrokenPipeError:  # `kubernai check . | head`: the reader has gone
        return 0
    except Exception:  # noqa: BLE001 - last line of defence
        if debug:
            traceback.print_exc(file=err)
        print("kubernai: internal error (a bug); rerun with --debug", file=err)
        return EXIT_INTERNAL
