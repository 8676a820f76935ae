"""Pod Security Admission: namespace labels, the policy they set, and evaluation.

A port of ``kubernetes/pod-security-admission`` (read at 8f84a87, 2026-07-01):

- ``api/constants.go`` and ``api/helpers.go``: the six namespace labels, level
  and version parsing (``ParseLevel``, ``ParseVersion``) and how labels resolve
  to a policy (``PolicyToEvaluate``): an invalid ``enforce`` level fails closed
  to ``restricted``, invalid ``audit``/``warn`` levels fail open to
  ``privileged``, an invalid version means ``latest``, and ``warn`` follows an
  explicitly stricter ``enforce`` level when it is not set;
- ``admission/admission.go``: a Namespace whose Pod Security labels do not
  parse is refused on create (and on an update that changes the errors);
  workload objects only get ``warn``/``audit``, pods are enforced;
- ``policy/registry.go``: which checks a level and version runs, in which
  order (baseline IDs sorted, then restricted IDs sorted; a restricted check
  replaces the baseline check it overrides), and that ``latest`` or a version
  newer than the API server's is evaluated as the server's newest one;
- ``policy/checks.go``: the aggregated ``reason (detail), reason (detail)``
  string that follows ``violates PodSecurity "<level>:<version>": ``.

The checks themselves are in ``pod_security_baseline`` and
``pod_security_restricted``. The cluster-wide defaults and exemptions of the
API server's ``PodSecurityConfiguration`` are not in manifests; this module
assumes the built-in ones (every mode ``privileged:latest``, no exemptions).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any

from kubernai.model.graph import ObjectGraph
from kubernai.model.pod_security_baseline import BASELINE_CHECKS
from kubernai.model.pod_security_restricted import RESTRICTED_CHECKS
from kubernai.model.pod_security_view import (
    Check,
    Violation,
    forbidden_detail,
    pod_view,
)
from kubernai.model.resource import Path, Raw, Resource
from kubernai.model.workload import PodTemplate, memoised

LABEL_PREFIX = "pod-security.kubernetes.io/"
MODES = ("enforce", "audit", "warn")
LEVEL_LABELS = tuple(LABEL_PREFIX + mode for mode in MODES)
VERSION_LABELS = tuple(f"{LABEL_PREFIX}{mode}-version" for mode in MODES)
LABEL_KEYS = frozenset((*LEVEL_LABELS, *VERSION_LABELS))
"""The only label keys Pod Security Admission reads; any other key is ignored."""

NEWEST_POLICY_MINOR = 37
"""The newest policy version with its own checks (sysctls v1.37)."""


class Level(StrEnum):
    """A Pod Security Standards level."""

    PRIVILEGED = "privileged"
    BASELINE = "baseline"
    RESTRICTED = "restricted"

    @property
    def strictness(self) -> int:
        """0 for privileged, 1 for baseline, 2 for restricted."""
        return _STRICTNESS[self]


_STRICTNESS = {Level.PRIVILEGED: 0, Level.BASELINE: 1, Level.RESTRICTED: 2}
_VERSION = re.compile(r"v1\.([0-9]|[1-9][0-9]*)")
_LEVEL_ERROR = "must be one of privileged, baseline, restricted"
_VERSION_ERROR = 'must be "latest" or "v1.x"'


@dataclass(frozen=True, slots=True)
class LevelVersion:
    """A level at a policy version; ``minor`` ``None`` is ``latest``."""

    level: Level
    minor: int | None = None

    def __str__(self) -> str:
        version = "latest" if self.minor is None else f"v1.{self.minor}"
        return f"{self.level}:{version}"


@dataclass(frozen=True, slots=True)
class LabelError:
    """A Pod Security label value that admission refuses, with its message."""

    key: str
    value: str
    detail: str

    @property
    def message(self) -> str:
        """The field error the API server returns for the Namespace."""
        return (
            f'metadata.labels[{self.key}]: Invalid value: "{self.value}": {self.detail}'
        )


@dataclass(frozen=True, slots=True)
class NamespacePolicy:
    """The policy a namespace's labels resolve to (``PolicyToEvaluate``)."""

    enforce: LevelVersion
    audit: LevelVersion
    warn: LevelVersion
    errors: tuple[LabelError, ...]
    enforce_labelled: bool
    """Whether a valid ``enforce`` level label is set (not the cluster default)."""


def label_text(value: Any) -> str:
    """A label value as written (YAML may have read ``1.29`` as a number)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def parse_level(value: Any) -> Level | None:
    """The level a label value names, or ``None`` when admission refuses it."""
    if isinstance(value, str):
        try:
            return Level(value)
        except ValueError:
            return None
    return None


def parse_version(value: Any) -> tuple[bool, int | None]:
    """``(valid, minor)`` for a version label; ``minor`` ``None`` means latest."""
    if value == "latest":
        return True, None
    if isinstance(value, str):
        match = _VERSION.fullmatch(value)
        if match:
            return True, int(match.group(1))
    return False, None


def namespace_policy(labels: Mapping[str, Any]) -> NamespacePolicy:
    """Resolve Pod Security labels as admission does, from built-in defaults."""
    errors: list[LabelError] = []
    levels = dict.fromkeys(MODES, Level.PRIVILEGED)
    minors: dict[str, int | None] = dict.fromkeys(MODES, None)
    has_enforce = has_warn = has_warn_version = False
    for mode in MODES:
        key = LABEL_PREFIX + mode
        if key in labels:
            level = parse_level(labels[key])
            if level is None:
                errors.append(LabelError(key, label_text(labels[key]), _LEVEL_ERROR))
                # enforce fails closed; audit and warn fail open
                level = Level.RESTRICTED if mode == "enforce" else Level.PRIVILEGED
            elif mode == "enforce":
                has_enforce = True
            if mode == "warn":
                has_warn = True
            levels[mode] = level
        version_key = f"{key}-version"
        if version_key in labels:
            valid, minor = parse_version(labels[version_key])
            if not valid:
                errors.append(
                    LabelError(
                        version_key, label_text(labels[version_key]), _VERSION_ERROR
                    )
                )
            minors[mode] = minor
            if mode == "warn":
                has_warn_version = True
    if (
        not has_warn
        and has_enforce
        and levels["enforce"].strictness > levels["warn"].strictness
    ):
        levels["warn"] = levels["enforce"]
        if not has_warn_version:
            minors["warn"] = minors["enforce"]
    return NamespacePolicy(
        enforce=LevelVersion(levels["enforce"], minors["enforce"]),
        audit=LevelVersion(levels["audit"], minors["audit"]),
        warn=LevelVersion(levels["warn"], minors["warn"]),
        errors=tuple(errors),
        enforce_labelled=has_enforce,
    )


def namespace_policy_of(
    graph: ObjectGraph, namespace: str
) -> tuple[Resource, NamespacePolicy] | None:
    """The Namespace object and its policy, or ``None`` when it is not in the input."""
    if not namespace:
        return None
    found = graph.namespace(namespace)
    if found is None:
        return None
    labels = found.labels
    policy = memoised(found, "pod-security-policy", lambda: namespace_policy(labels))
    return found, policy


def cluster_minor(kubernetes_version: str) -> int | None:
    """The minor of a version such as ``1.31``, ``v1.31.2``; ``None`` if unknown."""
    match = re.match(r"v?1\.(\d+)", kubernetes_version.strip())
    return int(match.group(1)) if match else None


# -- evaluation -----------------------------------------------------------------------


def checks_for(level: Level, minor: int) -> tuple[str, ...]:
    """The IDs of the checks run for ``level`` at ``v1.<minor>``, in order."""
    return tuple(c.id for c in _active(level, minor))


def _active(level: Level, minor: int) -> Iterator[Check]:
    if level is Level.PRIVILEGED:
        return
    baseline = [c for c in BASELINE_CHECKS if c.since <= minor]
    if level is Level.BASELINE:
        yield from baseline
        return
    restricted = [c for c in RESTRICTED_CHECKS if c.since <= minor]
    overridden = {c.overrides for c in restricted}
    yield from (c for c in baseline if c.id not in overridden)
    yield from restricted


def effective_minor(policy: LevelVersion, cluster: int | None) -> int:
    """The policy version the checks run at.

    ``latest``, and versions newer than the API server, run at the server's
    version (the newest known one when that is unknown).
    """
    newest = cluster if cluster is not None else NEWEST_POLICY_MINOR
    if policy.minor is None or policy.minor > newest:
        return newest
    return policy.minor


def evaluate(
    spec: Raw,
    annotations: Mapping[str, Any],
    policy: LevelVersion,
    *,
    cluster: int | None = None,
) -> tuple[Violation, ...]:
    """The checks a pod spec fails at ``policy``, in admission's order.

    ``cluster`` is the API server's minor version, when known.
    """
    if policy.level is Level.PRIVILEGED:
        return ()
    minor = effective_minor(policy, cluster)
    pod = pod_view(spec, annotations, minor)
    found = (check.run(pod) for check in _active(policy.level, minor))
    return tuple(v for v in found if v is not None)


# -- workloads in labelled namespaces -------------------------------------------------

_NO_PODS = frozenset({"PodTemplate"})
"""Kinds whose templates make no pods by themselves."""
_BUILT_ELSEWHERE = frozenset(
    {"serving.knative.dev", "serving.kserve.io", "trainer.kubeflow.org"}
)
"""API groups whose pods a controller assembles from several objects or
validates and defaults itself (Knative's webhook and its ``secure-pod-defaults``
feature; KServe through Knative or from ServingRuntimes; Kubeflow Trainer from
a runtime plus TrainJob overrides): the template is not what admission sees."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """A pod template that the namespace's ``enforce`` level rejects."""

    template: PodTemplate
    namespace: Resource
    enforce: LevelVersion
    violations: tuple[Violation, ...]
    """What admission lists, at the enforce level, in its order."""
    fails_baseline: bool
    """Whether the template fails the baseline checks too (host access, privileges)."""

    @property
    def detail(self) -> str:
        """The text after ``violates PodSecurity "<level>:<version>": ``."""
        return forbidden_detail(self.violations)

    @property
    def path(self) -> Path:
        """The first offending field in the object."""
        first = self.violations[0].path
        return self.template.field_path(*first) if first else self.template.path


_CREATOR = {
    "Deployment": "its ReplicaSet gets",
    "CronJob": "its Jobs get",
    "ReplicaSet": "the ReplicaSet gets",
    "ReplicationController": "the ReplicationController gets",
    "DaemonSet": "the DaemonSet gets",
    "StatefulSet": "the StatefulSet gets",
    "Job": "the Job gets",
}
"""Who reports ``FailedCreate`` when the pods of a kind are refused."""


def rejection_text(resource: Resource, rejection: Rejection) -> str:
    """The namespace rule, and how the refusal shows, with admission's exact text."""
    enforce = f"{LABEL_PREFIX}enforce"
    namespace = rejection.namespace
    says = (
        f'namespace "{namespace.name}" enforces Pod Security {rejection.enforce} '
        f"({enforce}={label_text(namespace.labels.get(enforce))})"
    )
    text = f'violates PodSecurity "{rejection.enforce}": {rejection.detail}'
    role = rejection.template.role
    source = f" from pod template {role!r}" if role else ""
    if resource.kind == "Pod":
        name = resource.name or "(unnamed)"
        return (
            f'{says}, so the API server refuses the Pod: pods "{name}" is '
            f"forbidden: {text}"
        )
    creator = _CREATOR.get(resource.kind)
    if creator:
        return (
            f"{says}, so {creator} no pods{source} (FailedCreate: pods ... is "
            f"forbidden: {text})"
        )
    return f"{says}, so every pod created{source} is refused: {text}"


def rejections(resource: Resource, graph: ObjectGraph) -> Iterator[Rejection]:
    """The templates of ``resource`` whose pods its namespace's enforce level rejects.

    Only namespaces in the input with a valid, explicit ``enforce`` label of
    ``baseline`` or ``restricted`` count (labels with errors make the API server
    reject the Namespace itself). Templates that another object completes
    (``complete`` False) and Knative, KServe and Kubeflow Trainer objects are
    skipped: their pods get fields from elsewhere.
    """
    if resource.kind in _NO_PODS or resource.group in _BUILT_ELSEWHERE:
        return
    if not resource.templates:
        return
    found = namespace_policy_of(graph, resource.namespace)
    if found is None:
        return
    namespace, policy = found
    if policy.errors or not policy.enforce_labelled:
        return
    enforce = policy.enforce
    if enforce.level is Level.PRIVILEGED:
        return
    cluster = cluster_minor(graph.facts.kubernetes_version)
    for template in resource.templates:
        if not template.complete:
            continue
        verdict = memoised(
            template,
            f"pod-security:{enforce}:{cluster}",
            partial(_judge, template, enforce, cluster),
        )
        if verdict is not None:
            violations, fails_baseline = verdict
            yield Rejection(template, namespace, enforce, violations, fails_baseline)


def _judge(
    template: PodTemplate, enforce: LevelVersion, cluster: int | None
) -> tuple[tuple[Violation, ...], bool] | None:
    violations = evaluate(template.spec, template.annotations, enforce, cluster=cluster)
    if not violations:
        return None
    if enforce.level is Level.BASELINE:
        return violations, True
    baseline = LevelVersion(Level.BASELINE, enforce.minor)
    fails = bool(
        evaluate(template.spec, template.annotations, baseline, cluster=cluster)
    )
    return violations, fails


# -- the GPU Operator ----------------------------------------------------------------


def runs_gpu_operator(image: str) -> bool:
    """Whether an image is NVIDIA's GPU Operator (``nvcr.io/nvidia/gpu-operator``)."""
    name = image.split("@", 1)[0].strip().lower()
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon > slash:
        name = name[:colon]
    segments = name.split("/")
    return segments[-1] == "gpu-operator" and "nvidia" in segments[:-1]
