"""Gang scheduling: which pods must start together, and what schedules them as one.

A *gang* is a set of pods that is useless unless all of them (or a stated
minimum) run at the same time: the ranks of a distributed training job, the
pods of one LeaderWorkerSet group. This module reads the gang from a manifest
(its members, the minimum that must start together, the per-pod accelerator
demand) and the markers of the schedulers that admit gangs as one unit.

Sources:
- Volcano API (volcano-sh/apis): ``batch/v1alpha1/job.go`` (``spec.minAvailable``
  "Defaults to the summary of tasks' replicas", ``spec.queue``,
  ``spec.schedulerName``, ``tasks[].replicas``, ``tasks[].minAvailable``
  "Defaults to the task replicas", ``spec.plugins``) and
  ``scheduling/v1beta1/{types,labels}.go`` (PodGroup ``minMember``,
  ``minResources``, ``queue``; Queue ``capability``; the pod annotations
  ``scheduling.k8s.io/group-name``, ``scheduling.volcano.sh/group-name``,
  ``scheduling.volcano.sh/queue-name``).
- Volcano (volcano-sh/volcano): job mutating webhook (``spec.minAvailable`` =
  sum of the tasks' ``minAvailable``, each defaulting to ``replicas``; queue
  ``default``; scheduler ``volcano``), scheduler ``api/job_info.go``
  (``CheckTaskReady``: task minimums count only when ``minMember`` is at least
  their sum), the ``pytorch`` job plugin (``WORLD_SIZE`` = master + worker
  replicas), scheduler cache ``responsibleForPod`` (a pod is Volcano's only when
  its ``schedulerName`` is one of Volcano's, ``volcano`` by default).
- kubeflow/training-operator (``runPolicy.schedulingPolicy`` minAvailable,
  queue, minResources; PodGroup ``minMember`` defaults to all replicas),
  kubeflow/mpi-operator (queue from ``scheduling.volcano.sh/queue-name``),
  ray-project/kuberay (RayCluster label ``volcano.sh/queue-name``, copied from
  a RayJob's labels), Kueue (``kueue.x-k8s.io/queue-name``), scheduler-plugins
  Coscheduling (``scheduling.x-k8s.io/pod-group``, formerly
  ``pod-group.scheduling.sigs.k8s.io``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from kubernai.model.gpu import KUEUE_QUEUE_LABEL, is_accelerator
from kubernai.model.podrequests import pod_request, requested_names
from kubernai.model.quantity import parse_count
from kubernai.model.resource import (
    Path,
    Resource,
    get_list,
    get_map,
    get_path,
    get_str,
    is_placeholder,
)
from kubernai.model.workload import PodTemplate, memoised

VOLCANO_SCHEDULER = "volcano"
DEFAULT_SCHEDULER = "default-scheduler"
KUBE_GROUP_NAME = "scheduling.k8s.io/group-name"
VOLCANO_GROUP_NAME = "scheduling.volcano.sh/group-name"
VOLCANO_QUEUE_NAME = "scheduling.volcano.sh/queue-name"
RAY_VOLCANO_QUEUE_LABEL = "volcano.sh/queue-name"
VOLCANO_POD_ANNOTATIONS = (KUBE_GROUP_NAME, VOLCANO_GROUP_NAME, VOLCANO_QUEUE_NAME)
"""Pod annotations that only Volcano reads."""
VOLCANO_BUILTIN_QUEUES = frozenset({"default", "root"})
"""Queues Volcano creates when it is installed."""

KUBEFLOW_JOBS = frozenset(
    {"PyTorchJob", "TFJob", "MPIJob", "PaddleJob", "XGBoostJob", "JAXJob"}
)
RAY_JOBS = frozenset({"RayCluster", "RayJob"})
VOLCANO_QUEUE_REFERRERS = frozenset(
    {
        "Job",
        "PodGroup",
        *KUBEFLOW_JOBS,
        *RAY_JOBS,
        "LeaderWorkerSet",
        "Pod",
        "Deployment",
        "StatefulSet",
        "ReplicaSet",
        "DaemonSet",
        "CronJob",
        "JobSet",
    }
)
"""Kinds that can name a Volcano queue (see ``volcano_queue_refs``)."""

# Labels and annotations by which a pod or its owner joins a gang or an
# all-or-nothing admission queue.
_GANG_KEYS = (
    KUEUE_QUEUE_LABEL,
    "kueue.x-k8s.io/pod-group-name",
    "scheduling.x-k8s.io/pod-group",
    KUBE_GROUP_NAME,
    VOLCANO_GROUP_NAME,
    VOLCANO_QUEUE_NAME,
    RAY_VOLCANO_QUEUE_LABEL,
    "ray.io/scheduler-name",
    "ray.io/gang-scheduling-enabled",
    "kai.scheduler/queue",
    "runai/queue",
)
_GANG_PREFIXES = ("pod-group.scheduling.sigs.k8s.io", "yunikorn.apache.org/")

_DISTRIBUTED_ENV = frozenset(
    {
        "WORLD_SIZE",
        "MASTER_ADDR",
        "PET_NNODES",
        "TF_CONFIG",
        "JAX_COORDINATOR_ADDRESS",
        "OMPI_MCA_orte_default_hostfile",
    }
)
_DISTRIBUTED_COMMANDS = (
    "torchrun",
    "torch.distributed.run",
    "torch.distributed.launch",
    "mpirun",
    "mpiexec",
    "horovodrun",
    "--nnodes",
)
VOLCANO_DISTRIBUTED_PLUGINS = ("pytorch", "mpi", "tensorflow")
"""Volcano job plugins that wire every task replica into one world."""


def is_volcano_job(resource: Resource) -> bool:
    """A Volcano ``Job`` (``batch.volcano.sh``), not a ``batch/v1`` Job."""
    return resource.kind == "Job" and resource.group == "batch.volcano.sh"


def is_volcano_object(resource: Resource, kind: str) -> bool:
    """A ``scheduling.volcano.sh`` object of ``kind`` (Queue, PodGroup)."""
    return resource.kind == kind and resource.group == "scheduling.volcano.sh"


def is_kubeflow_job(resource: Resource) -> bool:
    """A training-operator job (``kubeflow.org`` PyTorchJob, MPIJob, ...)."""
    return resource.kind in KUBEFLOW_JOBS and resource.group == "kubeflow.org"


def scheduler_name(template: PodTemplate) -> Any:
    """The template's ``schedulerName`` as written (``None`` when absent)."""
    return template.spec.get("schedulerName")


def uses_default_scheduler(template: PodTemplate) -> bool:
    """Whether the template's pods go to kube-scheduler's default profile."""
    name = scheduler_name(template)
    return name is None or name in ("", DEFAULT_SCHEDULER)


def accelerator_demand(template: PodTemplate) -> Mapping[str, Fraction]:
    """Accelerators one pod of the template holds, by resource name (computed once)."""
    return memoised(template, "accelerator_demand", lambda: _demand(template))


def _demand(template: PodTemplate) -> dict[str, Fraction]:
    demand: dict[str, Fraction] = {}
    for name in sorted(requested_names(template)):
        if is_accelerator(name):
            amount = pod_request(template, name)
            if amount > 0:
                demand[name] = amount
    return demand


def _keys(mapping: Mapping[str, Any]) -> Iterator[str]:
    return (key for key in mapping if isinstance(key, str))


def gang_marker(resource: Resource) -> str:
    """What gang-schedules (or admits as a whole) this object's pods, or ``""``.

    Only what the manifest shows: a scheduler enabled for every job of an
    operator (``--gang-scheduler-name``) or a Kueue default queue is invisible.
    """
    metas: list[Mapping[str, Any]] = [resource.labels, resource.annotations]
    for template in resource.templates:
        metas.extend((template.labels, template.annotations))
    for meta in metas:
        for key in _keys(meta):
            if key in _GANG_KEYS or key.startswith(_GANG_PREFIXES):
                return key
    for template in resource.templates:
        if not uses_default_scheduler(template):
            return f"schedulerName {scheduler_name(template)}"
    if get_path(resource.raw, "spec", "runPolicy", "schedulingPolicy") is not None:
        return "runPolicy.schedulingPolicy"
    return ""


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, str):
                yield item


def distributed_marker(template: PodTemplate) -> str:
    """Evidence that the template's pods form one world, or ``""``.

    An environment variable that a rendezvous reads (``WORLD_SIZE``,
    ``MASTER_ADDR``, ``TF_CONFIG``...) or a multi-node launcher in the command.
    """
    for container in template.containers:
        if container.init:
            continue
        for item in get_list(container.raw, "env"):
            name = get_str(item, "name")
            if name in _DISTRIBUTED_ENV:
                return f"env {name} in {container.label}"
        for field in ("command", "args"):
            for text in _strings(container.raw.get(field)):
                for word in _DISTRIBUTED_COMMANDS:
                    if word in text:
                        return f"{word!r} in {container.label}"
    return ""


# -- Volcano Job ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GangMember:
    """One role of a gang: its pods, the minimum that must start, per-pod demand."""

    role: str
    index: int
    replicas: int
    minimum: int
    demand: Mapping[str, Fraction]


@dataclass(frozen=True, slots=True)
class VolcanoJobGang:
    """A Volcano Job's gang as the webhook and the job controller set it up."""

    members: tuple[GangMember, ...]
    min_available: int
    """``spec.minAvailable``, or the sum of the tasks' minimums when unset or 0."""
    min_available_set: bool
    task_minimums_enforced: bool
    """Task ``minAvailable`` counts only while ``minAvailable`` covers their sum."""

    @property
    def total_replicas(self) -> int:
        """All pods of the job."""
        return sum(m.replicas for m in self.members)


def volcano_job_gang(resource: Resource) -> VolcanoJobGang | None:
    """The gang of a Volcano Job; ``None`` when a count is missing or unreadable.

    ``tasks[].replicas`` has no default (a missing one is 0), so a task without
    a readable ``replicas`` makes the totals unknown.
    """
    templates = {t.path[2]: t for t in resource.templates if len(t.path) > 2}
    members: list[GangMember] = []
    for index, task in enumerate(get_list(resource.raw, "spec", "tasks")):
        if not isinstance(task, Mapping):
            return None
        replicas = parse_count(task.get("replicas"))
        if replicas is None:
            return None
        raw_min = task.get("minAvailable")
        minimum = replicas if raw_min is None else parse_count(raw_min)
        if minimum is None:
            return None
        template = templates.get(index)
        demand = accelerator_demand(template) if template is not None else {}
        role = get_str(task, "name") or f"default{index}"
        members.append(GangMember(role, index, replicas, minimum, demand))
    if not members:
        return None
    task_total = sum(m.minimum for m in members)
    raw = get_path(resource.raw, "spec", "minAvailable")
    declared = 0 if raw is None else parse_count(raw)
    if declared is None:
        return None
    min_available = declared or task_total
    return VolcanoJobGang(
        members=tuple(members),
        min_available=min_available,
        min_available_set=declared > 0,
        task_minimums_enforced=min_available >= task_total,
    )


def volcano_plugins(resource: Resource) -> tuple[str, ...]:
    """The Volcano job plugins that make one world of all task replicas."""
    plugins = get_map(resource.raw, "spec", "plugins")
    return tuple(p for p in VOLCANO_DISTRIBUTED_PLUGINS if p in plugins)


# -- Kubeflow training operator ---------------------------------------------------


def kubeflow_members(
    resource: Resource, *, written_only: bool = False
) -> tuple[GangMember, ...] | None:
    """Replica roles of a training-operator job; ``None`` if a count is unknown.

    With ``written_only``, a role that leaves ``replicas`` to the operator's
    defaulting (which differs between operators and roles) also makes the
    count unknown. Computed once per object.
    """
    key = "kubeflow_members_written" if written_only else "kubeflow_members"
    return memoised(resource, key, lambda: _members(resource, written_only))


def _members(resource: Resource, written_only: bool) -> tuple[GangMember, ...] | None:
    specs = get_map(resource.raw, "spec")
    members = []
    for index, template in enumerate(resource.templates):
        if template.replicas is None:
            return None
        if written_only and len(template.path) > 2:
            role_spec = get_map(specs, template.path[1], template.path[2])
            if role_spec.get("replicas") is None:
                return None
        members.append(
            GangMember(
                role=template.role,
                index=index,
                replicas=template.replicas,
                minimum=0,
                demand=accelerator_demand(template),
            )
        )
    return tuple(members) or None


def describe_members(members: Iterable[GangMember]) -> str:
    """``master 1, worker 3``: each role with its pod count."""
    return ", ".join(f"{m.role} {m.replicas}" for m in members)


def has_accelerators(members: Iterable[GangMember]) -> bool:
    """Whether some pod of the gang holds an accelerator."""
    return any(m.demand and m.replicas for m in members)


def scheduling_policy(resource: Resource) -> Mapping[str, Any]:
    """``spec.runPolicy.schedulingPolicy`` of a training-operator job."""
    return get_map(resource.raw, "spec", "runPolicy", "schedulingPolicy")


# -- gang demand --------------------------------------------------------------


def least_demand(
    members: Iterable[GangMember], *, min_pods: int, minimums: bool, name: str
) -> Fraction:
    """The fewest units of ``name`` that any ``min_pods`` pods of the gang hold.

    With ``minimums``, each member first contributes its own minimum; the rest
    are the cheapest remaining pods. This is a lower bound of what the
    scheduler has to place before the gang may run.
    """
    members = tuple(members)
    need = Fraction(0)
    left = min_pods
    spare: list[tuple[Fraction, int]] = []
    for member in members:
        per_pod = member.demand.get(name, Fraction(0))
        fixed = min(member.minimum, member.replicas) if minimums else 0
        need += per_pod * fixed
        left -= fixed
        spare.append((per_pod, member.replicas - fixed))
    for per_pod, count in sorted(spare):
        if left <= 0:
            break
        take = min(count, left)
        need += per_pod * take
        left -= take
    return need


# -- Volcano queues -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueRef:
    """A Volcano queue named by an object, with the field that names it."""

    name: str
    path: Path
    field: str


def volcano_queue_refs(resource: Resource) -> Iterator[QueueRef]:
    """The Volcano queues an object sends its pods to, where it names them.

    Volcano Jobs and PodGroups name it in ``spec.queue``; training-operator
    jobs in ``runPolicy.schedulingPolicy.queue`` (the MPI operator also reads
    the object's ``scheduling.volcano.sh/queue-name`` annotation, and so does
    LeaderWorkerSet); KubeRay in the ``volcano.sh/queue-name`` label; plain
    pods in their own ``scheduling.volcano.sh/queue-name`` annotation.
    """
    if is_volcano_job(resource) or is_volcano_object(resource, "PodGroup"):
        name = get_path(resource.raw, "spec", "queue")
        if isinstance(name, str):
            yield QueueRef(name, ("spec", "queue"), "spec.queue")
        return
    if resource.kind in RAY_JOBS and resource.group == "ray.io":
        name = resource.labels.get(RAY_VOLCANO_QUEUE_LABEL)
        if isinstance(name, str):
            path: Path = ("metadata", "labels", RAY_VOLCANO_QUEUE_LABEL)
            yield QueueRef(name, path, f"label {RAY_VOLCANO_QUEUE_LABEL}")
        return
    if is_kubeflow_job(resource):
        name = scheduling_policy(resource).get("queue")
        if isinstance(name, str) and name:
            path = ("spec", "runPolicy", "schedulingPolicy", "queue")
            yield QueueRef(name, path, "runPolicy.schedulingPolicy.queue")
            return
    volcano_pods = [t for t in resource.templates if not uses_default_scheduler(t)]
    if resource.kind == "MPIJob" or (
        resource.kind == "LeaderWorkerSet" and volcano_pods
    ):
        name = resource.annotations.get(VOLCANO_QUEUE_NAME)
        if isinstance(name, str):
            path = ("metadata", "annotations", VOLCANO_QUEUE_NAME)
            yield QueueRef(name, path, f"annotation {VOLCANO_QUEUE_NAME}")
            return
    seen = set()
    for template in volcano_pods:  # on kube-scheduler's pods it does nothing
        name = template.annotations.get(VOLCANO_QUEUE_NAME)
        meta = template_metadata_path(resource, template)
        if isinstance(name, str) and meta is not None and name not in seen:
            seen.add(name)
            path = (*meta, "annotations", VOLCANO_QUEUE_NAME)
            yield QueueRef(name, path, f"pod annotation {VOLCANO_QUEUE_NAME}")


def template_metadata_path(resource: Resource, template: PodTemplate) -> Path | None:
    """Path of the pod template's ``metadata``; ``None`` where it has none."""
    if resource.kind == "Pod":
        return ("metadata",)
    if template.path and template.path[-1] == "spec":
        return (*template.path[:-1], "metadata")
    return None


def is_checkable_queue_name(name: str) -> bool:
    """A literal queue name that is not one Volcano creates itself."""
    return (
        bool(name) and not is_placeholder(name) and name not in VOLCANO_BUILTIN_QUEUES
    )


def volcano_queues(resources: Iterable[Resource]) -> dict[str, Resource]:
    """Volcano Queues (cluster-scoped) by name, from a list of ``Queue`` objects."""
    return {r.name: r for r in resources if is_volcano_object(r, "Queue") and r.name}
