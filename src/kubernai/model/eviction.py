"""How pods end: termination grace, preStop hooks, QoS class and what eviction hits.

Sources (kubernetes/kubernetes unless noted):
- ``pkg/apis/core/v1/defaults.go``: ``terminationGracePeriodSeconds`` defaults to
  30 (``DefaultTerminationGracePeriodSeconds``); ``SetDefaults_Pod`` copies each
  container's limits into requests that are not set (init containers too);
- ``pkg/kubelet/kuberuntime/kuberuntime_container.go`` (``killContainer``,
  ``executePreStopHook``): the preStop hook runs inside the grace period; the
  kubelet waits for it at most the grace period, then stops the container with
  what is left, never less than ``minimumGracePeriodInSeconds`` = 2;
- ``pkg/apis/core/validation/validation.go`` (``validateSleepAction``): a
  ``preStop.sleep.seconds`` above the grace period is rejected with
  ``must be greater than 0 and less than terminationGracePeriodSeconds (N)``;
- ``pkg/apis/core/helper/qos/qos.go`` (``ComputePodQOS``): only cpu and memory
  count; quantities of zero are ignored; Guaranteed needs cpu and memory limits
  on every container (init containers included) and summed requests equal to
  summed limits; no requests or limits at all is BestEffort; pod-level
  ``spec.resources`` replaces the per-container computation;
- website ``concepts/scheduling-eviction/node-pressure-eviction.md``: pods whose
  usage exceeds their requests are evicted first; hard thresholds give no grace.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

from kubernai.model.gpu import accelerator_names, is_nvidia_gpu
from kubernai.model.graph import ObjectGraph
from kubernai.model.quantity import parse_count, parse_quantity
from kubernai.model.resource import (
    Path,
    Resource,
    get_map,
    get_path,
    get_str,
    is_placeholder,
    iter_maps,
)
from kubernai.model.workload import Container, PodTemplate, memoised

DEFAULT_TERMINATION_GRACE_SECONDS = 30
PRESTOP_EXTENSION_SECONDS = 2
"""The one-off extension the kubelet grants when preStop outlasts the grace."""
QOS_RESOURCES = ("memory", "cpu")
"""The resources QoS looks at; memory first, as it decides eviction order."""


# -- termination grace -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Grace:
    """A template's ``terminationGracePeriodSeconds``, defaulted."""

    seconds: int
    explicit: bool
    path: Path

    def describe(self) -> str:
        """``terminationGracePeriodSeconds: 20`` or ``the default ... of 30 s``."""
        if self.explicit:
            return f"terminationGracePeriodSeconds: {self.seconds}"
        return f"the default terminationGracePeriodSeconds of {self.seconds} s"


def termination_grace(template: PodTemplate) -> Grace | None:
    """The grace period the template's pods get; ``None`` when it cannot be read."""
    path = template.field_path("terminationGracePeriodSeconds")
    value = template.spec.get("terminationGracePeriodSeconds")
    if value is None:
        return Grace(DEFAULT_TERMINATION_GRACE_SECONDS, explicit=False, path=path)
    if isinstance(value, bool) or is_placeholder(value):
        return None
    seconds = parse_count(value)
    if seconds is None:
        return None
    return Grace(seconds, explicit=True, path=path)


# -- preStop -------------------------------------------------------------------------

_SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh"})
_SLEEP_FIRST = re.compile(
    r"\s*(?:exec\s+)?(?:/[\w/.-]*/)?sleep\s+(\S+)\s*(?:$|;|&&|\n)", re.ASCII
)
_SLEEP_ARG = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([smhd]?)", re.ASCII)
_SLEEP_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True, slots=True)
class PreStopSleep:
    """A preStop hook that sleeps: how long (``None``: forever) and where."""

    seconds: Fraction | None
    path: Path
    action: str
    """``sleep`` (the built-in action) or ``exec``."""
    shown: str


def sleep_seconds(argument: str) -> Fraction | None:
    """Seconds of a ``sleep`` argument (``30``, ``1.5m``, ``infinity``); -1 if unknown.

    Returns ``None`` for ``infinity`` and ``Fraction(-1)`` for what is not a
    duration.
    """
    text = argument.strip().strip("\"'")
    if text in ("infinity", "inf"):
        return None
    match = _SLEEP_ARG.fullmatch(text)
    if match is None:
        return Fraction(-1)
    return Fraction(match[1]) * _SLEEP_UNITS[match[2]]


def prestop_sleep(container: Container) -> PreStopSleep | None:
    """How long the container's preStop hook certainly sleeps, if it does.

    Read: the ``sleep`` action, an exec of ``sleep N``, and a shell ``-c``
    script whose first command is ``sleep N``. Anything else is ``None``.
    """
    hook = get_map(container.raw, "lifecycle", "preStop")
    if not hook:
        return None
    base: Path = (*container.path, "lifecycle", "preStop")
    sleep = hook.get("sleep")
    if isinstance(sleep, Mapping) and "seconds" in sleep:
        seconds = parse_count(sleep.get("seconds"))
        if seconds is None:
            return None
        return PreStopSleep(
            Fraction(seconds),
            (*base, "sleep", "seconds"),
            "sleep",
            f"preStop.sleep.seconds: {seconds}",
        )
    command = get_path(hook, "exec", "command")
    if not isinstance(command, list) or len(command) < 2:
        return None
    words = [_word(item) for item in command]
    if None in words:
        return None
    program = (words[0] or "").rsplit("/", 1)[-1]
    path: Path = (*base, "exec", "command")
    if program == "sleep" and len(words) == 2:
        return _exec_sleep(words[1] or "", (*path, 1), " ".join(w or "" for w in words))
    if program in _SHELLS and "-c" in words[1:-1]:
        script = words[words.index("-c", 1) + 1] or ""
        match = _SLEEP_FIRST.match(script)
        if match is not None:
            index = words.index("-c", 1) + 1
            return _exec_sleep(match[1], (*path, index), script.strip())
    return None


def _word(item: Any) -> str | None:
    if isinstance(item, bool):
        return None
    if isinstance(item, str | int):
        return str(item)
    return None


def _exec_sleep(argument: str, path: Path, shown: str) -> PreStopSleep | None:
    seconds = sleep_seconds(argument)
    if seconds is not None and seconds < 0:
        return None
    return PreStopSleep(seconds, path, "exec", shown)


# -- QoS class -----------------------------------------------------------------------


class QosClass(StrEnum):
    """A pod's quality-of-service class."""

    GUARANTEED = "Guaranteed"
    BURSTABLE = "Burstable"
    BEST_EFFORT = "BestEffort"


@dataclass(frozen=True, slots=True)
class Qos:
    """The QoS class of a template's pods and, unless Guaranteed, the first cause."""

    qos_class: QosClass
    reason: str = ""
    path: Path = ()


_ALL_QOS_RESOURCES = frozenset(QOS_RESOURCES)


class _Unknown(ValueError):
    """A quantity that cannot be read: the class is not known."""


def _quantity(value: Any) -> Fraction | int | None:
    """The exact amount, as an ``int`` when whole (cheaper to add and compare)."""
    if value is None:
        return None
    if is_placeholder(value):
        raise _Unknown
    parsed = parse_quantity(value)
    if parsed is None:
        raise _Unknown
    return parsed.numerator if parsed.denominator == 1 else parsed


def pod_qos(template: PodTemplate) -> Qos | None:
    """The pod's QoS class (computed once per template)."""
    return memoised(template, "qos", lambda: _pod_qos(template))


def _pod_qos(template: PodTemplate) -> Qos | None:
    """The QoS class as Kubernetes computes it; ``None`` when it cannot be known.

    Unknown: pod-level cpu or memory resources (``spec.resources``, whose
    defaulting depends on the version) and quantities that do not parse.
    """
    if template.spec.get("resources") is not None:
        pod_level = get_map(template.spec, "resources")
        if any(
            name in get_map(pod_level, section)
            for section in ("requests", "limits")
            for name in QOS_RESOURCES
        ):
            return None
    requests: dict[str, Fraction | int] = {}
    limits: dict[str, Fraction | int] = {}
    guaranteed = True
    reason: tuple[str, Path] | None = None
    ordered = sorted(template.containers, key=lambda c: c.init)
    try:
        for container in ordered:
            found: set[str] = set()
            for name in QOS_RESOURCES:
                limit = _quantity(container.limits.get(name))
                request = _quantity(container.requests.get(name))
                if request is None:
                    request = limit  # SetDefaults_Pod: requests default to limits
                if request is not None and request > 0:
                    requests[name] = requests.get(name, 0) + request
                if limit is not None and limit > 0:
                    limits[name] = limits.get(name, 0) + limit
                    found.add(name)
                    if reason is None and request != limit:
                        reason = (
                            f"{container.label} requests {name} "
                            f"{_shown(container.requests.get(name))} but its limit is "
                            f"{_shown(container.limits.get(name))}",
                            container.resource_path("requests", name),
                        )
                elif reason is None:
                    raw = container.limits.get(name)
                    shown = "no" if raw is None else f"a zero ({_shown(raw)})"
                    reason = (
                        f"{container.label} sets {shown} {name} limit",
                        container.resource_path("limits", name),
                    )
            if found != _ALL_QOS_RESOURCES:
                guaranteed = False
    except _Unknown:
        return None
    if not requests and not limits:
        return Qos(QosClass.BEST_EFFORT)
    if guaranteed and requests == limits:
        return Qos(QosClass.GUARANTEED)
    text, path = reason or ("requests and limits differ", template.path)
    return Qos(QosClass.BURSTABLE, text, path)


def _shown(value: Any) -> str:
    if value is None:
        return "(unset)"
    return str(value).lower() if isinstance(value, bool) else str(value)


# -- node-disk emptyDirs -----------------------------------------------------------


def unbounded_empty_dir(volume: Mapping[str, Any]) -> bool:
    """A pod volume that is an emptyDir on the node's disk with no ``sizeLimit``.

    What it holds counts against the node's ephemeral storage, and only
    ``ephemeral-storage`` requests tell the scheduler about it.
    """
    settings = get_path(volume, "emptyDir")
    if not isinstance(settings, Mapping):
        return False
    return not get_str(settings, "medium") and not get_path(settings, "sizeLimit")


def has_unbounded_empty_dir(template: PodTemplate) -> bool:
    """Whether one of the template's volumes is an :func:`unbounded_empty_dir`."""
    return memoised(
        template,
        "unbounded_empty_dir",
        lambda: any(
            unbounded_empty_dir(v) for _, v in iter_maps(template.spec, "volumes")
        ),
    )


# -- workloads that checkpoint ----------------------------------------------------

KUBEFLOW_TRAINING_KINDS = frozenset(
    {
        ("kubeflow.org", "PyTorchJob"),
        ("kubeflow.org", "TFJob"),
        ("kubeflow.org", "MPIJob"),
        ("kubeflow.org", "PaddleJob"),
        ("kubeflow.org", "XGBoostJob"),
        ("kubeflow.org", "JAXJob"),
        ("trainer.kubeflow.org", "TrainingRuntime"),
        ("trainer.kubeflow.org", "ClusterTrainingRuntime"),
    }
)
"""Kinds that exist to run training."""
BATCH_KINDS = frozenset(
    {
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("batch.volcano.sh", "Job"),
        ("jobset.x-k8s.io", "JobSet"),
    }
)
"""Run-to-completion kinds that count as training when they request accelerators."""
TRAINING_KIND_NAMES = frozenset(
    kind for _, kind in KUBEFLOW_TRAINING_KINDS | BATCH_KINDS
)
"""Kind names for ``Rule.kinds``."""


def is_training_kind(group: str, kind: str) -> bool:
    """Whether objects of this kind run training (or batch work) to completion."""
    return (group, kind) in KUBEFLOW_TRAINING_KINDS or (group, kind) in BATCH_KINDS


def is_kubeflow_training(group: str, kind: str) -> bool:
    """Whether the kind is a Kubeflow training job or training runtime."""
    return (group, kind) in KUBEFLOW_TRAINING_KINDS


# -- containers the manifest does not show -------------------------------------------

_SERVING_GROUPS = frozenset({"serving.kserve.io", "serving.knative.dev"})


def added_containers(resource: Resource, template: PodTemplate) -> str:
    """Why the pods get containers that are not in the manifest, or ``""``.

    Such containers carry their own requests and limits, so the QoS class of
    the manifest is not the pod's: Knative's ``queue-proxy`` and KServe's
    ``storage-initializer`` (requests below limits), the Kubeflow training
    operator's ``init-pytorch`` on PyTorchJob workers when there is a Master
    (requests 50m/10Mi, limits 100m/20Mi), and whatever a runtime or preset
    merges in (``complete`` is False).
    """
    if resource.group in _SERVING_GROUPS:
        return "KServe and Knative add containers with their own resources"
    if not template.complete:
        return "a runtime or preset adds to the pod at admission"
    if (
        resource.kind == "PyTorchJob"
        and template.role.lower() == "worker"
        and any(t.role.lower() == "master" for t in resource.templates)
    ):
        return "the training operator adds the init-pytorch init container"
    return ""


def gpu_request(template: PodTemplate) -> tuple[Container, str] | None:
    """The first GPU request of the template (computed once per template)."""
    return memoised(template, "gpu_request", lambda: _gpu_request(template))


def _gpu_request(template: PodTemplate) -> tuple[Container, str] | None:
    """The first app container that asks for a positive amount of a GPU.

    GPUs only (NVIDIA, MIG, AMD, Intel): TPUs and other accelerators are left out.
    """
    for container in template.containers:
        if container.init:
            continue
        for name in accelerator_names(container):
            if not is_nvidia_gpu(name) and "gpu" not in name:
                continue
            value = container.limits.get(name, container.requests.get(name))
            amount = parse_quantity(value)
            if amount is not None and amount > 0:
                return container, name
    return None


def limit_range_fills_qos(graph: ObjectGraph, namespace: str) -> bool:
    """Whether a LimitRange in the input gives containers cpu or memory defaults."""
    for limit_range in graph.limit_ranges(namespace):
        for _, item in iter_maps(limit_range.raw, "spec", "limits"):
            if get_str(item, "type") != "Container":
                continue
            for field in ("default", "defaultRequest", "max", "min"):
                if any(n in get_map(item, field) for n in QOS_RESOURCES):
                    return True
    return False
