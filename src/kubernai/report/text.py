"""``--format text``: findings grouped by file, for people."""

from __future__ import annotations

from itertools import groupby

from kubernai.engine import Report
from kubernai.report.common import mechanism_url, object_label
from kubernai.rules.base import Severity

_COLOURS = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.INFO: "36"}


def _paint(text: str, code: str, colour: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if colour else text


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def summary_line(report: Report) -> str:
    """One line: counts by severity, files, objects, skipped and suppressed."""
    errors, warnings = report.count(Severity.ERROR), report.count(Severity.WARNING)
    info = report.count(Severity.INFO)
    parts = [
        f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}, {info} info",
        f"in {_plural(report.files, 'file')} ({_plural(report.objects, 'object')}",
    ]
    extras = []
    if report.skipped:
        extras.append(f"{report.skipped} non-Kubernetes document(s) skipped")
    if report.suppressed:
        extras.append(f"{report.suppressed} suppressed")
    tail = "; " + ", ".join(extras) if extras else ""
    return f"{parts[0]} {parts[1]}{tail})"


def render_text(report: Report, *, colour: bool = False) -> str:
    """Findings grouped by file, then the summary line."""
    lines: list[str] = []
    for file, group in groupby(report.findings, key=lambda f: f.file):
        lines.append(_paint(file, "1", colour))
        for finding in group:
            severity = finding.severity
            label = _paint(f"{severity.value:<7}", _COLOURS[severity], colour)
            rule = f"{finding.code} {finding.name}"
            lines.append(f"  {finding.line:>5}  {label}  {rule}  {finding.message}")
            where = object_label(finding)
            if finding.path:
                where = f"{where} {finding.path}" if where else finding.path
            url = mechanism_url(finding.mechanism)
            details = "  ·  ".join(part for part in (where, url) if part)
            if details:
                lines.append(_paint(f"{'':7}{'':9}  {details}", "2", colour))
        lines.append("")
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"
