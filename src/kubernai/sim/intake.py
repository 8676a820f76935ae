"""Read the cluster and the submissions into nodes, pods, gangs and policies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any

from kubernai.model.gang import KUBE_GROUP_NAME, VOLCANO_GROUP_NAME
from kubernai.model.priority import (
    PREEMPT_NEVER,
    PriorityClass,
    builtin_class,
    is_priority_class,
    read_priority_class,
)
from kubernai.model.resource import Resource, get_map, get_path, get_str
from kubernai.model.workload import is_workload
from kubernai.sim import admission
from kubernai.sim.gang import Gang, Queue, read_queue
from kubernai.sim.nodes import NodeInfo, node_from_manifest
from kubernai.sim.pods import PodShape, SimPod, make_shape
from kubernai.sim.preemption import Pdb
from kubernai.sim.result import REJECTED, PodResult
from kubernai.sim.workloads import expand, is_builtin

TERMINAL = ("Succeeded", "Failed")
_NOT_STARTED = 1e12
"""Start time of a pod without ``status.startTime`` (Go uses "now")."""


def _start_time(raw: Mapping[str, Any], order: int) -> float:
    text = get_str(raw, "status", "startTime")
    if text:
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    return _NOT_STARTED + order


@dataclass(slots=True)
class Intake:
    """Everything the driver schedules with."""

    nodes: list[NodeInfo] = field(default_factory=list)
    running: list[SimPod] = field(default_factory=list)
    """Cluster pods bound to a node (with their node name)."""
    running_nodes: list[str] = field(default_factory=list)
    queue: list[tuple[SimPod, PodResult]] = field(default_factory=list)
    """Pods to schedule, in creation order."""
    rejected: list[PodResult] = field(default_factory=list)
    gangs: dict[tuple[str, str], Gang] = field(default_factory=dict)
    queues: dict[str, Queue] = field(default_factory=dict)
    pdbs: list[Pdb] = field(default_factory=list)
    plugin_configs: list[Resource] = field(default_factory=list)


class Reader:
    """Builds an :class:`Intake` from cluster and submitted objects."""

    def __init__(self, cluster: list[Resource], submit: list[Resource]) -> None:
        self.cluster = cluster
        self.submit = submit
        self.classes: dict[str, PriorityClass] = {}
        self.default_class: PriorityClass | None = None
        for resource in [*cluster, *submit]:
            if is_priority_class(resource):
                found = read_priority_class(resource)
                self.classes[found.name] = found
                if (
                    found.global_default
                    and found.value is not None
                    and (
                        self.default_class is None
                        or (self.default_class.value or 0) > found.value
                    )
                ):
                    self.default_class = found
        self.limit_ranges: dict[str, list[admission.ContainerLimits]] = {}
        self.quotas: dict[str, list[admission.Quota]] = {}
        self.order = 0
        self.shapes: dict[tuple[int, str], PodShape] = {}

    def priority(self, spec: Mapping[str, Any]) -> tuple[int, bool, str]:
        """(priority, may preempt, admission error) for a pod spec."""
        name = get_str(spec, "priorityClassName")
        found: PriorityClass | None
        if name:
            found = self.classes.get(name) or builtin_class(name)
            if found is None:
                return 0, True, f"no PriorityClass with name {name} was found"
        else:
            found = self.default_class
        value = found.value if found and found.value is not None else 0
        policy = get_str(spec, "preemptionPolicy") or (
            found.preemption_policy if found else ""
        )
        return value, policy != PREEMPT_NEVER, ""

    def read(self, synthetic: list[NodeInfo]) -> Intake:
        """Read every input object."""
        intake = Intake()
        for resource in self.cluster:
            kind = resource.kind
            if kind == "Node":
                intake.nodes.append(node_from_manifest(resource))
        intake.nodes.extend(synthetic)
        for resource in [*self.cluster, *self.submit]:
            self._policy(resource, intake)
        for resource in self.cluster:
            if resource.kind == "Pod" and resource.group == "":
                self._cluster_pod(resource, intake)
        for resource in self.submit:
            if is_workload(resource):
                self._submit(resource, intake)
        return intake

    def _policy(self, resource: Resource, intake: Intake) -> None:
        kind, namespace = resource.kind, resource.namespace or "default"
        if kind == "LimitRange":
            self.limit_ranges.setdefault(namespace, []).extend(
                admission.container_limits(resource)
            )
        elif kind == "ResourceQuota":
            self.quotas.setdefault(namespace, []).append(admission.read_quota(resource))
        elif kind == "PodDisruptionBudget":
            status = get_map(resource.raw, "status")
            allowed = status.get("disruptionsAllowed")
            intake.pdbs.append(
                Pdb(
                    namespace=namespace,
                    name=resource.name,
                    selector=get_map(resource.raw, "spec", "selector") or None,
                    disrupted=frozenset(get_map(status, "disruptedPods")),
                    allowed=allowed if isinstance(allowed, int) else None,
                    min_available=get_path(resource.raw, "spec", "minAvailable"),
                    max_unavailable=get_path(resource.raw, "spec", "maxUnavailable"),
                )
            )
        elif kind == "Queue" and resource.group == "scheduling.volcano.sh":
            intake.queues[resource.name] = read_queue(resource)
        elif kind == "PodGroup" and resource.group == "scheduling.volcano.sh":
            minimum = get_path(resource.raw, "spec", "minMember")
            intake.gangs[(namespace, resource.name)] = Gang(
                namespace,
                resource.name,
                minimum if isinstance(minimum, int) else 1,
                get_str(resource.raw, "spec", "queue") or "default",
            )
        elif kind == "ConfigMap":
            intake.plugin_configs.append(resource)

    def _shape(self, spec: Mapping[str, Any], namespace: str) -> PodShape:
        key = (id(spec), namespace)
        shape = self.shapes.get(key)
        if shape is None:
            shape = self.shapes[key] = make_shape(spec)
        return shape

    def _cluster_pod(self, resource: Resource, intake: Intake) -> None:
        raw = resource.raw
        if get_str(raw, "status", "phase") in TERMINAL:
            return
        spec = get_map(raw, "spec")
        namespace = resource.namespace or "default"
        priority = spec.get("priority")
        value, preempts, _ = self.priority(spec)
        if isinstance(priority, int) and not isinstance(priority, bool):
            value = priority
        self.order += 1
        pod = SimPod(
            namespace=namespace,
            name=resource.name,
            workload=_owner(resource),
            shape=make_shape(spec),
            labels=resource.labels,
            priority=value,
            preempts=preempts,
            order=self.order,
            start_time=_start_time(raw, self.order),
        )
        node = get_str(spec, "nodeName")
        if node:
            intake.running.append(pod)
            intake.running_nodes.append(node)
            self._charge(namespace, spec)
            return
        self._charge(namespace, spec)
        result = PodResult(namespace, resource.name, pod.workload, value)
        intake.queue.append((pod, result))

    def _charge(self, namespace: str, spec: Mapping[str, Any]) -> None:
        """Count a cluster pod in the quotas whose objects carry no ``status.used``."""
        quotas = [q for q in self.quotas.get(namespace, []) if not q.from_status]
        if not quotas:
            return
        usage = admission.pod_usage(spec)
        for quota in quotas:
            if quota.applies(spec, usage):
                for name, value in usage.items():
                    if name in quota.hard:
                        quota.used[name] = quota.used.get(name, 0) + value

    def _submit(self, resource: Resource, intake: Intake) -> None:
        namespace = resource.namespace or "default"
        workload = f"{resource.kind}/{resource.name}"
        plans = list(expand(resource, intake.nodes))
        if is_builtin(resource) and resource.templates:
            template = resource.templates[0]
            base = "spec" if resource.kind == "Pod" else _format(template.path)
            errors = admission.resource_errors(template.spec, base)
            if errors:
                kind = (
                    resource.kind
                    if not resource.group
                    else f"{resource.kind}.{resource.group}"
                )
                text = admission.invalid_message(kind, resource.name, errors)
                for plan in plans or []:
                    intake.rejected.append(
                        PodResult(
                            namespace, plan.name, workload, 0, REJECTED, message=text
                        )
                    )
                return
        gang = self._gang_of(resource, namespace, len(plans), intake)
        owner = _owner_selector(resource)
        items = self.limit_ranges.get(namespace, [])
        mutated: dict[int, Mapping[str, Any]] = {}
        usages: dict[int, dict[str, Fraction]] = {}
        for plan in plans:
            spec = mutated.get(id(plan.spec))
            if spec is None:
                spec = mutated[id(plan.spec)] = admission.apply_limit_ranges(
                    plan.spec, items
                )
            value, preempts, error = self.priority(spec)
            result = PodResult(namespace, plan.name, workload, value)
            if not error and (not is_builtin(resource) or spec is not plan.spec):
                # Operator-made pods, and pods LimitRanger changed, are validated
                # as the Pods the API server receives.
                errors = admission.resource_errors(spec, "spec")
                if errors:
                    result.status, result.message = (
                        REJECTED,
                        admission.invalid_message("Pod", plan.name, errors),
                    )
                    intake.rejected.append(result)
                    continue
            if not error:
                errors = admission.limit_range_errors(spec, items)
                error = _join(errors)
            quotas = self.quotas.get(namespace, [])
            if not error and quotas:
                usage = usages.get(id(spec))
                if usage is None:
                    usage = usages[id(spec)] = admission.pod_usage(spec)
                error = admission.quota_check(quotas, spec, usage)
            if error:
                result.status = REJECTED
                result.message = admission.forbidden(plan.name, error)
                intake.rejected.append(result)
                continue
            self.order += 1
            pod = SimPod(
                namespace=namespace,
                name=plan.name,
                workload=workload,
                shape=self._shape(spec, namespace),
                labels=plan.labels,
                priority=value,
                preempts=preempts,
                order=self.order,
                start_time=2 * _NOT_STARTED + self.order,
                gang=f"{namespace}/{gang.name}" if gang else "",
                owner_selector=owner,
            )
            if gang is not None:
                gang.pods.append(pod)
            intake.queue.append((pod, result))

    def _gang_of(
        self, resource: Resource, namespace: str, count: int, intake: Intake
    ) -> Gang | None:
        raw = resource.raw
        if resource.group == "batch.volcano.sh" and resource.kind == "Job":
            minimum = get_path(raw, "spec", "minAvailable")
            if not isinstance(minimum, int):
                minimum = 0
                for task in get_path(raw, "spec", "tasks") or []:
                    if isinstance(task, Mapping):
                        value = task.get("minAvailable", task.get("replicas", 0))
                        minimum += value if isinstance(value, int) else 0
            gang = Gang(
                namespace,
                resource.name,
                minimum,
                get_str(raw, "spec", "queue") or "default",
            )
            intake.gangs[(namespace, resource.name)] = gang
            return gang
        policy = get_map(raw, "spec", "runPolicy", "schedulingPolicy")
        templates = resource.templates
        volcano = any(get_str(t.spec, "schedulerName") == "volcano" for t in templates)
        if resource.group == "kubeflow.org" and volcano:
            minimum = policy.get("minAvailable")
            gang = Gang(
                namespace,
                resource.name,
                minimum if isinstance(minimum, int) else count,
                get_str(policy, "queue") or "default",
            )
            intake.gangs[(namespace, resource.name)] = gang
            return gang
        for template in templates:
            annotations = {**resource.annotations, **template.annotations}
            for key in (KUBE_GROUP_NAME, VOLCANO_GROUP_NAME):
                name = annotations.get(key)
                if isinstance(name, str) and (namespace, name) in intake.gangs:
                    return intake.gangs[(namespace, name)]
        return None


_SELECTED_BY_OWNER = frozenset(
    {"Deployment", "ReplicaSet", "StatefulSet", "ReplicationController"}
)


def _owner_selector(resource: Resource) -> Mapping[str, Any] | None:
    """The ReplicaSet/StatefulSet/RC selector over the pods (system spreading)."""
    if resource.kind not in _SELECTED_BY_OWNER:
        return None
    selector = get_path(resource.raw, "spec", "selector")
    if resource.kind == "ReplicationController" and isinstance(selector, Mapping):
        return {"matchLabels": dict(selector)}
    if isinstance(selector, Mapping) and selector:
        return selector
    labels = resource.templates[0].labels if resource.templates else {}
    return {"matchLabels": dict(labels)} if labels else None


def _owner(resource: Resource) -> str:
    for owner in resource.raw.get("metadata", {}).get("ownerReferences") or ():
        if isinstance(owner, Mapping):
            return f"{owner.get('kind', '')}/{owner.get('name', '')}"
    return f"Pod/{resource.name}"


def _format(path: tuple[str | int, ...]) -> str:
    from kubernai.model.resource import format_path

    return format_path(path)


def _join(errors: list[str]) -> str:
    if not errors:
        return ""
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
