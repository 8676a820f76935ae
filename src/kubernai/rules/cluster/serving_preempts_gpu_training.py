"""CLU013 serving-preempts-gpu-training."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from kubernai.model.features import ACCELERATOR
from kubernai.model.gpu import (
    KUEUE_QUEUE_LABEL,
    accelerator_names,
    is_accelerator,
    tolerations,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.priority import (
    ResolvedPriority,
    class_name_of,
    class_named,
    resolve_priority,
)
from kubernai.model.resource import Resource, get_list, get_map, get_str, iter_maps
from kubernai.model.workload import PodTemplate
from kubernai.rules.base import Finding, Rule, Severity


class ServingPreemptsGpuTraining(Rule):
    """GPU serving workload whose PriorityClass lets it preempt distributed training.

    ## Mechanism
    When a pod cannot be scheduled, the default scheduler looks for a node
    where removing pods of lower priority would make room, and deletes them
    (preemption). A GPU inference Deployment whose PriorityClass has a
    higher value than a training job's, with `preemptionPolicy`
    `PreemptLowerPriority` (the default), therefore takes GPUs from running
    training pods whenever it scales up or rolls out on full GPU nodes.
    A PodDisruptionBudget does not stop this: the scheduler respects PDBs
    only when it can. For a distributed job, losing one pod stops every
    rank: the collectives cannot complete without it, `torchrun` restarts
    all workers when one fails, and the job resumes from its last checkpoint
    once the lost pod is back, while the surviving ranks keep their GPUs.

    The check reports a GPU serving template that names a preempting class
    (from the input, or a built-in one) when the input also holds a
    distributed GPU training workload (two or more GPU pods; for `batch/v1`,
    an Indexed Job) of lower priority that asks for the same GPU resource on
    nodes both can use. It is silent when either side is queued by Kueue or
    placed by another scheduler (Kueue preempts whole workloads; Volcano
    does not break a gang below its minimum), and when node selectors or
    tolerations keep the two on different node pools. A training template
    without `priorityClassName` gets the input's `globalDefault` class, else
    priority 0 (assumed). Make the serving class non-preempting
    (`preemptionPolicy: Never`: its pods still go first in the queue), run
    serving and training on separate node pools, or queue both with Kueue.

    ## Example
    ```yaml
    apiVersion: scheduling.k8s.io/v1
    kind: PriorityClass
    metadata:
      name: serving-high
    value: 100000
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
    spec:
      replicas: 2
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          priorityClassName: serving-high
          containers:
            - name: server
              image: vllm/vllm-openai:v0.6.3
              resources:
                limits:
                  nvidia.com/gpu: 1
    ---
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: pretrain
    spec:
      pytorchReplicaSpecs:
        Master:
          replicas: 1
          template:
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.05-py3
                  resources:
                    limits:
                      nvidia.com/gpu: 8
        Worker:
          replicas: 3
          template:
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.05-py3
                  resources:
                    limits:
                      nvidia.com/gpu: 8
    ```

    ## Use instead
    ```yaml
    apiVersion: scheduling.k8s.io/v1
    kind: PriorityClass
    metadata:
      name: serving-high
    value: 100000
    preemptionPolicy: Never
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
    spec:
      replicas: 2
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          priorityClassName: serving-high
          containers:
            - name: server
              image: vllm/vllm-openai:v0.6.3
              resources:
                limits:
                  nvidia.com/gpu: 1
    ---
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: pretrain
    spec:
      pytorchReplicaSpecs:
        Master:
          replicas: 1
          template:
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.05-py3
                  resources:
                    limits:
                      nvidia.com/gpu: 8
        Worker:
          replicas: 3
          template:
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.05-py3
                  resources:
                    limits:
                      nvidia.com/gpu: 8
    ```

    ## References
    - https://kubernetes.io/docs/concepts/scheduling-eviction/pod-priority-preemption/#preemption
    - https://kubernetes.io/docs/concepts/scheduling-eviction/pod-priority-preemption/#poddisruptionbudget-is-supported-but-not-guaranteed
    - https://kubernetes.io/docs/concepts/scheduling-eviction/pod-priority-preemption/#non-preempting-priority-class
    - https://pytorch.org/docs/stable/elastic/run.html
    - kubernetes pkg/scheduler/framework/plugins/defaultpreemption/
    """

    code = "CLU013"
    name = "serving-preempts-gpu-training"
    severity = Severity.WARNING
    mechanism = "priority-preemption-for-ai-pods"
    kinds = frozenset(
        {
            "Deployment",
            "StatefulSet",
            "LeaderWorkerSet",
            "InferenceService",
            "LLMInferenceService",
            "RayService",
            "Service",
        }
    )
    workloads_only = True
    requires = frozenset({ACCELERATOR})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if (resource.group, resource.kind) not in _SERVING:
            return
        for template in resource.templates:
            names = _gpu_names(template)
            if not names or _scheduled_elsewhere(resource, template):
                continue
            wanted = class_name_of(template)
            found = class_named(graph, wanted) if wanted else None
            if found is None or found.value is None:
                continue
            if not found.preempts:
                continue
            placement = _placement(template, graph.facts.gpu_taint.key)
            if placement is None:
                continue
            victims = [
                group
                for group in _training(graph)
                if group.first.priority.value < found.value
                and group.first.names & names
                and placement.overlaps(group.first.placement)
            ]
            if not victims:
                continue
            first = victims[0].first
            others = set().union(*(v.resources for v in victims))
            others.discard(id(first.resource))
            more = f" (and {len(others)} more training workloads)" if others else ""
            role = f" ({template.role})" if template.role else ""
            first_role = f" ({first.role})" if first.role else ""
            gpu = sorted(first.names & names)[0]
            yield self.finding(
                resource,
                f"pod template{role} requests {gpu} with PriorityClass {found.name} "
                f"(value {found.value}, preemptionPolicy {found.policy_shown}); "
                f"{first.resource.display()}{first_role} runs {first.pods} GPU pods "
                f"with {first.priority.source} on nodes these pods can also use"
                f"{more}: when this workload scales up or rolls out on full GPU "
                "nodes, the scheduler preempts training pods, and losing one pod "
                "stops the whole distributed job",
                path=template.field_path("priorityClassName"),
            )


_SERVING = frozenset(
    {
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("leaderworkerset.x-k8s.io", "LeaderWorkerSet"),
        ("serving.kserve.io", "InferenceService"),
        ("serving.kserve.io", "LLMInferenceService"),
        ("ray.io", "RayService"),
        ("serving.knative.dev", "Service"),
    }
)
# Distributed training kinds, by the kind index; Volcano Jobs (batch.volcano.sh)
# are left out: the Volcano scheduler does not break a gang below its minimum.
_TRAINING = {
    "Job": "batch",
    "PyTorchJob": "kubeflow.org",
    "TFJob": "kubeflow.org",
    "MPIJob": "kubeflow.org",
    "JAXJob": "kubeflow.org",
    "PaddleJob": "kubeflow.org",
    "XGBoostJob": "kubeflow.org",
    "JobSet": "jobset.x-k8s.io",
    "RayJob": "ray.io",
}
_DEFAULT_SCHEDULERS = ("", "default-scheduler")
# Taint keys that every GPU pod tolerates alike, or that Kubernetes adds itself.
_IGNORED_TOLERATION_PREFIXES = (
    "node.kubernetes.io/",
    "node.cloudprovider.kubernetes.io/",
)


def _gpu_names(template: PodTemplate) -> frozenset[str]:
    return frozenset(n for c in template.containers for n in accelerator_names(c))


def _scheduled_elsewhere(resource: Resource, template: PodTemplate) -> bool:
    """Queued by Kueue, or placed by another scheduler than kube-scheduler."""
    if KUEUE_QUEUE_LABEL in resource.labels or KUEUE_QUEUE_LABEL in template.labels:
        return True
    return get_str(template.spec, "schedulerName") not in _DEFAULT_SCHEDULERS


@dataclass(frozen=True, slots=True)
class _Placement:
    """Where a template's pods may run, as far as the manifest says.

    ``labels`` pairs a node label key with the values it must have (``None``:
    any value), sorted by key; ``tolerated`` holds the taint keys tolerated
    beyond the GPU taint; ``wildcard`` is a toleration of every taint.
    """

    labels: tuple[tuple[str, frozenset[str] | None], ...]
    tolerated: frozenset[str]
    wildcard: bool

    def overlaps(self, other: _Placement) -> bool:
        """Whether both surely share nodes: conservative, ``False`` when unsure."""
        own, their = dict(self.labels), dict(other.labels)
        mine, theirs = set(own), set(their)
        for key in mine & theirs:
            a, b = own[key], their[key]
            if a is not None and b is not None and not a & b:
                return False
        if mine - theirs and theirs - mine:
            return False  # each pinned by labels the other does not mention
        if self.tolerated - other.tolerated and not other.wildcard:
            return False  # a dedicated pool the other cannot enter
        return not (other.tolerated - self.tolerated and not self.wildcard)


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _placement(template: PodTemplate, gpu_taint: str) -> _Placement | None:
    """The template's node constraints, or ``None`` when they are not readable."""
    labels: dict[str, frozenset[str] | None] = {}
    for key, value in get_map(template.spec, "nodeSelector").items():
        text = _text(value)
        if isinstance(key, str) and text is not None:
            labels[key] = frozenset({text})
    required = get_map(
        template.spec,
        "affinity",
        "nodeAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
    )
    terms = get_list(required, "nodeSelectorTerms")
    if len(terms) > 1:
        return None  # ORed terms: too many possibilities to compare
    for _, expression in iter_maps(terms[0] if terms else {}, "matchExpressions"):
        key, operator = get_str(expression, "key"), get_str(expression, "operator")
        if not key:
            continue
        if operator == "In":
            values = {_text(v) for v in get_list(expression, "values")}
            allowed = frozenset(v for v in values if v is not None)
            before = labels.get(key)
            labels[key] = allowed if before is None else before & allowed
        elif operator == "Exists":
            labels.setdefault(key, None)
    tolerated: set[str] = set()
    wildcard = False
    for toleration in tolerations(template):
        if toleration.wildcard:
            wildcard = True
        elif toleration.key and not _shared_taint(toleration.key, gpu_taint):
            tolerated.add(toleration.key)
    return _Placement(
        labels=tuple(sorted(labels.items(), key=lambda item: item[0])),
        tolerated=frozenset(tolerated),
        wildcard=wildcard,
    )


def _shared_taint(key: str, gpu_taint: str) -> bool:
    """A taint key that says nothing about which GPU pool a pod is meant for."""
    return (
        key == gpu_taint
        or is_accelerator(key)
        or key.startswith(_IGNORED_TOLERATION_PREFIXES)
    )


@dataclass(frozen=True, slots=True)
class _Training:
    resource: Resource
    role: str
    names: frozenset[str]
    placement: _Placement
    priority: ResolvedPriority
    pods: int


@dataclass(frozen=True, slots=True)
class _Group:
    """Training templates alike in GPU names, placement and priority.

    ``first`` stands for them all; ``resources`` holds the ids of their objects.
    """

    first: _Training
    resources: frozenset[int]


_CACHE: WeakKeyDictionary[ObjectGraph, tuple[_Group, ...]] = WeakKeyDictionary()


def _training(graph: ObjectGraph) -> tuple[_Group, ...]:
    """The distributed GPU training templates of the input, read once per graph.

    Grouped, so that a serving template is compared with each distinct kind
    of training pod once, however many jobs the input holds.
    """
    found = _CACHE.get(graph)
    if found is None:
        groups: dict[tuple[Any, ...], list[_Training]] = {}
        for item in _read_training(graph):
            key = (item.names, item.placement, item.priority.value)
            groups.setdefault(key, []).append(item)
        found = tuple(
            _Group(first=items[0], resources=frozenset(id(i.resource) for i in items))
            for items in groups.values()
        )
        _CACHE[graph] = found
    return found


def _read_training(graph: ObjectGraph) -> Iterator[_Training]:
    for kind, group in _TRAINING.items():
        for resource in graph.of_kind(kind):
            if resource.group != group:
                continue
            if kind == "Job" and get_str(resource.raw, "spec", "completionMode") != (
                "Indexed"
            ):
                continue  # independent pods: losing one loses only its own work
            gpu_templates = [t for t in resource.templates if _gpu_names(t)]
            if not gpu_templates or any(
                _scheduled_elsewhere(resource, t) for t in gpu_templates
            ):
                continue
            pods = sum(t.replicas or 0 for t in gpu_templates)
            if pods < 2:
                continue
            for template in gpu_templates:
                priority = resolve_priority(template, graph)
                placement = _placement(template, graph.facts.gpu_taint.key)
                if priority is None or placement is None:
                    continue
                yield _Training(
                    resource=resource,
                    role=template.role,
                    names=_gpu_names(template),
                    placement=placement,
                    priority=priority,
                    pods=pods,
                )
