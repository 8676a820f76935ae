"""Expand submitted workloads into the pods their controllers would create.

The workload table (``model/workload.py``) says where each kind keeps its pod
templates and how many pods each makes. Names follow the controllers where
they are deterministic (StatefulSet ``web-0``; Kubeflow ``train-worker-0``;
LeaderWorkerSet ``lws-0`` and ``lws-0-1``; Volcano ``job-task-0``); where the
controller adds a random suffix (Deployment, Job) the pod index stands in for
it. A template whose count depends on the cluster (autoscaled services)
makes one pod. DaemonSets make one pod per node that their taints and node
selector admit, pinned with ``matchFields metadata.name`` as the DaemonSet
controller does.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kubernai.model.gpu import Taint
from kubernai.model.resource import Resource, get_map, get_path
from kubernai.model.workload import PodTemplate
from kubernai.sim.nodes import NodeInfo
from kubernai.sim.pods import read_tolerations

_BUILTIN_GROUPS = {
    "Pod": "",
    "ReplicationController": "",
    "Deployment": "apps",
    "ReplicaSet": "apps",
    "StatefulSet": "apps",
    "DaemonSet": "apps",
    "Job": "batch",
    "CronJob": "batch",
}


@dataclass(frozen=True, slots=True)
class PodPlan:
    """One pod a workload's controller creates."""

    name: str
    labels: Mapping[str, Any]
    spec: Mapping[str, Any]
    template: PodTemplate
    role: str = ""


def is_builtin(resource: Resource) -> bool:
    """Kinds the API server validates with their pod template (not CRDs)."""
    return _BUILTIN_GROUPS.get(resource.kind) == resource.group


def template_spec(template: PodTemplate) -> Mapping[str, Any]:
    """A template's pod spec; containers rebuilt where the table synthesised them."""
    spec = template.spec
    synthetic = any(c.resources_key != "resources" for c in template.containers)
    listed = isinstance(spec.get("containers"), list)
    if listed and not synthetic:
        return spec
    containers = [
        {**c.raw, "resources": get_map(c.raw, c.resources_key)}
        for c in template.containers
        if not c.init
    ]
    return {**spec, "containers": containers}


def _labels(template: PodTemplate, extra: Mapping[str, str]) -> dict[str, Any]:
    return {**template.labels, **extra}


def _count(template: PodTemplate) -> int:
    return 1 if template.replicas is None else template.replicas


def expand(resource: Resource, nodes: list[NodeInfo]) -> Iterator[PodPlan]:
    """The pods ``resource`` makes, in creation order."""
    kind, name = resource.kind, resource.name
    templates = resource.templates
    if kind == "LeaderWorkerSet":
        yield from _leader_worker_set(resource)
        return
    if kind == "DaemonSet" and templates:
        yield from _daemon_set(resource, templates[0], nodes)
        return
    for template in templates:
        spec = template_spec(template)
        role = template.role
        count = _count(template)
        for index in range(count):
            if kind == "Pod":
                pod_name, extra = name, {}
            elif kind == "StatefulSet":
                pod_name = f"{name}-{index}"
                extra = {
                    "statefulset.kubernetes.io/pod-name": pod_name,
                    "apps.kubernetes.io/pod-index": str(index),
                }
            elif kind in ("Job", "CronJob") and resource.group == "batch":
                pod_name = f"{name}-{index}"
                extra = {"job-name": name, "batch.kubernetes.io/job-name": name}
            elif resource.group == "kubeflow.org":
                pod_name = f"{name}-{role.lower()}-{index}"
                extra = {
                    "training.kubeflow.org/job-name": name,
                    "training.kubeflow.org/replica-type": role.lower(),
                    "training.kubeflow.org/replica-index": str(index),
                }
            elif resource.group == "batch.volcano.sh":
                pod_name = f"{name}-{role}-{index}"
                extra = {"volcano.sh/job-name": name, "volcano.sh/task-spec": role}
            elif kind in ("RayCluster", "RayJob", "RayService"):
                pod_name = (
                    f"{name}-head"
                    if role == "head"
                    else f"{name}-{role}-worker-{index}"
                )
                extra = {"ray.io/cluster": name, "ray.io/group": role}
            elif role:
                pod_name = f"{name}-{role}-{index}"
                extra = {}
            else:
                pod_name = f"{name}-{index}"
                extra = {}
            yield PodPlan(pod_name, _labels(template, extra), spec, template, role)


def _leader_worker_set(resource: Resource) -> Iterator[PodPlan]:
    name = resource.name
    groups = get_path(resource.raw, "spec", "replicas")
    size = get_path(resource.raw, "spec", "leaderWorkerTemplate", "size")
    groups = groups if isinstance(groups, int) and not isinstance(groups, bool) else 1
    size = size if isinstance(size, int) and not isinstance(size, bool) else 1
    by_role = {t.role: t for t in resource.templates}
    worker = by_role.get("worker")
    leader = by_role.get("leader") or worker
    if worker is None or leader is None:
        return
    for group in range(groups):
        for index in range(size):
            template = leader if index == 0 else worker
            extra = {
                "leaderworkerset.sigs.k8s.io/name": name,
                "leaderworkerset.sigs.k8s.io/group-index": str(group),
                "leaderworkerset.sigs.k8s.io/worker-index": str(index),
            }
            pod_name = f"{name}-{group}" if index == 0 else f"{name}-{group}-{index}"
            yield PodPlan(
                pod_name,
                _labels(template, extra),
                template_spec(template),
                template,
                "leader" if index == 0 else "worker",
            )


_DAEMON_TOLERATED = (
    Taint("node.kubernetes.io/not-ready", "", "NoExecute"),
    Taint("node.kubernetes.io/unreachable", "", "NoExecute"),
    Taint("node.kubernetes.io/disk-pressure", "", "NoSchedule"),
    Taint("node.kubernetes.io/memory-pressure", "", "NoSchedule"),
    Taint("node.kubernetes.io/pid-pressure", "", "NoSchedule"),
    Taint("node.kubernetes.io/unschedulable", "", "NoSchedule"),
)


def _daemon_set(
    resource: Resource, template: PodTemplate, nodes: list[NodeInfo]
) -> Iterator[PodPlan]:
    from kubernai.model.selector import map_selector_matches

    spec = template_spec(template)
    tolerations = read_tolerations(spec)
    selector = get_map(spec, "nodeSelector")
    for node in nodes:
        if selector and not map_selector_matches(selector, node.labels):
            continue
        blocked = any(
            taint.effect in ("NoSchedule", "NoExecute")
            and taint not in _DAEMON_TOLERATED
            and not any(t.tolerates(taint) for t in tolerations)
            for taint in node.taints
        )
        if blocked:
            continue
        pinned = copy.deepcopy(dict(spec))
        affinity = pinned.setdefault("affinity", {})
        affinity["nodeAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchFields": [
                            {
                                "key": "metadata.name",
                                "operator": "In",
                                "values": [node.name],
                            }
                        ]
                    }
                ]
            }
        }
        yield PodPlan(
            f"{resource.name}-{node.name}",
            _labels(template, {}),
            pinned,
            template,
        )
