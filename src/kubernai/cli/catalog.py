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
    header = [f"# {rule.code} {rule.name} ({rule.severity.value})", ""]
    mechanism = mechanisms().get(rule.mechanism)
    if mechanism is not None:
        header.append(f"Mechanism: **{mechanism.title}** ({mechanism.url})")
        header.append("")
    header.append(f'Suppress: `ignore-check.kubernai.io/{rule.name}: "<reason>"`')
    doc = rule.doc()
    summary, _, rest = doc.partition("\n")
    return "\n".join(header) + f"\n\n{summary}\n{rest}"


def _explain_mechanism(slug: str) -> str:
    from kubernai.site.articles import article
    from kubernai.site.render import article_markdown

    found = article(slug)
    if found is not None:
        return f"# {found.title}\n\n*{found.description}*\n\n" + article_markdown(found)
    mechanism = mechanisms()[slug]
    from kubernai.site.coverage import coverage_markdown

    return (
        f"# {mechanism.title}\n\n{mechanism.description}\n\nRead: {mechanism.url}\n\n"
        + coverage_markdown(slug)
    )


def run_explain(
    topic: str, *, stdout: TextIO, markdown_only: bool = False, pager: bool = True
) -> int:
    """Print an article, or a rule's documentation, for the terminal or as Markdown."""
    rule = rule_for(topic)
    slug = topic.strip().lower()
    if rule is not None:
        text = _explain_rule(rule)
    elif slug in mechanisms():
        text = _explain_mechanism(slug)
    else:
        raise InputError(
            f"{topic!r} is neither a mechanism slug nor a rule (see `kubernai rules`)"
        )
    if markdown_only or not stdout.isatty():
        stdout.write(text if text.endswith("\n") else text + "\n")
        return 0
    from rich.console import Console
    from rich.markdown import Markdown

    console = Console(file=stdout)
    if pager and text.count("\n") > console.height:
        with console.pager(styles=True):
            console.print(Markdown(text))
    else:
        console.print(Markdown(text))
    return 0
