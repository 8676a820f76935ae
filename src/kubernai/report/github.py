"""``--format github``: workflow commands that GitHub Actions shows as annotations."""

from __future__ import annotations

from kubernai.engine import Report
from kubernai.rules.base import Severity

_LEVELS = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "notice",
}


def _escape(text: str, *, property_value: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def render_github(report: Report) -> str:
    """One ``::error file=…,line=…,title=…::message`` line per finding."""
    lines = []
    for finding in report.findings:
        title = _escape(f"{finding.code} {finding.name}", property_value=True)
        file = _escape(finding.file, property_value=True)
        lines.append(
            f"::{_LEVELS[finding.severity]} file={file},line={finding.line},"
            f"title={title}::{_escape(finding.message)}"
        )
    return "\n".join(lines) + ("\n" if lines else "")
