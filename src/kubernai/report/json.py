"""``--format json``: the stable machine-readable report (schema_version 1)."""

from __future__ import annotations

import json
from typing import Any

from kubernai.engine import Report
from kubernai.report.common import tool_info
from kubernai.rules.base import Finding, Severity

SCHEMA_VERSION = 1


def _finding(finding: Finding) -> dict[str, Any]:
    obj = finding.obj
    return {
        "code": finding.code,
        "name": finding.name,
        "severity": finding.severity.value,
        "mechanism": finding.mechanism or None,
        "message": finding.message,
        "file": finding.file,
        "line": finding.line,
        "object": None
        if obj is None
        else {
            "apiVersion": obj.api_version,
            "kind": obj.kind,
            "namespace": obj.namespace or None,
            "name": obj.name,
        },
        "path": finding.path or None,
    }


def render_json(report: Report) -> str:
    """The report as JSON; ``errors`` repeats the tool-level (KAI) findings."""
    document = {
        "schema_version": SCHEMA_VERSION,
        "tool": tool_info(),
        "summary": {
            "files": report.files,
            "objects": report.objects,
            "skipped_documents": report.skipped,
            "findings": len(report.findings),
            "suppressed": report.suppressed,
            "by_severity": {s.value: report.count(s) for s in Severity},
        },
        "findings": [_finding(f) for f in report.findings],
        "errors": [
            {"code": f.code, "file": f.file, "line": f.line, "message": f.message}
            for f in report.findings
            if f.code.startswith("KAI")
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
