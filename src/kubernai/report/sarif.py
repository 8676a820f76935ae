"""``--format sarif``: SARIF 2.1.0 for GitHub code scanning and other consumers.

Suppressed findings are left out (GitHub does not honour SARIF suppressions);
a run with no findings still has ``"results": []``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kubernai._version import __version__
from kubernai.engine import Report
from kubernai.model.mechanisms import mechanisms
from kubernai.report.common import TOOL_NAME, TOOL_URI, object_label, rule_url
from kubernai.rules.base import REGISTRY, Finding, Rule, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _descriptor(rule: type[Rule]) -> dict[str, Any]:
    url = rule_url(rule)
    mechanism = mechanisms().get(rule.mechanism)
    read = f"\n\nRead: [{mechanism.title}]({url})" if mechanism is not None else ""
    tags = ["kubernai", mechanism.section if mechanism is not None else "tool"]
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary()[:1024]},
        "fullDescription": {
            "text": (rule.section_text("Mechanism") or rule.summary())[:1024]
        },
        "helpUri": url,
        "help": {
            "text": f"{rule.summary()} See {url}",
            "markdown": rule.doc() + read,
        },
        "defaultConfiguration": {"level": _LEVELS[rule.severity]},
        "properties": {
            "tags": tags,
            "precision": "high",
            "problem.severity": "error"
            if rule.severity == Severity.ERROR
            else "warning",
            "mechanism": rule.mechanism or None,
        },
    }


def _uri(file: str) -> str:
    if file == "<stdin>":
        return "stdin"
    path = os.path.relpath(file) if Path(file).is_absolute() else file
    return quote(path.replace(os.sep, "/").removeprefix("./"), safe="/")


def _result(finding: Finding, index: int) -> dict[str, Any]:
    label = object_label(finding)
    fingerprint = hashlib.sha256(
        "\0".join(
            (finding.code, finding.file, label, finding.path, finding.message)
        ).encode()
    ).hexdigest()[:32]
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": {"uri": _uri(finding.file)},
            "region": {"startLine": max(finding.line, 1)},
        }
    }
    if finding.obj is not None:
        location["logicalLocations"] = [
            {
                "name": finding.obj.name or "(unnamed)",
                "fullyQualifiedName": label,
                "kind": "resource",
            }
        ]
    return {
        "ruleId": finding.code,
        "ruleIndex": index,
        "level": _LEVELS[finding.severity],
        "message": {
            "text": f"{finding.message} ({label})" if label else finding.message
        },
        "locations": [location],
        "partialFingerprints": {"kubernai/v1": fingerprint},
        "properties": {"name": finding.name, "path": finding.path or None},
    }


def render_sarif(report: Report) -> str:
    """The report as a SARIF 2.1.0 log with one run."""
    rules = list(report.rules)
    for (
        finding
    ) in report.findings:  # a tool-level rule may report without being selected
        if all(r.code != finding.code for r in rules):
            rules.append(REGISTRY[finding.code])
    index = {rule.code: i for i, rule in enumerate(rules)}
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": TOOL_URI,
                        "rules": [_descriptor(rule) for rule in rules],
                    }
                },
                "results": [_result(f, index[f.code]) for f in report.findings],
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
