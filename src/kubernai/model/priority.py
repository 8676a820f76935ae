"""PriorityClasses, and how the Priority admission plugin resolves a pod's priority.

Sources (kubernetes/kubernetes):
- ``pkg/apis/scheduling/types.go``: ``HighestUserDefinablePriority`` = 1000000000,
  ``SystemCriticalPriority`` = 2 * that, the reserved ``system-`` prefix, the
  ``system-cluster-critical`` and ``system-node-critical`` names;
- ``pkg/apis/scheduling/v1/helpers.go``: the two built-in classes (values
  SystemCriticalPriority and SystemCriticalPriority + 1000, globalDefault false),
  created when the API server starts;
- ``pkg/apis/scheduling/v1/defaults.go``: ``preemptionPolicy`` defaults to
  ``PreemptLowerPriority``;
- ``pkg/apis/core/validation``: ``ValidatePreemptionPolicy`` accepts
  ``PreemptLowerPriority`` and ``Never``;
- ``plugin/pkg/admission/priority/admission.go``: a pod's ``priorityClassName``
  resolves to the class's value and policy; without one, the ``globalDefault``
  class with the lowest value, else priority 0 and ``PreemptLowerPriority``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, get_str
from kubernai.model.workload import PodTemplate

SCHEDULING_GROUP = "scheduling.k8s.io"
HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
SYSTEM_CRITICAL_PRIORITY = 2 * HIGHEST_USER_DEFINABLE_PRIORITY
SYSTEM_PREFIX = "system-"
SYSTEM_PRIORITY_CLASSES: Mapping[str, int] = {
    "system-node-critical": SYSTEM_CRITICAL_PRIORITY + 1000,
    "system-cluster-critical": SYSTEM_CRITICAL_PRIORITY,
}
"""The built-in classes, which exist in every cluster, by name and value."""
PREEMPT_LOWER_PRIORITY = "PreemptLowerPriority"
PREEMPT_NEVER = "Never"
PREEMPTION_POLICIES = (PREEMPT_LOWER_PRIORITY, PREEMPT_NEVER)
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


def is_priority_class(resource: Resource) -> bool:
    """Whether ``resource`` is a Kubernetes PriorityClass (not Kueue's or others')."""
    return resource.kind == "PriorityClass" and resource.group == SCHEDULING_GROUP


def int32_value(value: Any) -> int | None:
    """``value`` when it is an integer that fits ``int32``, else ``None``.

    A float with no fraction (``1e6``) counts: kubectl sends it as a JSON
    number, which decodes into an integer field.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    return value if INT32_MIN <= value <= INT32_MAX else None


@dataclass(frozen=True, slots=True)
class PriorityClass:
    """A PriorityClass from the input, or one of the built-in system classes.

    ``value`` is ``None`` when the manifest's value is not an int32.
    ``preemption_policy`` is the field as written (``""`` when absent).
    """

    name: str
    value: int | None
    global_default: bool
    preemption_policy: str
    resource: Resource | None = None

    @property
    def builtin(self) -> bool:
        """A system class that the API server creates itself."""
        return self.resource is None

    @property
    def preempts(self) -> bool:
        """Whether pods of this class may preempt lower-priority pods."""
        return self.preemption_policy in ("", PREEMPT_LOWER_PRIORITY)

    @property
    def policy_shown(self) -> str:
        """The effective policy for messages (the default named as such)."""
        return self.preemption_policy or f"{PREEMPT_LOWER_PRIORITY} (default)"


def read_priority_class(resource: Resource) -> PriorityClass:
    """The PriorityClass fields of ``resource``, read tolerantly."""
    policy = resource.raw.get("preemptionPolicy")
    return PriorityClass(
        name=resource.name,
        value=int32_value(resource.raw.get("value")),
        global_default=resource.raw.get("globalDefault") is True,
        preemption_policy=policy if isinstance(policy, str) else "",
        resource=resource,
    )


def builtin_class(name: str) -> PriorityClass | None:
    """A built-in system class by name, or ``None``."""
    value = SYSTEM_PRIORITY_CLASSES.get(name)
    if value is None:
        return None
    return PriorityClass(
        name=name, value=value, global_default=False, preemption_policy=""
    )


def input_classes(graph: ObjectGraph) -> tuple[PriorityClass, ...]:
    """The PriorityClasses in the input, in input order."""
    return tuple(
        read_priority_class(r)
        for r in graph.of_kind("PriorityClass")
        if is_priority_class(r)
    )


def class_named(graph: ObjectGraph, name: str) -> PriorityClass | None:
    """The class ``name`` resolves to: built-in, else from the input, else ``None``."""
    found = builtin_class(name)
    if found is not None:
        return found
    resource = graph.priority_class(name)
    if resource is not None and is_priority_class(resource):
        return read_priority_class(resource)
    for other in graph.of_kind("PriorityClass"):  # e.g. one with a namespace set
        if other.name == name and is_priority_class(other):
            return read_priority_class(other)
    return None


def default_class(graph: ObjectGraph) -> PriorityClass | None:
    """The ``globalDefault`` class of the input; the lowest value wins, as upstream."""
    found: PriorityClass | None = None
    for candidate in input_classes(graph):
        if not candidate.global_default or candidate.value is None:
            continue
        if found is None or (found.value is not None and candidate.value < found.value):
            found = candidate
    return found


def class_name_of(template: PodTemplate) -> str:
    """The template's ``priorityClassName`` (``""`` when unset or not a string)."""
    return get_str(template.spec, "priorityClassName")


@dataclass(frozen=True, slots=True)
class ResolvedPriority:
    """The priority the admission plugin would give a template's pods.

    ``source`` says where it came from, for messages.
    """

    value: int
    preempts: bool
    source: str
    priority_class: PriorityClass | None


def resolve_priority(
    template: PodTemplate, graph: ObjectGraph
) -> ResolvedPriority | None:
    """The template's priority, or ``None`` when the input cannot tell.

    Without ``priorityClassName`` the pods get the input's ``globalDefault``
    class; without one, priority 0, which assumes that the cluster has no
    default class outside the input either (the source says so).
    """
    name = class_name_of(template)
    if name:
        found = class_named(graph, name)
        if found is None or found.value is None:
            return None
        return ResolvedPriority(
            value=found.value,
            preempts=found.preempts,
            source=f"PriorityClass {name} (value {found.value})",
            priority_class=found,
        )
    default = default_class(graph)
    if default is not None and default.value is not None:
        return ResolvedPriority(
            value=default.value,
            preempts=default.preempts,
            source=(
                f"no priorityClassName, so the globalDefault PriorityClass "
                f"{default.name} (value {default.value})"
            ),
            priority_class=default,
        )
    return ResolvedPriority(
        value=0,
        preempts=True,
        source=(
            "no priorityClassName and no globalDefault PriorityClass in the input, "
            "so priority 0 (assumed)"
        ),
        priority_class=None,
    )
