"""``kubernai check``: load, run the rules, report, choose the exit code."""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path as FsPath
from typing import TextIO

from kubernai.config import Config, find_config, load_config
from kubernai.engine import Report, run, select_rules
from kubernai.errors import (
    EXIT_CLEAN,
    EXIT_FINDINGS,
    EXIT_INTERNAL,
    ConfigError,
    InputError,
)
from kubernai.load.files import load_paths
from kubernai.report.text import render_text, summary_line
from kubernai.rules.base import Severity

_THRESHOLDS = {
    "error": Severity.ERROR,
    "warning": Severity.WARNING,
    "info": Severity.INFO,
}


def _config(args: argparse.Namespace) -> Config:
    if args.no_config:
        return Config()
    if args.config:
        path = FsPath(args.config)
        if not path.is_file():
            raise ConfigError(f"{args.config}: config file not found")
        return load_config(path)
    found = find_config(FsPath.cwd())
    return load_config(found) if found is not None else Config()


def _render(report: Report, fmt: str, *, colour: bool) -> str:
    if fmt == "json":
        from kubernai.report.json import render_json

        return render_json(report)
    if fmt == "sarif":
        from kubernai.report.sarif import render_sarif

        return render_sarif(report)
    if fmt == "github":
        from kubernai.report.github import render_github

        return render_github(report)
    return render_text(report, colour=colour)


def _colour(choice: str, stream: TextIO) -> bool:
    if choice != "auto":
        return choice == "always"
    return stream.isatty() and not os.environ.get("NO_COLOR")


class _Progress:
    """``reading 120/4000 files`` on a terminal, once loading takes a while."""

    def __init__(self, stream: TextIO, *, after_s: float = 0.5) -> None:
        self.stream = stream
        self.start = time.monotonic()
        self.after_s = after_s
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if time.monotonic() - self.start < self.after_s:
            return
        self.shown = True
        end = "\n" if done + 1 >= total else ""
        self.stream.write(f"\rkubernai: reading {done + 1}/{total} files{end}")
        self.stream.flush()


def exit_code(report: Report, fail_on: str) -> int:
    """3 when a rule crashed, 1 when a finding reaches ``fail_on``, else 0."""
    if report.internal_errors:
        return EXIT_INTERNAL
    if fail_on == "never":
        return EXIT_CLEAN
    threshold = _THRESHOLDS[fail_on].rank
    if any(f.severity.rank >= threshold for f in report.findings):
        return EXIT_FINDINGS
    return EXIT_CLEAN


def run_check(args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO) -> int:
    """The ``check`` command."""
    if not args.paths:
        raise InputError("check needs a PATH (a file, a folder, or - for stdin)")
    if args.max_file_size <= 0:
        raise InputError("--max-file-size must be a positive number of MiB")
    config = _config(args)
    rules = select_rules(config, only=args.rule, disable=args.disable)
    # Loading makes millions of objects and no cycles: the cyclic collector would
    # only rescan them. Freeze what exists before turning it back on.
    gc.disable()
    try:
        stdin = sys.stdin.buffer if "-" in args.paths else None
        loaded = load_paths(
            args.paths,
            stdin=stdin,
            max_file_bytes=int(args.max_file_size * 2**20),
            progress=_Progress(stderr) if stderr.isatty() else None,
        )
        report = run(loaded, config=config, rules=rules)
    finally:
        gc.freeze()
        gc.enable()
    if args.debug:
        for text in report.tracebacks:
            stderr.write(text)
    colour = _colour(args.color, stdout) and not args.output
    rendered = _render(report, args.format, colour=colour)
    if args.output:
        target = FsPath(args.output)
        try:
            partial = target.with_name(target.name + ".partial")
            partial.write_text(rendered, encoding="utf-8")
            partial.replace(target)
        except OSError as exc:
            raise InputError(
                f"{args.output}: cannot write report: {exc.strerror or exc}"
            ) from exc
        print(summary_line(report), file=stderr)
    else:
        stdout.write(rendered)
    if report.files == 0:
        print("kubernai: warning: no manifest files found", file=stderr)
    return exit_code(report, args.fail_on)
