"""What backs a training checkpoint, and whether pods on other nodes can reach it.

Builds on :mod:`kubernai.model.checkpoint` (which options and mounts hold
checkpoints, ``storage_of``). Facts (data in ``data/checkpoint_storage.json``):

- kubernetes.io/docs/concepts/storage/persistent-volumes/#access-modes:
  ``ReadWriteOnce`` is mounted read-write by a single node (several pods on
  that node may share it), ``ReadWriteOncePod`` by a single pod;
- ``pkg/controller/volume/attachdetach/reconciler/reconciler.go``
  (``isMultiAttachForbidden``, ``reportMultiAttachError``): a PersistentVolume
  whose access modes include neither ``ReadWriteMany`` nor ``ReadOnlyMany`` is
  not attached to a second node; the pod there gets the event
  ``FailedAttachVolume`` ``Multi-Attach error for volume "pvc-..." Volume is
  already used by pod(s) ...``. Only attachable volumes are concerned (CSI
  drivers with ``attachRequired: false``, NFS, are not);
- kube-scheduler VolumeRestrictions: a second pod of a ``ReadWriteOncePod``
  claim stays Pending with ``node(s) unavailable due to PersistentVolumeClaim
  with ReadWriteOncePod access mode already in-use by another pod``;
- a dynamically provisioned PersistentVolume gets the claim's access modes
  (external-provisioner); a claim bound to an existing volume gets the
  volume's, which is why an absent volume is unknown;
- kubernetes/kubernetes#58720 (1.10): ``configMap``, ``secret``,
  ``downwardAPI`` and ``projected`` volumes are always mounted read-only; the
  ``image`` volume source is read-only (API reference); a volume source's own
  ``readOnly: true`` (``persistentVolumeClaim.readOnly``...) mounts it
  read-only (kubernetes/kubernetes#37465). ``ReadOnlyMany`` alone does not
  make a mount read-only (same issue), so it is not used here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from kubernai.model.checkpoint import (
    Option,
    Storage,
    checkpoint_mounts,
    checkpoint_options,
    is_checkpoint_dir_key,
    is_checkpoint_key,
    storage_of,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import (
    Path,
    Raw,
    Resource,
    get_map,
    get_path,
    get_str,
    iter_maps,
)
from kubernai.model.topology import (
    HOSTNAME,
    REQUIRED,
    selected_values,
)
from kubernai.model.workload import Container, PodTemplate, memoised

READ_WRITE_ONCE = "ReadWriteOnce"
READ_WRITE_ONCE_POD = "ReadWriteOncePod"
READ_WRITE_MANY = "ReadWriteMany"
READ_ONLY_MANY = "ReadOnlyMany"
ACCESS_MODES = frozenset(
    {READ_WRITE_ONCE, READ_WRITE_ONCE_POD, READ_WRITE_MANY, READ_ONLY_MANY}
)
MULTI_NODE_MODES = frozenset({READ_WRITE_MANY, READ_ONLY_MANY})
"""Modes that let the attach/detach controller attach a volume to several nodes."""
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
_ALWAYS_READ_ONLY = ("configMap", "secret", "downwardAPI", "projected", "image")
_TOKENS = re.compile(r"[/_.-]+")


@cache
def _catalog() -> dict[str, Any]:
    text = (
        resources.files("kubernai")
        .joinpath("data/checkpoint_storage.json")
        .read_text("utf-8")
    )
    data: dict[str, Any] = json.loads(text)
    return data


# -- where a container writes checkpoints ------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckpointTarget:
    """A place a container writes checkpoints to, and the volume behind it."""

    path: str
    """The checkpoint path: an option's value or a mount path."""
    evidence: str
    """Why it holds checkpoints: ``--output_dir /out`` or ``volume 'ckpt' ...``."""
    field: Path
    """Path of the option or volumeMount (where a finding points)."""
    storage: Storage
    option: Option | None
    """The option that names the path; ``None`` for a checkpoint mount."""
    mount: Raw
    """The volumeMount that covers the path (empty for the container layer)."""
    volume: Raw
    """The pod volume of that mount (empty for the container layer)."""


def writes_checkpoints(option: Option) -> bool:
    """An option naming a directory checkpoints are written to (not read from).

    :func:`kubernai.model.checkpoint.is_checkpoint_dir_key`, less torchtune's
    ``checkpointer.checkpoint_dir``: the directory the base weights are read
    from (the checkpointer writes to ``output_dir``).
    """
    if not is_checkpoint_dir_key(option):
        return False
    parts = option.key.lower().split(".")
    return not (len(parts) > 1 and parts[-2:] == ["checkpointer", "checkpoint_dir"])


def names_output(option: Option) -> bool:
    """A checkpoint option that can only mean writing: an output or save directory.

    ``--output_dir``, ``--save_dir``, ``OUTPUT_DIR``, Megatron ``--save``,
    ``default_root_dir``, ``exp_dir``, or a checkpoint key with ``save`` or
    ``output`` in it (``--save_checkpoint_dir``, ``checkpointer.output_dir``).
    A bare ``--checkpoint_dir`` or ``CHECKPOINT_DIR`` is also where jobs load
    checkpoints from, so it does not count.
    """
    if not writes_checkpoints(option):
        return False
    if not is_checkpoint_key(option.key):
        return True  # an output directory or Megatron's --save
    key = option.key.lower()
    return "save" in key or "output" in key


def checkpoint_targets(
    template: PodTemplate, container: Container
) -> tuple[CheckpointTarget, ...]:
    """Checkpoint mounts, then absolute checkpoint paths given in options."""
    return memoised(
        container, "checkpoint_targets", lambda: tuple(_targets(template, container))
    )


def _targets(template: PodTemplate, container: Container) -> Iterator[CheckpointTarget]:
    for index, mount_path, name in checkpoint_mounts(container):
        storage = storage_of(template, container, mount_path)
        if storage is not None:
            yield _target(
                template,
                container,
                storage,
                path=mount_path,
                evidence=f"volume {name!r} mounted at {mount_path}",
                field=(*container.path, "volumeMounts", index),
                option=None,
            )
    for option in checkpoint_options(container):
        value = option.value
        if not value.startswith("/") or not writes_checkpoints(option):
            continue
        storage = storage_of(template, container, value)
        if storage is not None:
            yield _target(
                template,
                container,
                storage,
                path=value,
                evidence=option.shown,
                field=option.path,
                option=option,
            )


def _target(
    template: PodTemplate,
    container: Container,
    storage: Storage,
    *,
    path: str,
    evidence: str,
    field: Path,
    option: Option | None,
) -> CheckpointTarget:
    mount: Raw = {}
    volume: Raw = {}
    if storage.kind != "container":
        for _, candidate in iter_maps(container.raw, "volumeMounts"):
            if (
                get_str(candidate, "mountPath") == storage.mount_path
                and get_str(candidate, "name") == storage.volume
            ):
                mount = candidate
                break
        for _, candidate in iter_maps(template.spec, "volumes"):
            if get_str(candidate, "name") == storage.volume:
                volume = candidate
                break
    return CheckpointTarget(path, evidence, field, storage, option, mount, volume)


def read_only_reason(target: CheckpointTarget) -> str:
    """Why the target's mount is read-only, or ``""`` when it is writable."""
    kind = target.storage.kind
    if target.mount.get("readOnly") is True:
        return "its volumeMount sets readOnly: true"
    if kind in _ALWAYS_READ_ONLY:
        return f"{kind} volumes are always mounted read-only"
    if get_path(target.volume, kind, "readOnly") is True:
        return f"the volume sets {kind}.readOnly: true"
    return ""


def host_path(target: CheckpointTarget) -> str:
    """The node directory behind a hostPath target (``""`` if unreadable)."""
    return get_str(target.volume, "hostPath", "path")


def is_shared_host_path(path: str) -> bool:
    """Whether a host directory looks like a network filesystem on every node.

    A heuristic on the path's words (``/fsx``, ``/mnt/nfs``, ``/lustre``...).
    """
    words = frozenset(_catalog()["shared_host_path_words"]["words"])
    return any(token in words for token in _TOKENS.split(path.lower()))


# -- where the pods run ----------------------------------------------------------------


def single_node(template: PodTemplate) -> str:
    """Why all of the template's pods run on one node, or ``""``.

    ``nodeName``, a ``kubernetes.io/hostname`` node selector or required node
    affinity with one value, or required pod affinity on
    ``kubernetes.io/hostname`` (the pods follow each other or another pod).
    """
    node = get_str(template.spec, "nodeName")
    if node:
        return f"nodeName: {node}"
    hosts = selected_values(template, HOSTNAME)
    if len(hosts) == 1:
        return f"{HOSTNAME}={hosts[0]}"
    for _, term in iter_maps(template.spec, "affinity", "podAffinity", REQUIRED):
        if get_str(term, "topologyKey") == HOSTNAME:
            return f"required podAffinity on {HOSTNAME}"
    return ""


def runs_after_others(resource: Resource, template: PodTemplate) -> bool:
    """Whether the template's pods wait for others to finish (``dependsOn``).

    JobSet and Trainer runtime replicated jobs, and Volcano Job tasks, may
    depend on others; their pods do not run at the same time as those.
    """
    path = template.path
    for marker in ("replicatedJobs", "tasks"):
        if marker in path:
            at = len(path) - 1 - path[::-1].index(marker)
            holder = get_map(resource.raw, *path[: at + 2])
            if holder.get("dependsOn"):
                return True
    return False


# -- persistent volume claims ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimUse:
    """A pod volume of a template that mounts a PersistentVolumeClaim."""

    claim: str
    template: PodTemplate
    field: Path
    """Path of ``persistentVolumeClaim.claimName``."""


def claim_uses(resource: Resource) -> dict[str, list[ClaimUse]]:
    """The claims a workload's pods mount, by claim name, in manifest order."""
    found: dict[str, list[ClaimUse]] = {}
    for template in resource.templates:
        for index, volume in iter_maps(template.spec, "volumes"):
            claim = get_str(volume, "persistentVolumeClaim", "claimName")
            if claim:
                field = template.field_path(
                    "volumes", index, "persistentVolumeClaim", "claimName"
                )
                found.setdefault(claim, []).append(ClaimUse(claim, template, field))
    return found


@dataclass(frozen=True, slots=True)
class AccessModes:
    """The access modes that decide how a claim's volume may be shared."""

    modes: tuple[str, ...]
    volume: Resource | None
    """The PersistentVolume they were read from; ``None``: the claim's own."""

    def shown(self) -> str:
        """``[ReadWriteOnce]``."""
        return "[" + ", ".join(self.modes) + "]"


def _modes(raw: Any) -> tuple[str, ...] | None:
    if not isinstance(raw, list) or not raw:
        return None
    if not all(isinstance(mode, str) and mode in ACCESS_MODES for mode in raw):
        return None
    return tuple(dict.fromkeys(raw))


def _volumes_by_claim(graph: ObjectGraph) -> dict[tuple[str, str], Resource]:
    index: dict[tuple[str, str], Resource] = {}
    for volume in graph.of_kind("PersistentVolume"):
        ref = get_map(volume.raw, "spec", "claimRef")
        name = get_str(ref, "name")
        if name:
            index.setdefault((get_str(ref, "namespace"), name), volume)
    return index


def volume_access_modes(claim: Resource, graph: ObjectGraph) -> AccessModes | None:
    """The access modes of the volume a claim gets; ``None`` when unknown.

    A volume bound to the claim (``spec.volumeName``, or a PersistentVolume
    in the input whose ``claimRef`` names it) decides; without one, a
    dynamically provisioned volume copies the claim's modes. A claim that
    names a volume not in the input, or ``storageClassName: ""`` (static
    binding only), is unknown.
    """
    spec = get_map(claim.raw, "spec")
    volume_name = get_str(spec, "volumeName")
    volume: Resource | None
    if volume_name:
        volume = graph.get("PersistentVolume", "", volume_name)
    else:
        bound = graph.derived("checkpoint_storage.pv_by_claim", _volumes_by_claim)
        keys = [(claim.namespace, claim.name)]
        if claim.namespace in ("", "default"):  # "" is kubectl's namespace
            keys += [("", claim.name), ("default", claim.name)]
        volume = next((bound[k] for k in keys if k in bound), None)
    if volume is not None:
        modes = _modes(get_path(volume.raw, "spec", "accessModes"))
        return None if modes is None else AccessModes(modes, volume)
    if volume_name or spec.get("storageClassName") == "":
        return None
    modes = _modes(spec.get("accessModes"))
    return None if modes is None else AccessModes(modes, None)


def storage_class_of(claim: Raw, graph: ObjectGraph) -> Resource | None:
    """The StorageClass a claim spec (or PVC object) names or defaults to.

    ``spec.storageClassName``, else the deprecated
    ``volume.beta.kubernetes.io/storage-class`` annotation, else the one
    StorageClass of the input marked default. ``None`` when not in the input.
    """
    spec = get_map(claim, "spec")
    if "storageClassName" in spec and spec.get("storageClassName") is not None:
        name = get_str(spec, "storageClassName")
        return graph.get("StorageClass", "", name) if name else None
    beta = get_str(claim, "metadata", "annotations", BETA_CLASS_ANNOTATION)
    if beta:
        return graph.get("StorageClass", "", beta)
    defaults = [
        c
        for c in graph.of_kind("StorageClass")
        if str(c.annotations.get(DEFAULT_CLASS_ANNOTATION, "")).lower() == "true"
    ]
    return defaults[0] if len(defaults) == 1 else None


_UNATTACHED_SOURCES = {
    "nfs": "an nfs volume, never attached",
    "hostPath": "a hostPath volume, on one node",
    "local": "a local volume, whose node affinity holds every pod on one node",
}


def attach_free(claim: Resource, modes: AccessModes, graph: ObjectGraph) -> str:
    """Why the claim's volume is never refused to a second node, or ``""``.

    Read from the bound PersistentVolume (``nfs``, ``hostPath``, ``local``,
    a CSI driver without attach) or the claim's StorageClass provisioner.
    Unknown storage answers ``""``.
    """
    if modes.volume is not None:
        spec = get_map(modes.volume.raw, "spec")
        for key, why in _UNATTACHED_SOURCES.items():
            if isinstance(spec.get(key), Mapping):
                return f"PersistentVolume {modes.volume.name!r} is {why}"
        driver = get_str(spec, "csi", "driver")
        why = attaches_anywhere(driver) if driver else ""
        return f"CSI driver {driver}: {why}" if why else ""
    storage_class = storage_class_of(claim.raw, graph)
    if storage_class is None:
        return ""
    name = provisioner(storage_class)
    why = attaches_anywhere(name)
    return f"StorageClass {storage_class.name!r} ({name}): {why}" if why else ""


def provisioner(storage_class: Resource) -> str:
    """The StorageClass's ``provisioner``."""
    return get_str(storage_class.raw, "provisioner")


@dataclass(frozen=True, slots=True)
class DiskProvisioner:
    """A block-storage CSI driver and the multi-node modes it refuses."""

    name: str
    refuses_filesystem: frozenset[str]
    error: str


def disk_provisioner(name: str) -> DiskProvisioner | None:
    """The disk driver's facts, or ``None`` when ``name`` is not a known disk."""
    for entry in _catalog()["disk_provisioners"]:
        if entry["provisioner"] == name:
            return DiskProvisioner(
                name, frozenset(entry["refuses_filesystem"]), entry["error"]
            )
    return None


def attaches_anywhere(name: str) -> str:
    """Why pods of a provisioner's volumes never meet Multi-Attach, or ``""``."""
    for entry in _catalog()["no_attach_provisioners"]:
        if entry["provisioner"] == name:
            return str(entry["why"])
    return ""
