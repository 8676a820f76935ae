"""A Pod as the cluster reports it: phase, conditions, container states, owners.

Only objects read from a cluster (or a snapshot of one) carry ``status``; in a
manifest every accessor here answers "unknown" (``""``, ``None`` or nothing).

Sources: kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1
(``status.phase``, ``status.reason``, ``status.message``, ``status.conditions``,
``status.containerStatuses[].state`` / ``lastState`` with ``waiting``,
``running`` or ``terminated``, each with ``reason`` and ``message``; terminated
also ``exitCode`` and ``finishedAt``); the training operator's pod label
``training.kubeflow.org/job-name`` (kubeflow/training-operator
``pkg/apis/kubeflow.org/v1/common_types.go``, ``JobNameLabel``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kubernai.model.eviction import gpu_request, is_training_kind
from kubernai.model.resource import Path, Resource, get_map, get_str, iter_maps
from kubernai.model.workload import Container, PodTemplate

TRAINING_JOB_LABEL = "training.kubeflow.org/job-name"


def pod_template(pod: Resource) -> PodTemplate | None:
    """The Pod's own spec as a template (``None`` for other kinds)."""
    if pod.kind != "Pod" or pod.group:
        return None
    return next(iter(pod.templates), None)


def phase(pod: Resource) -> str:
    """``status.phase`` (``Pending``, ``Running``, ``Failed``...) or ``""``."""
    return get_str(pod.raw, "status", "phase")


def uid(resource: Resource) -> str:
    """``metadata.uid`` or ``""``."""
    return get_str(resource.raw, "metadata", "uid")


def node_name(pod: Resource) -> str:
    """The node the Pod was bound to (``spec.nodeName``) or ``""``."""
    return get_str(pod.raw, "spec", "nodeName")


@dataclass(frozen=True, slots=True)
class Condition:
    """One ``status.conditions[]`` entry."""

    path: Path
    status: str
    reason: str
    message: str


def condition(pod: Resource, kind: str) -> Condition | None:
    """The Pod's condition of type ``kind`` (``PodScheduled``...)."""
    for index, raw in iter_maps(pod.raw, "status", "conditions"):
        if get_str(raw, "type") == kind:
            return Condition(
                path=("status", "conditions", index),
                status=get_str(raw, "status"),
                reason=get_str(raw, "reason"),
                message=get_str(raw, "message"),
            )
    return None


@dataclass(frozen=True, slots=True)
class Termination:
    """A ``terminated`` container state, current or last."""

    path: Path
    """Of the ``terminated`` mapping."""
    container: str
    init: bool
    reason: str
    message: str
    exit_code: int | None
    finished_at: str
    restarts: int | None


def terminations(pod: Resource) -> Iterator[Termination]:
    """Each container's current and last ``terminated`` state, if any."""
    for field, init in (("initContainerStatuses", True), ("containerStatuses", False)):
        for index, raw in iter_maps(pod.raw, "status", field):
            restarts = raw.get("restartCount")
            for when in ("state", "lastState"):
                terminated = get_map(raw, when, "terminated")
                if not terminated:
                    continue
                code = terminated.get("exitCode")
                yield Termination(
                    path=("status", field, index, when, "terminated"),
                    container=get_str(raw, "name"),
                    init=init,
                    reason=get_str(terminated, "reason"),
                    message=get_str(terminated, "message"),
                    exit_code=code if type(code) is int else None,
                    finished_at=get_str(terminated, "finishedAt"),
                    restarts=restarts if type(restarts) is int else None,
                )


@dataclass(frozen=True, slots=True)
class StateMessage:
    """The text of a container's ``waiting`` or ``terminated`` state."""

    path: Path
    """Of the ``message`` field."""
    container: str
    reason: str
    message: str


def state_messages(pod: Resource) -> Iterator[StateMessage]:
    """Messages of the containers' current and last waiting/terminated states."""
    for field in ("initContainerStatuses", "containerStatuses"):
        for index, raw in iter_maps(pod.raw, "status", field):
            for when in ("state", "lastState"):
                for how in ("waiting", "terminated"):
                    state = get_map(raw, when, how)
                    message = get_str(state, "message")
                    if message:
                        yield StateMessage(
                            path=("status", field, index, when, how, "message"),
                            container=get_str(raw, "name"),
                            reason=get_str(state, "reason"),
                            message=message,
                        )


def spec_container(template: PodTemplate, name: str) -> Container | None:
    """The template's container called ``name``."""
    for container in template.containers:
        if container.name == name:
            return container
    return None


def _owner_references(pod: Resource) -> Iterator[Mapping[str, Any]]:
    for _, owner in iter_maps(pod.raw, "metadata", "ownerReferences"):
        yield owner


def training_evidence(pod: Resource) -> str:
    """Why the Pod is a training pod, or ``""``.

    A training pod asks for a GPU and is created by a training or batch kind
    (a Job, a Kubeflow training job, a Volcano Job: ``ownerReferences``) or
    carries the training operator's job-name label.
    """
    template = pod_template(pod)
    if template is None or gpu_request(template) is None:
        return ""
    for owner in _owner_references(pod):
        version = get_str(owner, "apiVersion")
        group = version.rsplit("/", 1)[0] if "/" in version else ""
        kind = get_str(owner, "kind")
        if is_training_kind(group, kind):
            return f"created by {kind} {get_str(owner, 'name')}".rstrip()
    job = pod.labels.get(TRAINING_JOB_LABEL)
    if isinstance(job, str) and job:
        return f"label {TRAINING_JOB_LABEL}={job}"
    return ""
