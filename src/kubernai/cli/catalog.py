"""``kubernai rules`` and ``kubernai explain``."""

from __future__ import annotations

import json
from typing import TextIO

from kubernai.errors import InputError
from kubernai.model.mechanisms import mechanisms
from kubernai.report.common import rule_url
from kubernai.rules.base import Rule
from kubernai.rules.catalog import all_rules, rule_for


def rules_markdown() -> str:
    """The rule table of the README, generated from the registry."""
    lines = [
        "| code | name | severity | mechanism | summary |",
        "|---|---|---|---|---|",
    ]
    for rule in all_rules().values():
        mechanism = (
            f"[{rule.mechanism}]({rule_url(rule)})" if rule.mechanism else "(tool)"
        )
        lines.append(
            f"| {rule.code} | `{rule.name}` | {rule.severity.value} | {mechanism} | "
            f"{rule.summary()} |"
        )
    return "\n".join(lines) + "\n"


def run_rules(fmt: str, *, stdout: TextIO) -> int:
    """List the rules as text, JSON or a Markdown table."""
    rules = all_rules().values()
    if fmt == "json":
        payload = [
            {
                "code": r.code,
                "name": r.name,
                "severity": r.severity.value,
                "mechanism": r.mechanism or None,
                "summary": r.summary(),
            }
            for r in rules
        ]
        stdout.write(json.dumps(payload, indent=2) + "\n")
    elif fmt == "md":
        stdout.write(rules_markdown())
    else:
        width = max(len(r.name) for r in rules)
        for r in rules:
            stdout.write(
                f"{r.code}  {r.name:<{width}}  {r.severity.value:<7}  {r.summary()}\n"
            )
    return 0


def _explain_rule(rule: type[Rule]) -> str:
    header = [f"{rule.code} {rule.name} ({rule.severity.value})"]
    mechanism = mechanisms().get(rule.mechanism)
    if mechanism is not None:
        header.append(f"Mechanism: {mechanism.title}")
        header.append(f"Read: {mechanism.url}")
    header.append(f'Suppress: ignore-check.kubernai.io/{rule.name}: "<reason>"')
    return "\n".join(header) + "\n\n" + rule.doc()


def run_explain(topic: str, *, stdout: TextIO) -> int:
    """Print a rule's documentation, or a mechanism's summary and its rules."""
    rule = rule_for(topic)
    if rule is not None:
        stdout.write(_explain_rule(rule))
        return 0
    mechanism = mechanisms().get(topic.strip().lower())
    if mechanism is None:
        raise InputError(
            f"{topic!r} is neither a rule (see `kubernai rules`) nor a mechanism slug"
        )
    covering = [r for r in all_rules().values() if r.mechanism == mechanism.slug]
    lines = [
        mechanism.title,
        f"Section: {mechanism.section}    Tags: {', '.join(mechanism.tags)}",
        "",
        mechanism.description,
        "",
        f"Read: {mechanism.url}",
    ]
    if covering:
        lines += ["", "Checks:"] + [
            f"  {r.code} {r.name}: {r.summary()}" for r in covering
        ]
    stdout.write("\n".join(lines) + "\n")
    return 0
