"""Select rules, run them over the object graph, isolate crashes, apply suppressions."""

from __future__ import annotations

import gc
import traceback
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from kubernai.config import Config
from kubernai.errors import InputError
from kubernai.load.files import LoadResult
from kubernai.model.features import present_features
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, format_path
from kubernai.model.workload import memoised
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
    if memoised(resource, "suppression_marks", lambda: _has_marks(resource)):
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


def _has_marks(resource: Resource) -> bool:
    """Whether the object or one of its pod templates has a suppression annotation."""
    return any(
        isinstance(key, str) and key.startswith(SUPPRESSION_PREFIX)
        for annotations in (
            resource.annotations,
            *(t.annotations for t in resource.templates),
        )
        for key in annotations
    )


def run(loaded: LoadResult, *, config: Config, rules: Sequence[Rule]) -> Report:
    """Run ``rules`` on everything loaded and return the report."""
    with _cyclic_gc_paused():
        return _run(loaded, config=config, rules=rules)


def _run(loaded: LoadResult, *, config: Config, rules: Sequence[Rule]) -> Report:
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


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while the rules run.

    Rules allocate many small objects that reference counting frees, and keep
    memoised results on the objects; each collection would walk every object
    loaded (all manifests, parsed), so a large input spent a sixth of the rule
    phase in the collector. It resumes, as it was, when the rules are done
    (``kubernai check`` keeps it paused for loading as well).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Plan:
    """Which rules to call for an object: by kind, pod templates and features.

    That is a rule's ``kinds``, ``workloads_only`` and ``requires``.
    """

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = rules
        self._by_kind: dict[tuple[str, bool], tuple[list[Rule], frozenset[str]]] = {}
        self._cache: dict[tuple[str, bool, frozenset[str]], list[Rule]] = {}

    def rules_for(self, resource: Resource) -> list[Rule]:
        key = (resource.kind, bool(resource.templates))
        candidates = self._by_kind.get(key)
        if candidates is None:
            candidates = self._by_kind[key] = self._candidates(*key)
        rules, wanted = candidates
        if not wanted:
            return rules
        present = present_features(resource, wanted)
        found = self._cache.get((*key, present))
        if found is None:
            found = [rule for rule in rules if rule.requires <= present]
            self._cache[(*key, present)] = found
        return found

    def _candidates(
        self, kind: str, workload: bool
    ) -> tuple[list[Rule], frozenset[str]]:
        """The rules for a kind, and the features that some of them require."""
        rules = [
            rule
            for rule in self.rules
            if (not rule.kinds or kind in rule.kinds)
            and (workload or not rule.workloads_only)
        ]
        return rules, frozenset().union(*(rule.requires for rule in rules))


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
