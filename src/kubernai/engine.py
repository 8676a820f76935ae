"""Select rules, run them over the object graph, isolate crashes, apply suppressions."""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kubernai.config import Config
from kubernai.errors import InputError
from kubernai.load.files import LoadResult
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, format_path
from kubernai.rules.base import Finding, ObjectRef, Rule, Severity
from kubernai.rules.catalog import all_rules, rule_for
from kubernai.rules.tool.internal_error import InternalError
from kubernai.rules.tool.invalid_manifest import InvalidManifest

SUPPRESSION_PREFIX = "ignore-check.kubernai.io/"


@dataclass(slots=True)
class Report:
    """The outcome of one run."""

    findings: list[Finding] = field(default_factory=list)
    suppressed: int = 0
    files: int = 0
    objects: int = 0
    skipped: int = 0
    rules: tuple[type[Rule], ...] = ()
    tracebacks: list[str] = field(default_factory=list)
    """Tracebacks of crashed rules, for ``--debug``."""

    def count(self, severity: Severity) -> int:
        """Findings of one severity."""
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def internal_errors(self) -> int:
        """Rules that crashed."""
        return sum(1 for f in self.findings if f.code == InternalError.code)


def _resolve(keys: Iterable[str], option: str) -> set[str]:
    codes = set()
    for key in keys:
        rule = rule_for(key)
        if rule is None:
            raise InputError(f"{option} {key}: unknown rule (see `kubernai rules`)")
        codes.add(rule.code)
    return codes


def select_rules(
    config: Config, *, only: Sequence[str] = (), disable: Sequence[str] = ()
) -> list[Rule]:
    """The rules to run, with severities from the config.

    ``only`` (``--rule``) runs just those rules, ``disable`` (``--disable``)
    turns rules off; both take codes or names. Tool-level rules always run.
    """
    wanted = _resolve(only, "--rule")
    dropped = _resolve(disable, "--disable") | set(config.disable)
    selected = []
    for code, rule in all_rules().items():
        if rule.tool_level:
            on = code not in dropped or code == InternalError.code
        elif wanted:
            on = code in wanted
        else:
            on = (
                rule.enabled_by_default or code in config.enable
            ) and code not in dropped
        if on:
            selected.append(rule(config.severity.get(code)))
    return selected


def _suppressed(
    finding: Finding, resource: Resource, rule: Rule, config: Config
) -> bool:
    keys = {SUPPRESSION_PREFIX + rule.name, SUPPRESSION_PREFIX + rule.code}
    if any(k in resource.annotations for k in keys):
        return True
    for template in resource.templates:
        prefix = format_path(template.path)
        if finding.path.startswith(prefix) and any(
            k in template.annotations for k in keys
        ):
            return True
    return any(e.covers(rule.code, resource) for e in config.exemptions)


def run(loaded: LoadResult, *, config: Config, rules: Sequence[Rule]) -> Report:
    """Run ``rules`` on everything loaded and return the report."""
    report = Report(
        files=len(loaded.files),
        objects=len(loaded.resources),
        skipped=loaded.skipped,
        rules=tuple(type(r) for r in rules),
    )
    by_code = {r.code: r for r in rules}
    invalid_rule = by_code.get(InvalidManifest.code)
    if invalid_rule is not None:
        for problem in loaded.invalid:
            report.findings.append(
                Finding(
                    code=invalid_rule.code,
                    name=invalid_rule.name,
                    severity=invalid_rule.effective_severity,
                    mechanism="",
                    message=problem.reason,
                    file=problem.file,
                    line=problem.line,
                )
            )
    checks = [r for r in rules if not r.tool_level]
    crash_rule = by_code.get(InternalError.code) or InternalError()
    graph = ObjectGraph(loaded.resources, facts=config.facts)
    plan = _Plan(checks)
    for resource in graph.resources:
        for rule in plan.rules_for(resource):
            try:
                found = list(rule.check(resource, graph))
            except Exception as exc:  # noqa: BLE001 - one crashing rule must not stop the run
                report.findings.append(_crash(crash_rule, rule, resource, exc))
                report.tracebacks.append("".join(traceback.format_exception(exc)))
                continue
            for finding in found:
                if _suppressed(finding, resource, rule, config):
                    report.suppressed += 1
                else:
                    report.findings.append(finding)
    report.findings.sort(key=lambda f: f.sort_key)
    return report


class _Plan:
    """Which rules to call for an object: by their ``kinds`` and ``workloads_only``."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = rules
        self._cache: dict[tuple[str, bool], list[Rule]] = {}

    def rules_for(self, resource: Resource) -> list[Rule]:
        key = (resource.kind, bool(resource.templates))
        found = self._cache.get(key)
        if found is None:
            kind, workload = key
            found = [
                rule
                for rule in self.rules
                if (not rule.kinds or kind in rule.kinds)
                and (workload or not rule.workloads_only)
            ]
            self._cache[key] = found
        return found


def _crash(crash_rule: Rule, rule: Rule, resource: Resource, exc: Exception) -> Finding:
    return Finding(
        code=crash_rule.code,
        name=crash_rule.name,
        severity=crash_rule.effective_severity,
        mechanism="",
        message=(
            f"rule {rule.code} {rule.name} crashed on {resource.display()}: "
            f"{type(exc).__name__}: {exc}"
        ),
        file=resource.source.file,
        line=resource.source.line,
        obj=ObjectRef(
            resource.api_version, resource.kind, resource.namespace, resource.name
        ),
    )
