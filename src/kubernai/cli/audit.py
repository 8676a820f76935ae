"""``kubernai audit`` and ``kubernai snapshot``: the rules over a live cluster.

``audit`` runs every rule (the static ones and the live-only ones that read
Events, Node status and Pod conditions) over a cluster, or over a snapshot
file with ``--snapshot``; the report formats and exit codes are those of
``check``. ``snapshot`` saves what the audit reads as a ``kind: List``, the
format of ``kubectl get ... -o json``.

This module is imported to build the parser: it imports nothing heavy at the
top. The kubernetes client is loaded only when a cluster is read.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from collections.abc import Sequence

    from kubernai.engine import Report
    from kubernai.load.cluster import ClusterRead, ReadOptions
    from kubernai.rules.base import Rule

COMMANDS = ("audit", "snapshot")
REPORT_FORMATS = ("text", "json", "sarif", "github")  # as ``check``
FAIL_ON = ("error", "warning", "info", "never")
SNAPSHOT_FORMATS = ("json", "yaml")
DEFAULT_SNAPSHOT_MIB = 256.0
_YAML_SUFFIXES = (".yaml", ".yml")
_GZIP_SUFFIX = ".gz"


def _cluster_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--context", metavar="NAME", help="kubeconfig context (default: the current)"
    )
    parser.add_argument(
        "--kubeconfig",
        metavar="PATH",
        help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, else the "
        "in-cluster service account)",
    )
    parser.add_argument(
        "-n",
        "--namespace",
        metavar="NS",
        help="read namespaced resources of NS only (cluster-scoped ones are "
        "still read)",
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="read timeout of each API request (default: 60); failing requests "
        "are retried with backoff",
    )


def add_cluster_commands(commands: Any) -> None:
    """Add ``audit`` and ``snapshot`` to the subcommands of ``kubernai``.

    Args:
        commands: the ``add_subparsers()`` action of the top-level parser.
    """
    audit = commands.add_parser(
        "audit",
        help="find failure modes in a running cluster (read-only) or a snapshot",
        description=(
            "Run every rule, live-only rules on Events, Node status and Pod "
            "conditions included, over a running cluster (kubeconfig or in-cluster "
            "service account; read-only, Secrets are never read) or over a "
            "snapshot file (--snapshot, e.g. from `kubernai snapshot` or "
            "`kubectl get nodes,pods,events -A -o json`)."
        ),
        epilog=(
            "Exit codes: 0 nothing at or above --fail-on, 1 findings, 2 usage, "
            "input or config error or a cluster that cannot be reached, 3 internal "
            "error. A resource that cannot be read (403, repeated 5xx or "
            "timeouts) is a KAI003 cluster-read-error warning and the audit goes on."
        ),
    )
    audit.add_argument(
        "--snapshot",
        metavar="FILE",
        help="audit this saved snapshot (JSON or YAML, optionally gzipped; - for "
        "stdin) instead of a cluster",
    )
    _cluster_options(audit)
    audit.add_argument(
        "-f",
        "--format",
        choices=REPORT_FORMATS,
        default="text",
        help="output format (default: text)",
    )
    audit.add_argument(
        "-o", "--output", metavar="FILE", help="write the report to FILE"
    )
    audit.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="warning",
        help="lowest severity that makes the exit code 1 (default: warning)",
    )
    audit.add_argument(
        "--rule",
        action="append",
        default=[],
        metavar="RULE",
        help="run only this rule (code or name; repeatable)",
    )
    audit.add_argument(
        "--disable",
        action="append",
        default=[],
        metavar="RULE",
        help="turn a rule off (code or name; repeatable)",
    )
    config = audit.add_mutually_exclusive_group()
    config.add_argument(
        "--config",
        metavar="FILE",
        help="config file (default: nearest .kubernai.yaml upward)",
    )
    config.add_argument(
        "--no-config", action="store_true", help="ignore any .kubernai.yaml"
    )
    audit.add_argument(
        "--max-file-size",
        type=float,
        default=DEFAULT_SNAPSHOT_MIB,
        metavar="MIB",
        help=f"largest --snapshot read, decompressed, in MiB (default: "
        f"{DEFAULT_SNAPSHOT_MIB:g})",
    )
    audit.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour in text output (default: auto, on a terminal without NO_COLOR)",
    )
    audit.add_argument(
        "--debug", action="store_true", help="show tracebacks of internal errors"
    )

    snapshot = commands.add_parser(
        "snapshot",
        help="save the cluster objects the audit reads (never Secrets) to a file",
        description=(
            "Read the objects the rules need from a running cluster, read-only, and "
            "save them as a kind: List (the format of `kubectl get -o json`) that "
            "`kubernai audit --snapshot` and `kubernai check` read. Secrets are "
            "never read; ConfigMaps are kept only when a rule reads them."
        ),
        epilog="Exit codes: 0 saved (unreadable resources are warned about), 2 "
        "usage error or a cluster that cannot be reached, 3 internal error.",
    )
    snapshot.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        help="where to save it (- for stdout); a .gz name is gzipped",
    )
    _cluster_options(snapshot)
    snapshot.add_argument(
        "--format",
        choices=SNAPSHOT_FORMATS,
        help="json or yaml (default: from the FILE name, else json)",
    )
    snapshot.add_argument(
        "--gzip", action="store_true", help="gzip the file (default: for a .gz name)"
    )
    snapshot.add_argument(
        "--debug", action="store_true", help="show tracebacks of internal errors"
    )


def run_cluster_command(
    args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO
) -> int | None:
    """Run ``audit`` or ``snapshot``; ``None`` when ``args`` is another command."""
    if args.command == "audit":
        return run_audit(args, stdout=stdout, stderr=stderr)
    if args.command == "snapshot":
        return run_snapshot(args, stdout=stdout, stderr=stderr)
    return None


# --- reading a cluster -----------------------------------------------------------


class _ReadProgress:
    """``kubernai: reading pods (12/40 resources, 1534 objects)`` on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.width = 0

    def __call__(self, done: int, total: int, resource: str, objects: int) -> None:
        if done >= total:
            line = f"kubernai: read {total} resources, {objects} objects"
        else:
            line = (
                f"kubernai: reading {resource} ({done}/{total} resources, "
                f"{objects} objects)"
            )
        padding = " " * max(0, self.width - len(line))
        self.width = len(line)
        end = "\n" if done >= total else ""
        self.stream.write(f"\r{line}{padding}{end}")
        self.stream.flush()


def _read_options(args: argparse.Namespace) -> ReadOptions:
    from kubernai.errors import InputError
    from kubernai.load.cluster import ReadOptions

    if args.request_timeout <= 0:
        raise InputError("--request-timeout must be a positive number of seconds")
    return ReadOptions(
        kubeconfig=args.kubeconfig or "",
        context=args.context or "",
        namespace=args.namespace or "",
        read_timeout_s=args.request_timeout,
    )


def _read(args: argparse.Namespace, stderr: TextIO) -> ClusterRead:
    from kubernai.load.cluster import read_cluster

    progress = _ReadProgress(stderr) if stderr.isatty() else None
    return read_cluster(_read_options(args), progress=progress)


def _warn_errors(read: ClusterRead, stderr: TextIO) -> None:
    for error in read.errors:
        print(f"kubernai: warning: {error.message}", file=stderr)


# --- snapshot --------------------------------------------------------------------


def _snapshot_format(args: argparse.Namespace) -> tuple[str, bool]:
    name = args.output.removesuffix(_GZIP_SUFFIX)
    fmt = args.format or ("yaml" if name.endswith(_YAML_SUFFIXES) else "json")
    return fmt, args.gzip or args.output.endswith(_GZIP_SUFFIX)


def dump_snapshot(document: dict[str, Any], *, fmt: str) -> str:
    """A snapshot as text: JSON as kubectl prints it, or YAML."""
    if fmt == "yaml":
        import yaml

        dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        text: str = yaml.dump(
            document,
            Dumper=dumper,
            sort_keys=False,
            allow_unicode=True,
            default_flow_style=False,
        )
        return text
    import json

    return json.dumps(document, indent=4, ensure_ascii=False) + "\n"


def _write_bytes(target: str, data: bytes) -> None:
    from kubernai.errors import InputError

    path = FsPath(target)
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    except OSError as exc:
        raise InputError(f"{target}: cannot write: {exc.strerror or exc}") from exc


def run_snapshot(args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO) -> int:
    """The ``snapshot`` command."""
    from kubernai.errors import EXIT_CLEAN, InputError
    from kubernai.load.cluster import snapshot_document

    fmt, gzipped = _snapshot_format(args)
    if args.output == "-" and gzipped:
        raise InputError("--gzip writes binary data: give -o FILE, not -")
    read = _read(args, stderr)
    text = dump_snapshot(snapshot_document(read), fmt=fmt)
    if args.output == "-":
        stdout.write(text)
    else:
        data = text.encode("utf-8")
        if gzipped:
            import gzip

            data = gzip.compress(data, compresslevel=6, mtime=0)
        _write_bytes(args.output, data)
    _warn_errors(read, stderr)
    skipped = (
        f"; {read.configmaps_skipped} ConfigMaps no rule reads left out"
        if read.configmaps_skipped
        else ""
    )
    where = "stdout" if args.output == "-" else args.output
    print(
        f"kubernai: saved {len(read.objects)} objects of {read.resources} resources "
        f"from context {read.context} to {where}{skipped}",
        file=stderr,
    )
    return EXIT_CLEAN


# --- audit -----------------------------------------------------------------------


def _read_error_findings(
    report: Report, read: ClusterRead, rules: Sequence[Rule]
) -> None:
    """Add a KAI003 finding per unreadable resource, unless KAI003 is off."""
    from kubernai.rules.base import Finding
    from kubernai.rules.tool.cluster_read_error import ClusterReadError

    rule = next((r for r in rules if r.code == ClusterReadError.code), None)
    if rule is None:
        return
    for error in read.errors:
        report.findings.append(
            Finding(
                code=rule.code,
                name=rule.name,
                severity=rule.effective_severity,
                mechanism="",
                message=f"{error.message}; the audit went on without them",
                file=error.path.removeprefix("/"),
                line=1,
            )
        )
    report.findings.sort(key=lambda f: f.sort_key)


def run_audit(args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO) -> int:
    """The ``audit`` command."""
    from kubernai.cli.check import _colour, _config, _render, exit_code
    from kubernai.engine import run, select_rules
    from kubernai.errors import InputError
    from kubernai.load.cluster import to_load_result
    from kubernai.load.files import load_paths
    from kubernai.report.text import summary_line

    if args.snapshot and (args.context or args.kubeconfig or args.namespace):
        raise InputError(
            "--snapshot audits a file: --context, --kubeconfig and --namespace "
            "are for a live cluster"
        )
    if args.max_file_size <= 0:
        raise InputError("--max-file-size must be a positive number of MiB")
    config = _config(args)
    rules = select_rules(config, only=args.rule, disable=args.disable)
    read = None
    started = time.monotonic()
    if args.snapshot:
        loaded = load_paths(
            [args.snapshot],
            stdin=sys.stdin.buffer if args.snapshot == "-" else None,
            max_file_bytes=int(args.max_file_size * 2**20),
        )
    else:
        read = _read(args, stderr)
        loaded = to_load_result(read)
    report = run(loaded, config=config, rules=rules)
    if read is not None:
        _read_error_findings(report, read, rules)
    if args.debug:
        for text in report.tracebacks:
            stderr.write(text)
        print(f"kubernai: audit took {time.monotonic() - started:.1f} s", file=stderr)
    colour = _colour(args.color, stdout) and not args.output
    rendered = _render(report, args.format, colour=colour)
    if args.output:
        _write_bytes(args.output, rendered.encode("utf-8"))
        print(summary_line(report), file=stderr)
    else:
        stdout.write(rendered)
    if read is not None and read.errors and (args.output or args.format != "text"):
        _warn_errors(read, stderr)
    return exit_code(report, args.fail_on)
