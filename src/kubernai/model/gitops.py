r"""GitOps controllers: Argo CD settings and Applications, Flux intervals and paths.

Sources:
- Go ``time.ParseDuration`` (the grammar every duration below goes through);
- Argo CD ``docs/operator-manual/argocd-cm.yaml`` (``timeout.reconciliation``,
  ``timeout.reconciliation.jitter``), ``util/env/env.go``
  (``ParseDurationFromEnv``: a value that is neither a Go duration nor
  ``<n>[smhd]`` is logged and replaced by the default, as is one below 0),
  ``cmd/argocd-application-controller`` (defaults 120 s + 60 s jitter since
  v3.0.0, PR #22342; 180 s and no jitter before), ``docs/user-guide/
  auto_sync.md`` (``automated: {}`` turns auto-sync on, ``enabled: false``
  turns it off), ``pkg/apis/application/v1alpha1/types.go``
  (``SyncOptions.HasOption`` compares whole strings);
- Flux CRDs (``kustomize-controller``, ``helm-controller``,
  ``source-controller`` ``config/crd/bases``): ``spec.interval`` is required on
  Kustomization, HelmRelease, GitRepository, OCIRepository, Bucket and
  HelmChart (optional on HelmRepository) and every interval must match
  ``^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$``; ``docs/spec/v1/kustomizations.md``
  (``.spec.ignore``, the ``kustomize.toolkit.fluxcd.io/ssa`` and
  ``/reconcile`` annotations).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import PurePosixPath
from typing import Any

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import (
    Path,
    Resource,
    get_list,
    get_map,
    get_path,
    get_str,
    is_placeholder,
    iter_maps,
)

# -- Go durations -------------------------------------------------------------------

_GO_UNITS = {
    "ns": Fraction(1, 10**9),
    "us": Fraction(1, 10**6),
    "\u00b5s": Fraction(1, 10**6),  # micro sign
    "\u03bcs": Fraction(1, 10**6),  # Greek mu
    "ms": Fraction(1, 1000),
    "s": Fraction(1),
    "m": Fraction(60),
    "h": Fraction(3600),
}
_GO_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")
_ARGO_DAYS = re.compile(r"([0-9]+)([smhd])")
_ARGO_DAY_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_MAX_DURATION_CHARS = 64


def parse_go_duration(value: Any) -> Fraction | None:
    """Seconds of a Go duration (``"1h30m"``, ``"0"``, ``"-5s"``); ``None`` if not one.

    Follows ``time.ParseDuration``: an optional sign, then one or more
    numbers (digits, a fraction or both) each followed by a unit; a bare
    ``0`` is the only number allowed without a unit; no spaces.
    """
    if not isinstance(value, str) or len(value) > _MAX_DURATION_CHARS:
        return None
    text, sign = value, 1
    if text[:1] in ("-", "+"):
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if text == "0":
        return Fraction(0)
    if not text:
        return None
    total = Fraction(0)
    position = 0
    while position < len(text):
        match = _GO_PART.match(text, position)
        if match is None or match.end() == position:
            return None
        whole, fraction, unit = match.groups()
        if not whole and not fraction:
            return None  # "." or a unit with no number before it
        seconds = _GO_UNITS.get(unit)
        if seconds is None:
            return None  # no unit, or one Go does not know ("d", " m", "mins")
        number = Fraction(int(whole or "0"))
        if fraction:
            number += Fraction(int(fraction), 10 ** len(fraction))
        total += number * seconds
        position = match.end()
    return sign * total


def parse_argo_duration(value: Any) -> Fraction | None:
    """Seconds of an Argo CD duration setting, ``None`` where Argo CD falls back.

    Argo CD reads these through ``ParseDurationFromEnv``: a Go duration, else
    ``<n>[smhd]`` (days, argo-cd#24740); anything else, or a value below zero,
    is logged and replaced by the default.
    """
    seconds = parse_go_duration(value)
    if seconds is None and isinstance(value, str):
        match = _ARGO_DAYS.fullmatch(value)
        if match is not None:
            seconds = Fraction(int(match[1]) * _ARGO_DAY_UNITS[match[2]])
    if seconds is None or seconds < 0:
        return None
    return seconds


def format_duration(seconds: Fraction) -> str:
    """``90`` → ``90s``, ``1/2`` → ``0.5s``: how messages show a parsed duration."""
    if seconds.denominator == 1:
        return f"{seconds.numerator}s"
    return f"{float(seconds):g}s"


# -- Argo CD settings ---------------------------------------------------------------

ARGO_GROUP = "argoproj.io"
ARGOCD_CM = "argocd-cm"
RECONCILIATION_TIMEOUT = "timeout.reconciliation"
RECONCILIATION_JITTER = "timeout.reconciliation.jitter"
HARD_RECONCILIATION_TIMEOUT = "timeout.hard.reconciliation"
DURATION_SETTINGS = (
    RECONCILIATION_TIMEOUT,
    RECONCILIATION_JITTER,
    HARD_RECONCILIATION_TIMEOUT,
)
"""The ``argocd-cm`` keys the controller reads with ``ParseDurationFromEnv``."""

DEFAULT_RECONCILIATION = "120s plus up to 60s of jitter (180s, no jitter, before 3.0)"
DEFAULT_BY_SETTING = {
    RECONCILIATION_TIMEOUT: "120s (180s before Argo CD 3.0)",
    RECONCILIATION_JITTER: "60s (0s before Argo CD 3.0)",
    HARD_RECONCILIATION_TIMEOUT: "0s, disabled",
}
"""What Argo CD uses when a setting is missing or unreadable."""


@dataclass(frozen=True, slots=True)
class ArgoSetting:
    """One ``argocd-cm`` data key: its value as written, its path and its seconds.

    ``seconds`` is ``None`` when Argo CD cannot read the value and falls back to
    its default.
    """

    key: str
    value: object
    path: Path
    seconds: Fraction | None


def is_argocd_cm(resource: Resource) -> bool:
    """The Argo CD settings ConfigMap (``argocd-cm``)."""
    return (
        resource.kind == "ConfigMap"
        and resource.group == ""
        and resource.name == ARGOCD_CM
    )


def argocd_setting(resource: Resource, key: str) -> ArgoSetting | None:
    """A duration setting of ``argocd-cm``; ``None`` when absent, empty or templated.

    An empty value reaches the controller as an empty variable, which means
    the default.
    """
    path: Path = ("data", key)
    value = get_path(resource.raw, *path)
    if value is None or value == "" or is_placeholder(value):
        return None
    return ArgoSetting(
        key=key, value=value, path=path, seconds=parse_argo_duration(value)
    )


# -- Argo CD Applications -----------------------------------------------------------

RESPECT_IGNORE_DIFFERENCES = "RespectIgnoreDifferences=true"


def application_spec(resource: Resource) -> Path | None:
    """Where the Application spec is; ``None`` for other objects.

    ``spec`` of an Application, ``spec.template.spec`` of an ApplicationSet.

    An ApplicationSet with ``templatePatch`` is left alone: the patch may change
    any field of the template.
    """
    if resource.group != ARGO_GROUP:
        return None
    if resource.kind == "Application":
        return ("spec",)
    if resource.kind == "ApplicationSet":
        if get_path(resource.raw, "spec", "templatePatch") is not None:
            return None
        return ("spec", "template", "spec")
    return None


@dataclass(frozen=True, slots=True)
class SyncPolicy:
    """An Application's ``syncPolicy`` as Argo CD acts on it."""

    auto_sync: bool
    """``automated`` is a mapping and ``automated.enabled`` is not ``false``."""
    self_heal: bool
    """Auto-sync is on and ``automated.selfHeal`` is ``true``."""
    options: tuple[tuple[int, str], ...]
    """``syncOptions`` entries that are strings, with their index."""
    path: Path
    """The path of ``syncPolicy``."""


def sync_policy(resource: Resource, spec: Path) -> SyncPolicy:
    """The sync policy of the Application spec at ``spec``."""
    path = (*spec, "syncPolicy")
    policy = get_map(resource.raw, *path)
    automated = policy.get("automated")
    auto_sync = isinstance(automated, Mapping) and automated.get("enabled") is not False
    self_heal = auto_sync and get_path(automated, "selfHeal") is True
    options = tuple(
        (index, item)
        for index, item in enumerate(get_list(policy, "syncOptions"))
        if isinstance(item, str)
    )
    return SyncPolicy(auto_sync, self_heal, options, path)


def source_paths(resource: Resource, spec: Path) -> Iterator[tuple[str, ...]]:
    """The folders an Application's Git sources render, as path segments.

    Helm chart sources (``chart``) and paths that name no folder of their own
    (``.``, templated, with ``..``) are skipped.
    """
    sources = [get_map(resource.raw, *spec, "source")]
    sources += [item for _, item in iter_maps(resource.raw, *spec, "sources")]
    for source in sources:
        if get_str(source, "chart"):
            continue
        segments = path_segments(source.get("path"))
        if segments:
            yield segments


def path_segments(value: Any) -> tuple[str, ...]:
    """``./apps/vllm/`` → ``("apps", "vllm")``.

    ``()`` for a root, a templated path or one that climbs with ``..``.
    """
    if not isinstance(value, str) or is_placeholder(value) or "{" in value:
        return ()
    parts = tuple(p for p in value.replace("\\", "/").split("/") if p not in ("", "."))
    if ".." in parts:
        return ()
    return parts


def file_under(file: str, segments: tuple[str, ...]) -> bool:
    """Whether ``file`` lies in a folder whose path contains ``segments``.

    The source path is relative to a checkout root whose name is unknown, so
    the segments may start anywhere; subfolders count.
    """
    folders = PurePosixPath(file.replace("\\", "/")).parent.parts
    size = len(segments)
    return any(
        folders[start : start + size] == segments
        for start in range(len(folders) - size + 1)
    )


# -- Flux ---------------------------------------------------------------------------

KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io"
HELM_GROUP = "helm.toolkit.fluxcd.io"
SOURCE_GROUP = "source.toolkit.fluxcd.io"

FLUX_INTERVAL_REQUIRED: dict[tuple[str, str], bool] = {
    (KUSTOMIZE_GROUP, "Kustomization"): True,
    (HELM_GROUP, "HelmRelease"): True,
    (SOURCE_GROUP, "GitRepository"): True,
    (SOURCE_GROUP, "OCIRepository"): True,
    (SOURCE_GROUP, "Bucket"): True,
    (SOURCE_GROUP, "HelmChart"): True,
    (SOURCE_GROUP, "HelmRepository"): False,
}
"""Flux kinds with ``spec.interval``, and whether their CRD requires it."""

FLUX_KINDS = frozenset(kind for _, kind in FLUX_INTERVAL_REQUIRED)
FLUX_INTERVAL_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
"""The CRD validation pattern of Flux intervals and timeouts."""
_FLUX_INTERVAL = re.compile(r"([0-9]+(\.[0-9]+)?(ms|s|m|h))+")

FLUX_APPLY_POLICY = "kustomize.toolkit.fluxcd.io/ssa"
FLUX_RECONCILE = "kustomize.toolkit.fluxcd.io/reconcile"
FLUX_HANDS_OFF_POLICIES = frozenset({"IfNotPresent", "Ignore"})
"""``ssa`` policies under which Flux does not reapply an existing object."""


_FLUX_OTHER_REQUIRED: dict[str, tuple[Path, ...]] = {
    "Kustomization": (("spec", "sourceRef"),),
    "HelmRelease": (("spec", "chart", "spec", "chart"), ("spec", "chartRef")),
    "GitRepository": (("spec", "url"),),
    "OCIRepository": (("spec", "url"),),
    "Bucket": (("spec", "bucketName"),),
    "HelmChart": (("spec", "chart"),),
}
"""Other required fields (any one of the paths) of each Flux kind."""


def is_whole_flux_object(resource: Resource) -> bool:
    """Whether the object sets the other fields its CRD requires.

    Kustomize overlays patch Flux objects with partial copies (a HelmRelease
    holding only ``values``); those lack the interval on purpose.
    """
    paths = _FLUX_OTHER_REQUIRED.get(resource.kind, ())
    return any(get_path(resource.raw, *path) is not None for path in paths)


def flux_interval_required(resource: Resource) -> bool | None:
    """Whether the Flux CRD of this object requires ``spec.interval``.

    ``None`` when the object is not a Flux object with an interval.
    """
    return FLUX_INTERVAL_REQUIRED.get((resource.group, resource.kind))


def is_flux_interval(value: Any) -> bool:
    """Whether the API server accepts ``value`` as a Flux interval."""
    return (
        isinstance(value, str)
        and len(value) <= _MAX_DURATION_CHARS
        and _FLUX_INTERVAL.fullmatch(value) is not None
    )


def is_flux_kustomization(resource: Resource) -> bool:
    """A Flux Kustomization (not a ``kustomize.config.k8s.io`` kustomization file)."""
    return resource.kind == "Kustomization" and resource.group == KUSTOMIZE_GROUP


def flux_skips(workload: Resource) -> bool:
    """Whether the workload tells Flux not to reapply it once it exists."""
    for marks in (workload.annotations, workload.labels):
        if marks.get(FLUX_RECONCILE) == "disabled":
            return True
    return workload.annotations.get(FLUX_APPLY_POLICY) in FLUX_HANDS_OFF_POLICIES


# -- Who reapplies a workload -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reconciler:
    """A self-healing Application or a Flux Kustomization, and its Git folders.

    These keep reapplying the manifests under the folders.
    """

    resource: Resource
    spec: Path
    folders: tuple[tuple[str, ...], ...]
    namespace: str
    """Where it puts objects that name no namespace (``""``: not said)."""

    @property
    def flux(self) -> bool:
        """A Flux Kustomization (else an Argo CD Application)."""
        return self.resource.group == KUSTOMIZE_GROUP

    def manages(self, workload: Resource) -> bool:
        """Whether the workload's file is under a folder, in the right namespace."""
        return bool(self.folder_of(workload))

    def folder_of(self, workload: Resource) -> tuple[str, ...]:
        """The folder the workload's file lies under, ``()`` when it is not managed.

        The namespace must agree with the destination when both are set.
        """
        if self.namespace and workload.namespace not in ("", self.namespace):
            return ()
        for folder in self.folders:
            if file_under(workload.source.file, folder):
                return folder
        return ()


def reconcilers(graph: ObjectGraph) -> tuple[Reconciler, ...]:
    """Self-healing Applications and active Flux Kustomizations of the input."""
    return graph.derived("gitops.reconcilers", _build_reconcilers)


def _build_reconcilers(graph: ObjectGraph) -> tuple[Reconciler, ...]:
    found: list[Reconciler] = []
    for app in graph.of_kind("Application"):
        spec = application_spec(app)
        if spec is None or app.kind != "Application":
            continue
        if not sync_policy(app, spec).self_heal:
            continue
        folders = tuple(source_paths(app, spec))
        if folders:
            namespace = get_str(app.raw, *spec, "destination", "namespace")
            found.append(Reconciler(app, spec, folders, namespace))
    for kustomization in graph.of_kind("Kustomization"):
        if not is_flux_kustomization(kustomization):
            continue
        if get_path(kustomization.raw, "spec", "suspend") is True:
            continue
        folders = tuple(
            f
            for f in (path_segments(get_path(kustomization.raw, "spec", "path")),)
            if f
        )
        if folders:
            namespace = get_str(kustomization.raw, "spec", "targetNamespace")
            found.append(Reconciler(kustomization, ("spec",), folders, namespace))
    return tuple(found)


REPLICAS_POINTER = "/spec/replicas"
REPLICAS_JQ = ".spec.replicas"


def ignores_replicas(reconciler: Reconciler, workload: Resource) -> bool:
    """Whether the reconciler leaves the workload's ``spec.replicas`` alone.

    Argo CD: an ``ignoreDifferences`` entry for the workload's kind (globs
    allowed) and name that names ``/spec/replicas`` (or a parent) or any
    ``managedFieldsManagers``. Flux: an ``ignore`` rule with such a path whose
    target (regexes, read leniently) may select the workload. Unreadable
    entries count as ignoring: the check stays quiet when unsure.
    """
    key = "ignore" if reconciler.flux else "ignoreDifferences"
    for _, entry in iter_maps(reconciler.resource.raw, *reconciler.spec, key):
        if reconciler.flux:
            target = get_map(entry, "target")
            kind, name = get_str(target, "kind"), get_str(target, "name")
            pointers, jq, managers = entry.get("paths"), None, None
        else:
            kind, name = get_str(entry, "kind"), get_str(entry, "name")
            pointers = entry.get("jsonPointers")
            jq = entry.get("jqPathExpressions")
            managers = entry.get("managedFieldsManagers")
        if not _may_name(kind, workload.kind) or not _may_name(name, workload.name):
            continue
        if managers:
            return True
        if any(_covers_replicas(p, REPLICAS_POINTER, "/") for p in _strings(pointers)):
            return True
        if any(_covers_replicas(p, REPLICAS_JQ, ".") for p in _strings(jq)):
            return True
    return False


_PATTERN_MARKS = frozenset("*?[]().|+^$\\{}")


def _may_name(pattern: str, value: str) -> bool:
    """An empty selector, the exact value, or a pattern (assumed to match)."""
    return not pattern or pattern == value or any(c in _PATTERN_MARKS for c in pattern)


def _covers_replicas(path: str, replicas: str, separator: str) -> bool:
    path = path.strip().rstrip(separator)
    return replicas == path or replicas.startswith(path + separator) or path == ""


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
