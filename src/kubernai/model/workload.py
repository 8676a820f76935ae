"""The workload table: where every kind keeps its pod templates and replica counts.

This is the one place that knows ``spec.template.spec`` and its CRD cousins;
rules ask for ``resource.templates`` and never spell the paths out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kubernai.model.quantity import parse_count
from kubernai.model.resource import (
    Path,
    Raw,
    Resource,
    get_map,
    get_path,
    get_str,
    iter_maps,
)


@dataclass(frozen=True, slots=True)
class Container:
    """A container of a pod template, with its path in the object."""

    path: Path
    raw: Raw
    init: bool = False
    resources_key: str = "resources"
    requests: Mapping[str, Any] = field(init=False)
    """``resources.requests``."""
    limits: Mapping[str, Any] = field(init=False)
    """``resources.limits``."""
    names: tuple[str, ...] = field(init=False)
    """Resource names in limits, then requests, each once."""
    memo: dict[str, Any] = field(
        init=False, default_factory=dict, compare=False, hash=False, repr=False
    )
    """Derived values (parsed command lines...) computed once for all rules."""

    def __post_init__(self) -> None:
        resources = get_map(self.raw, self.resources_key)
        limits, requests = get_map(resources, "limits"), get_map(resources, "requests")
        object.__setattr__(self, "requests", requests)
        object.__setattr__(self, "limits", limits)
        names = (n for n in (*limits, *requests) if isinstance(n, str))
        object.__setattr__(self, "names", tuple(dict.fromkeys(names)))

    @property
    def name(self) -> str:
        """The container's name, or ``""``."""
        return get_str(self.raw, "name")

    @property
    def label(self) -> str:
        """How messages name the container."""
        kind = "init container" if self.init else "container"
        return f"{kind} {self.name!r}" if self.name else kind

    def resource_path(self, section: str, name: str) -> Path:
        """Path of ``resources.<section>.<name>`` in the object."""
        return (*self.path, self.resources_key, section, name)


@dataclass(frozen=True, slots=True)
class PodTemplate:
    """A pod template inside a workload.

    ``replicas`` is how many pods the object makes from it, ``None`` when that
    depends on the cluster (DaemonSets, autoscaled services). ``complete`` is
    False where another object (a serving runtime, a training runtime, a
    config preset) adds pod-level fields such as tolerations at admission.
    """

    path: Path
    spec: Raw
    annotations: Mapping[str, Any]
    labels: Mapping[str, Any]
    containers: tuple[Container, ...]
    role: str = ""
    replicas: int | None = 1
    complete: bool = True
    memo: dict[str, Any] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )
    """Derived values computed once for all rules (see :func:`memoised`)."""

    def field_path(self, *steps: str | int) -> Path:
        """Path of a pod-spec field in the object."""
        return (*self.path, *steps)


def _containers(spec: Raw, path: Path) -> Iterator[Container]:
    for key, init in (("initContainers", True), ("containers", False)):
        for index, raw in iter_maps(spec, key):
            yield Container(path=(*path, key, index), raw=raw, init=init)


def _template(
    obj: Raw,
    spec_path: Path,
    *,
    role: str = "",
    replicas: int | None = 1,
    complete: bool = True,
    meta_path: Path | None = None,
) -> PodTemplate | None:
    spec = get_path(obj, *spec_path)
    if not isinstance(spec, Mapping):
        return None
    meta = get_map(obj, *(meta_path if meta_path is not None else spec_path[:-1]))
    if meta_path is None:
        meta = get_map(meta, "metadata")
    return PodTemplate(
        path=spec_path,
        spec=spec,
        annotations=get_map(meta, "annotations"),
        labels=get_map(meta, "labels"),
        containers=tuple(_containers(spec, spec_path)),
        role=role,
        replicas=replicas,
        complete=complete,
    )


def _count(obj: Raw, *path: str | int, default: int | None = 1) -> int | None:
    value = get_path(obj, *path)
    if value is None:
        return default
    return parse_count(value)


Extractor = Callable[[Raw], Iterator[PodTemplate | None]]
T = TypeVar("T")


def _single(spec_path: Path, replicas_path: Path | None) -> Extractor:
    def extract(obj: Raw) -> Iterator[PodTemplate | None]:
        replicas = _count(obj, *replicas_path) if replicas_path else None
        yield _template(obj, spec_path, replicas=replicas)

    return extract


def _pod(obj: Raw) -> Iterator[PodTemplate | None]:
    yield _template(obj, ("spec",), meta_path=("metadata",))


def _replica_specs(field: str) -> Extractor:
    def extract(obj: Raw) -> Iterator[PodTemplate | None]:
        for role, replica_spec in get_map(obj, "spec", field).items():
            if isinstance(replica_spec, Mapping):
                yield _template(
                    obj,
                    ("spec", field, role, "template", "spec"),
                    role=str(role),
                    replicas=_count(replica_spec, "replicas"),
                )

    return extract


def _replicated_jobs(base: Path) -> Extractor:
    def extract(obj: Raw) -> Iterator[PodTemplate | None]:
        for index, job in iter_maps(obj, *base, "replicatedJobs"):
            copies = _count(job, "replicas")
            parallelism = _count(job, "template", "spec", "parallelism")
            replicas = (
                None if copies is None or parallelism is None else copies * parallelism
            )
            yield _template(
                obj,
                (
                    *base,
                    "replicatedJobs",
                    index,
                    "template",
                    "spec",
                    "template",
                    "spec",
                ),
                role=get_str(job, "name"),
                replicas=replicas,
            )

    return extract


def _train_job(obj: Raw) -> Iterator[PodTemplate | None]:
    trainer = get_map(obj, "spec", "trainer")
    if not trainer:
        return
    path: Path = ("spec", "trainer")
    container = Container(path=path, raw=trainer, resources_key="resourcesPerNode")
    yield PodTemplate(
        path=path,
        spec={},
        annotations={},
        labels={},
        containers=(container,),
        role="trainer",
        replicas=_count(trainer, "numNodes"),
        complete=False,
    )


_KSERVE_FRAMEWORKS = (
    "sklearn", "xgboost", "tensorflow", "pytorch", "triton", "onnx", "huggingface",
    "pmml", "lightgbm", "paddle", "alibi", "art",
)  # fmt: skip


def _inference_service(obj: Raw) -> Iterator[PodTemplate | None]:
    for component in ("predictor", "transformer", "explainer"):
        spec = get_map(obj, "spec", component)
        if not spec:
            continue
        path: Path = ("spec", component)
        containers = list(_containers(spec, path))
        runtime_based = False
        for key in ("model", *_KSERVE_FRAMEWORKS):
            inner = spec.get(key)
            if isinstance(inner, Mapping):
                runtime_based = True
                containers.append(Container(path=(*path, key), raw=inner))
        yield PodTemplate(
            path=path,
            spec=spec,
            annotations=get_map(spec, "annotations"),
            labels=get_map(spec, "labels"),
            containers=tuple(containers),
            role=component,
            replicas=_count(spec, "minReplicas"),
            complete=not runtime_based,
        )


def _llm_inference_service(obj: Raw) -> Iterator[PodTemplate | None]:
    for base, role in ((("spec",), "decode"), (("spec", "prefill"), "prefill")):
        replicas = _count(obj, *base, "replicas")
        for key, suffix in (("template", ""), ("worker", "-worker")):
            yield _template(
                obj,
                (*base, key),
                role=role + suffix,
                replicas=replicas,
                complete=False,
                meta_path=(*base,),
            )


def _ray(base: Path) -> Extractor:
    def extract(obj: Raw) -> Iterator[PodTemplate | None]:
        yield _template(obj, (*base, "headGroupSpec", "template", "spec"), role="head")
        for index, group in iter_maps(obj, *base, "workerGroupSpecs"):
            replicas = _count(group, "replicas", default=None)
            if replicas is None:
                replicas = _count(group, "minReplicas", default=None)
            yield _template(
                obj,
                (*base, "workerGroupSpecs", index, "template", "spec"),
                role=get_str(group, "groupName") or f"worker-{index}",
                replicas=replicas,
            )
        if base == ("spec", "rayClusterSpec"):
            yield _template(
                obj, ("spec", "submitterPodTemplate", "spec"), role="submitter"
            )

    return extract


def _leader_worker_set(obj: Raw) -> Iterator[PodTemplate | None]:
    groups = _count(obj, "spec", "replicas")
    size = _count(obj, "spec", "leaderWorkerTemplate", "size")
    base: Path = ("spec", "leaderWorkerTemplate")
    has_leader = isinstance(get_path(obj, *base, "leaderTemplate", "spec"), Mapping)
    if has_leader:
        yield _template(
            obj, (*base, "leaderTemplate", "spec"), role="leader", replicas=groups
        )
    workers = None
    if groups is not None and size is not None:
        workers = groups * (size - 1 if has_leader else size)
    yield _template(
        obj,
        (*base, "workerTemplate", "spec"),
        role="worker",
        replicas=workers,
    )


def _volcano_job(obj: Raw) -> Iterator[PodTemplate | None]:
    for index, task in iter_maps(obj, "spec", "tasks"):
        yield _template(
            obj,
            ("spec", "tasks", index, "template", "spec"),
            role=get_str(task, "name"),
            replicas=_count(task, "replicas", default=0),  # Volcano has no default
        )


_TEMPLATE = ("spec", "template", "spec")
WORKLOADS: dict[tuple[str, str], Extractor] = {
    ("", "Pod"): _pod,
    ("", "PodTemplate"): _single(("template", "spec"), None),
    ("", "ReplicationController"): _single(_TEMPLATE, ("spec", "replicas")),
    ("apps", "Deployment"): _single(_TEMPLATE, ("spec", "replicas")),
    ("apps", "ReplicaSet"): _single(_TEMPLATE, ("spec", "replicas")),
    ("apps", "StatefulSet"): _single(_TEMPLATE, ("spec", "replicas")),
    ("apps", "DaemonSet"): _single(_TEMPLATE, None),
    ("batch", "Job"): _single(_TEMPLATE, ("spec", "parallelism")),
    ("batch", "CronJob"): _single(
        ("spec", "jobTemplate", "spec", "template", "spec"),
        ("spec", "jobTemplate", "spec", "parallelism"),
    ),
    ("kubeflow.org", "PyTorchJob"): _replica_specs("pytorchReplicaSpecs"),
    ("kubeflow.org", "TFJob"): _replica_specs("tfReplicaSpecs"),
    ("kubeflow.org", "MPIJob"): _replica_specs("mpiReplicaSpecs"),
    ("kubeflow.org", "PaddleJob"): _replica_specs("paddleReplicaSpecs"),
    ("kubeflow.org", "XGBoostJob"): _replica_specs("xgbReplicaSpecs"),
    ("kubeflow.org", "JAXJob"): _replica_specs("jaxReplicaSpecs"),
    ("trainer.kubeflow.org", "TrainJob"): _train_job,
    ("trainer.kubeflow.org", "TrainingRuntime"): _replicated_jobs(
        ("spec", "template", "spec")
    ),
    ("trainer.kubeflow.org", "ClusterTrainingRuntime"): _replicated_jobs(
        ("spec", "template", "spec")
    ),
    ("serving.kserve.io", "InferenceService"): _inference_service,
    ("serving.kserve.io", "ServingRuntime"): _single(("spec",), ("spec", "replicas")),
    ("serving.kserve.io", "ClusterServingRuntime"): _single(
        ("spec",), ("spec", "replicas")
    ),
    ("serving.kserve.io", "LLMInferenceService"): _llm_inference_service,
    ("ray.io", "RayCluster"): _ray(("spec",)),
    ("ray.io", "RayJob"): _ray(("spec", "rayClusterSpec")),
    ("ray.io", "RayService"): _ray(("spec", "rayClusterConfig")),
    ("leaderworkerset.x-k8s.io", "LeaderWorkerSet"): _leader_worker_set,
    ("batch.volcano.sh", "Job"): _volcano_job,
    ("jobset.x-k8s.io", "JobSet"): _replicated_jobs(("spec",)),
    ("serving.knative.dev", "Service"): _single(_TEMPLATE, None),
}


def pod_templates(resource: Resource) -> tuple[PodTemplate, ...]:
    """The pod templates of ``resource``; empty for kinds that make no pods."""
    extract = WORKLOADS.get((resource.group, resource.kind))
    if extract is None:
        return ()
    return tuple(t for t in extract(resource.raw) if t is not None)


def is_workload(resource: Resource) -> bool:
    """Whether the workload table knows ``resource``'s kind."""
    return (resource.group, resource.kind) in WORKLOADS


def memoised(
    owner: Container | PodTemplate | Resource, key: str, make: Callable[[], T]
) -> T:
    """``make()`` computed once per container, template or object and kept on it.

    Rules run one after another on the same object; parsing a command line
    or computing a QoS class once for all of them keeps the engine fast.
    """
    memo = owner.memo
    if key in memo:
        found: T = memo[key]
        return found
    made = memo[key] = make()
    return made


def env_names(container: Container) -> frozenset[str]:
    """Names of the container's ``env`` entries (``value`` or ``valueFrom``).

    Read once per container.
    """
    return memoised(container, "env_names", lambda: _env_names(container))


def _env_names(container: Container) -> frozenset[str]:
    names = (get_str(item, "name") for _, item in iter_maps(container.raw, "env"))
    return frozenset(name for name in names if name)
