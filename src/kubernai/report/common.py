"""What every reporter shares: the tool's identity and the rules' links."""

from __future__ import annotations

from kubernai._version import __version__
from kubernai.model.mechanisms import SITE, mechanisms
from kubernai.rules.base import Finding, Rule

TOOL_NAME = "kubernai"
TOOL_URI = SITE


def mechanism_url(slug: str) -> str:
    """The article for a mechanism slug, or ``""`` for tool-level findings."""
    found = mechanisms().get(slug)
    return found.url if found is not None else ""


def rule_url(rule: type[Rule]) -> str:
    """Where to read about a rule: its mechanism's article."""
    return mechanism_url(rule.mechanism) or f"{SITE}/rules/{rule.name}/"


def tool_info() -> dict[str, str]:
    """``{"name", "version"}`` of this kubernai."""
    return {"name": TOOL_NAME, "version": __version__}


def object_label(finding: Finding) -> str:
    """``Kind namespace/name`` of the finding's object, or ``""``."""
    obj = finding.obj
    if obj is None:
        return ""
    name = f"{obj.namespace}/{obj.name}" if obj.namespace else obj.name
    return f"{obj.kind} {name or '(unnamed)'}"
