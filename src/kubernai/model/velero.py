"""Velero Backups and Schedules: which pods a backup covers, which volumes it copies.

Facts, from vmware-tanzu/velero (``main``, read 2026-05):

- ``Backup`` and ``Schedule`` are ``velero.io/v1``; a Schedule's ``spec.template``
  is a BackupSpec (``pkg/apis/velero/v1/{backup,schedule}_types.go``).
- Empty ``includedNamespaces`` means every namespace; ``*`` too; namespace
  lists take glob patterns (``pkg/util/collections/includes_excludes.go``,
  ``site/content/docs/main/namespace-glob-patterns.md``).
- ``includedResources``/``excludedResources``/``includeClusterResources`` (old)
  and ``included|excludedNamespaceScopedResources``,
  ``included|excludedClusterScopedResources`` (new) may not be mixed, and
  ``labelSelector`` and ``orLabelSelectors`` may not both be set: the backup
  ends in ``FailedValidation`` (``pkg/controller/backup_controller.go``,
  ``prepareBackupRequest``).
- ``ttl`` unset or zero takes the server's ``--default-backup-ttl``, 720h by
  default (``pkg/cmd/server/config/config.go``, ``backup_controller.go``).
- Pod volumes are copied by file-system backup (FSB) when
  ``defaultVolumesToFsBackup`` (unset: the server's
  ``--default-volumes-to-fs-backup``, false by default) is true and the pod's
  ``backup.velero.io/backup-volumes-excludes`` does not name them (opt-out), or
  when the pod's ``backup.velero.io/backup-volumes`` names them (opt-in).
  hostPath, Secret, ConfigMap, projected and downwardAPI volumes and
  ``default-token*`` volumes are never copied, nor are PVC volumes when
  ``snapshotMoveData`` is true (``internal/volumehelper/volume_policy_helper.go``,
  ``shouldIncludeVolumeInBackup``); a volume no container mounts, or a block
  volume, is skipped (``pkg/podvolume/backupper.go``). Annotation values are
  split at ``,`` and not trimmed (``pkg/util/podvolume/pod_volume.go``).
- ``snapshotVolumes: false`` turns off PV snapshots, CSI ones included; unset
  snapshots when a provider is set up (``volume_policy_helper.go``,
  ``ShouldPerformSnapshot``).
- A volume policy (``resourcePolicy``) outranks all of the above, and the
  label ``velero.io/exclude-from-backup=true`` keeps an object out
  (``site/content/docs/main/resource-filtering.md``).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import (
    Path,
    Raw,
    Resource,
    get_list,
    get_path,
    get_str,
    iter_maps,
)
from kubernai.model.selector import selector_matches
from kubernai.model.workload import PodTemplate, memoised

VELERO_GROUP = "velero.io"
BACKUP_KINDS = frozenset({"Backup", "Schedule"})
BACKUP_VOLUMES = "backup.velero.io/backup-volumes"
"""Opt-in: the pod volumes to copy with file-system backup."""
BACKUP_VOLUMES_EXCLUDES = "backup.velero.io/backup-volumes-excludes"
"""Opt-out: the pod volumes not to copy."""
VOLUME_ANNOTATIONS = (BACKUP_VOLUMES, BACKUP_VOLUMES_EXCLUDES)
EXCLUDE_LABEL = "velero.io/exclude-from-backup"
DEFAULT_BACKUP_TTL = "720h"
FS_BACKUP_FLAG = "--default-volumes-to-fs-backup"
SNAPSHOT_MOVE_DATA_FLAG = "--default-snapshot-move-data"
TTL_FLAG = "--default-backup-ttl"

NEVER_COPIED_SOURCES = frozenset(
    {"hostPath", "secret", "configMap", "projected", "downwardAPI"}
)
"""Volume sources file-system backup never copies (``shouldIncludeVolumeInBackup``)."""
_POD_NAMES = frozenset({"pods", "pod", "po"})
_POD_HOOK_ANNOTATION = re.compile(
    r"((pre|post)\.)?hook\.backup\.velero\.io/.+|(post|init)\.hook\.restore\.velero\.io/.+"
)
_GLOB_UNSUPPORTED = frozenset("[]{}!\\")


def is_pod_annotation(key: str) -> bool:
    """Whether Velero reads this annotation from pods (volume lists and hooks)."""
    return key in VOLUME_ANNOTATIONS or bool(_POD_HOOK_ANNOTATION.fullmatch(key))


def annotation_names(value: str) -> list[str]:
    """The volume names of an annotation value, split as Velero does (no trim)."""
    return [name for name in value.split(",") if name]


# -- Go durations (metav1.Duration) ------------------------------------------------

_DURATION = re.compile(r"[-+]?((\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h))+")


def is_go_duration(text: str) -> bool:
    """Whether Go's ``time.ParseDuration`` accepts ``text`` (``720h``, ``1h30m``)."""
    return text.lstrip("+-") == "0" or bool(_DURATION.fullmatch(text))


def is_zero_duration(text: str) -> bool:
    """Whether a valid duration is zero (``0``, ``0s``, ``0h0m0s``)."""
    return is_go_duration(text) and not re.search(r"[1-9]", text)


# -- Backups and Schedules -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BackupSpec:
    """The BackupSpec of a Velero Backup, or of the backups a Schedule makes."""

    owner: Resource
    spec: Raw
    path: Path
    """Where the BackupSpec is in ``owner``: ``spec`` or ``spec.template``."""

    def field(self, *steps: str | int) -> Path:
        """Path of a BackupSpec field in the owner."""
        return (*self.path, *steps)

    @property
    def label(self) -> str:
        """``Schedule velero/nightly`` for messages."""
        return self.owner.display()

    def flag(self, name: str) -> bool | None:
        """A boolean field, ``None`` when unset (or not a boolean)."""
        value = self.spec.get(name)
        return value if isinstance(value, bool) else None

    @property
    def has_volume_policy(self) -> bool:
        """Whether a resource policy (volume policies) decides over the defaults."""
        return get_path(self.spec, "resourcePolicy") is not None


def backup_spec(resource: Resource) -> BackupSpec | None:
    """The BackupSpec of a ``velero.io`` Backup or Schedule, else ``None``."""
    if resource.group != VELERO_GROUP or resource.kind not in BACKUP_KINDS:
        return None
    path: Path = ("spec",) if resource.kind == "Backup" else ("spec", "template")
    spec = get_path(resource.raw, *path)
    if isinstance(spec, Mapping):
        return BackupSpec(resource, spec, path)
    if spec is None and resource.kind == "Schedule":
        schedule = get_path(resource.raw, "spec")
        if isinstance(schedule, Mapping):  # no template: a backup of everything
            return BackupSpec(resource, {}, path)
    return None


def velero_backups(graph: ObjectGraph) -> tuple[BackupSpec, ...]:
    """The Backups and the unpaused Schedules of the input (computed once)."""

    def build(graph: ObjectGraph) -> tuple[BackupSpec, ...]:
        found: list[BackupSpec] = []
        for kind in ("Backup", "Schedule"):
            for resource in graph.of_kind(kind):
                spec = backup_spec(resource)
                if spec is None:
                    continue
                if kind == "Schedule" and get_path(resource.raw, "spec", "paused"):
                    continue
                found.append(spec)
        return tuple(found)

    return graph.derived("velero.backups", build)


# -- the Velero server's defaults ----------------------------------------------------


def server_flags(graph: ObjectGraph, namespace: str) -> dict[str, str] | None:
    """Flags of the Velero server Deployment of ``namespace``; ``None`` if absent.

    The server is a Deployment whose container runs ``velero server`` (the
    image names velero and ``server`` is its first argument). A flag without
    a value (``--default-volumes-to-fs-backup``) reads ``true``.
    """
    index = graph.derived("velero.servers", _servers)
    return index.get(namespace)


def _servers(graph: ObjectGraph) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for deployment in graph.of_kind("Deployment"):
        for template in deployment.templates:
            for container in template.containers:
                if container.init or "velero" not in get_str(container.raw, "image"):
                    continue
                words = [
                    w
                    for key in ("command", "args")
                    for w in get_list(container.raw, key)
                    if isinstance(w, str)
                ]
                if "server" not in words[:2] and words[:2] != ["/velero", "server"]:
                    continue
                found.setdefault(deployment.namespace, _flags(words))
    return found


def _flags(words: list[str]) -> dict[str, str]:
    flags: dict[str, str] = {}
    for index, word in enumerate(words):
        if not word.startswith("--"):
            continue
        if "=" in word:
            name, value = word.split("=", 1)
        elif index + 1 < len(words) and not words[index + 1].startswith("-"):
            name, value = word, words[index + 1]
        else:
            name, value = word, "true"
        flags[name] = value
    return flags


@dataclass(frozen=True, slots=True)
class Setting:
    """A BackupSpec switch, server default applied; ``value`` ``None``: unknown."""

    value: bool | None
    shown: str
    """How messages name it: ``defaultVolumesToFsBackup: true``..."""


def _setting(backup: BackupSpec, graph: ObjectGraph, field: str, flag: str) -> Setting:
    own = backup.flag(field)
    if own is not None:
        return Setting(own, f"{field}: {str(own).lower()}")
    flags = server_flags(graph, backup.owner.namespace)
    if flags is None:
        return Setting(None, f"{field} unset")
    value = flags.get(flag, "false").lower() == "true"
    return Setting(value, f"{field} unset, velero server {flag}={str(value).lower()}")


def fs_backup_by_default(backup: BackupSpec, graph: ObjectGraph) -> Setting:
    """Opt-out file-system backup: ``defaultVolumesToFsBackup``, else the server's.

    The deprecated ``defaultVolumesToRestic: true`` counts as true.
    """
    if backup.flag("defaultVolumesToRestic") is True:
        return Setting(True, "defaultVolumesToRestic: true")
    return _setting(backup, graph, "defaultVolumesToFsBackup", FS_BACKUP_FLAG)


def snapshot_move_data(backup: BackupSpec, graph: ObjectGraph) -> Setting:
    """``snapshotMoveData``, else the server's ``--default-snapshot-move-data``."""
    return _setting(backup, graph, "snapshotMoveData", SNAPSHOT_MOVE_DATA_FLAG)


# -- what a backup covers -------------------------------------------------------------


def _names(spec: Raw, key: str) -> list[str] | None:
    """A list of strings; ``None`` when some item is not a string."""
    items = get_list(spec, key)
    if not all(isinstance(item, str) for item in items):
        return None
    return items


def _glob_match(pattern: str, name: str) -> bool | None:
    if any(mark in pattern for mark in _GLOB_UNSUPPORTED):
        return None
    return fnmatch.fnmatchcase(name, pattern)


def namespace_included(spec: Raw, namespace: str) -> bool | None:
    """Whether the namespace is backed up; ``None`` when that cannot be told.

    ``namespace`` ``""`` (left to kubectl) is included only when every
    namespace is.
    """
    includes = _names(spec, "includedNamespaces")
    excludes = _names(spec, "excludedNamespaces")
    if includes is None or excludes is None:
        return None
    everything = not includes or "*" in includes
    if not namespace:
        return True if everything and not excludes else None
    for pattern in excludes:
        matched = _glob_match(pattern, namespace)
        if matched is None:
            return None
        if matched:
            return False
    if everything:
        return True
    unknown = False
    for pattern in includes:
        matched = _glob_match(pattern, namespace)
        if matched:
            return True
        unknown = unknown or matched is None
    return None if unknown else False


def _lists(spec: Raw, *keys: str) -> bool:
    return any(get_path(spec, key) not in (None, []) for key in keys)


def filters_mixed(spec: Raw) -> bool:
    """Old and new resource filters together (a ``FailedValidation`` backup)."""
    old = _lists(spec, "includedResources", "excludedResources") or (
        get_path(spec, "includeClusterResources") is not None
    )
    new = _lists(
        spec,
        "includedClusterScopedResources",
        "excludedClusterScopedResources",
        "includedNamespaceScopedResources",
        "excludedNamespaceScopedResources",
    )
    return old and new


def selectors_conflict(spec: Raw) -> bool:
    """``labelSelector`` and ``orLabelSelectors`` both set (``FailedValidation``)."""
    return (
        get_path(spec, "labelSelector") is not None
        and get_path(spec, "orLabelSelectors") is not None
    )


def pods_included(spec: Raw) -> bool:
    """Whether the backup's resource filters take pods (unknown reads False)."""
    if filters_mixed(spec):
        return False
    for include_key, exclude_key in (
        ("includedResources", "excludedResources"),
        ("includedNamespaceScopedResources", "excludedNamespaceScopedResources"),
    ):
        includes = _names(spec, include_key)
        excludes = _names(spec, exclude_key)
        if includes is None or excludes is None:
            return False
        lowered = {item.lower() for item in excludes}
        if "*" in lowered or lowered & _POD_NAMES:
            return False
        wanted = {item.lower() for item in includes}
        if includes and "*" not in includes and not wanted & _POD_NAMES:
            return False
    return True


def labels_selected(spec: Raw, labels: Mapping[str, Any]) -> bool:
    """Whether the backup's label selectors take an object with ``labels``."""
    if selectors_conflict(spec):
        return False
    single = get_path(spec, "labelSelector")
    if single is not None:
        return selector_matches(single, labels) is True
    several = get_path(spec, "orLabelSelectors")
    if several is not None:
        return any(selector_matches(item, labels) is True for item in get_list(several))
    return True


def covers(
    backup: BackupSpec,
    resource: Resource,
    template: PodTemplate,
    graph: ObjectGraph,
) -> bool:
    """Whether the backup surely takes the template's pods (unknown reads False)."""
    spec = backup.spec
    if str(template.labels.get(EXCLUDE_LABEL, "")).lower() == "true":
        return False
    namespace = resource.namespace
    if namespace:
        found = graph.namespace(namespace)
        if found is not None and (
            str(found.labels.get(EXCLUDE_LABEL, "")).lower() == "true"
        ):
            return False
    if namespace_included(spec, namespace) is not True:
        return False
    return pods_included(spec) and labels_selected(spec, template.labels)


def covering_backups(
    resource: Resource, template: PodTemplate, graph: ObjectGraph
) -> tuple[BackupSpec, ...]:
    """The Backups and Schedules of the input that surely take the template's pods."""
    backups = velero_backups(graph)
    if not backups:
        return ()
    return tuple(b for b in backups if covers(b, resource, template, graph))


# -- which pod volumes file-system backup copies ---------------------------------


@dataclass(frozen=True, slots=True)
class PodVolume:
    """A volume of a pod template, as file-system backup sees it."""

    index: int
    """Index in ``spec.volumes`` (or in a StatefulSet's claim templates)."""
    name: str
    source: str
    """The volume source key (``emptyDir``, ``persistentVolumeClaim``...); ``""``
    when there is not exactly one."""
    raw: Raw
    path: Path
    """Where the volume is declared in the object (for findings)."""


def pod_volumes(template: PodTemplate) -> tuple[PodVolume, ...]:
    """The template's named volumes (read once per template)."""

    def build() -> tuple[PodVolume, ...]:
        found: list[PodVolume] = []
        for index, volume in iter_maps(template.spec, "volumes"):
            name = get_str(volume, "name")
            if not name:
                continue
            sources = [k for k in volume if isinstance(k, str) and k != "name"]
            source = sources[0] if len(sources) == 1 else ""
            path = template.field_path("volumes", index)
            found.append(PodVolume(index, name, source, volume, path))
        return tuple(found)

    return memoised(template, "velero.pod_volumes", build)


def claim_template_volumes(resource: Resource) -> tuple[PodVolume, ...]:
    """The pod volumes a StatefulSet's ``volumeClaimTemplates`` add.

    The StatefulSet controller gives each pod a ``persistentVolumeClaim``
    volume named after each claim template.
    """
    if resource.kind != "StatefulSet":
        return ()
    found: list[PodVolume] = []
    for index, claim in iter_maps(resource.raw, "spec", "volumeClaimTemplates"):
        name = get_str(claim, "metadata", "name")
        if name:
            path: Path = ("spec", "volumeClaimTemplates", index)
            found.append(PodVolume(index, name, "persistentVolumeClaim", claim, path))
    return tuple(found)


def volume_names(resource: Resource, template: PodTemplate) -> frozenset[str]:
    """Names of the pods' volumes, a StatefulSet's claim templates included."""
    volumes = (*pod_volumes(template), *claim_template_volumes(resource))
    return frozenset(v.name for v in volumes)


def mounted_volumes(template: PodTemplate) -> frozenset[str]:
    """Volumes mounted by a regular container (the ones FSB can read)."""
    return frozenset(
        get_str(mount, "name")
        for container in template.containers
        if not container.init
        for _, mount in iter_maps(container.raw, "volumeMounts")
    )


def block_volumes(template: PodTemplate) -> frozenset[str]:
    """Volumes attached as raw block devices (``volumeDevices``)."""
    return frozenset(
        get_str(device, "name")
        for container in template.containers
        for _, device in iter_maps(container.raw, "volumeDevices")
    )


def annotation_value(template: PodTemplate, key: str) -> str:
    """A string pod annotation of the template, ``""`` when absent."""
    value = template.annotations.get(key)
    return value if isinstance(value, str) else ""


def fs_backup_copies(
    template: PodTemplate, volume: PodVolume, *, opt_out: bool, move_data: bool
) -> bool:
    """Whether file-system backup copies the volume of the template's pods."""
    if (
        volume.source in NEVER_COPIED_SOURCES
        or not volume.source
        or volume.name.startswith("default-token")
        or (volume.source == "persistentVolumeClaim" and move_data)
        or volume.name not in mounted_volumes(template)
        or volume.name in block_volumes(template)
    ):
        return False
    if opt_out:
        excluded = annotation_names(annotation_value(template, BACKUP_VOLUMES_EXCLUDES))
        return volume.name not in excluded
    return volume.name in annotation_names(annotation_value(template, BACKUP_VOLUMES))


def annotation_path(resource: Resource, template: PodTemplate, key: str) -> Path:
    """Path of a pod annotation of the template in ``resource`` (for findings)."""
    base = template.path
    candidates: list[Path] = [
        (*base[:-1], "metadata", "annotations", key),
        ("metadata", "annotations", key),
        (*base, "annotations", key),
        (*base, "metadata", "annotations", key),
    ]
    wanted = template.annotations.get(key)
    for candidate in candidates:
        if wanted is not None and get_path(resource.raw, *candidate) is wanted:
            return candidate
    return base
