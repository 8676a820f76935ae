"""Kubeflow PyTorch jobs: PyTorchJob (training-operator v1) and TrainJob (Trainer v2).

PyTorchJob (``kubeflow.org/v1``), read in kubeflow/training-operator branch
``release-1.9`` (078ec30, where the v1 API is maintained):
- ``pkg/apis/kubeflow.org/v1/pytorch_types.go``: replica types ``Master`` and
  ``Worker``, the container named ``pytorch`` (``PyTorchJobDefaultContainerName``),
  the port named ``pytorchjob-port`` (default 23456), ``spec.nprocPerNode``
  (a string: ``auto``, ``cpu``, ``gpu`` or an integer) and the deprecated
  ``spec.elasticPolicy.nProcPerNode`` (an integer);
- ``pytorch_defaults.go``: replicas default to 1, ``nprocPerNode`` to ``auto``
  unless ``elasticPolicy.nProcPerNode`` is set; elastic ``minReplicas`` and
  ``maxReplicas`` default to each other, else to the Worker replicas;
- ``pkg/controller.v1/pytorch/envvar.go``, ``master.go`` and ``elastic.go``: the
  environment appended to every container (not init containers) of every pod,
  after the container's own ``env``, so the operator's entries win; which
  variables it appends depends on the job's shape (a Master, an elastic policy).

TrainJob (``trainer.kubeflow.org/v1alpha1``), read in kubeflow/trainer v2.0.0 to
v2.3.0 (data in ``data/kubeflow_trainer.json``): ``spec.runtimeRef`` (``kind``
defaults to ``ClusterTrainingRuntime``), the ML policy of the runtime
(``spec.mlPolicy.{torch,mpi,jax,xgboost,flux}``), and the environment names each
policy's plugin reserves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from kubernai.model.gpu import is_accelerator
from kubernai.model.graph import ObjectGraph
from kubernai.model.quantity import parse_count
from kubernai.model.resource import (
    Path,
    Raw,
    Resource,
    get_map,
    get_path,
    get_str,
    is_placeholder,
    iter_maps,
)
from kubernai.model.workload import Container, PodTemplate, memoised

PYTORCHJOB = ("kubeflow.org", "PyTorchJob")
TRAINJOB = ("trainer.kubeflow.org", "TrainJob")
TRAINER_GROUP = "trainer.kubeflow.org"
MASTER, WORKER = "Master", "Worker"
REPLICA_TYPES = (MASTER, WORKER)
REPLICA_SPECS = "pytorchReplicaSpecs"
DEFAULT_CONTAINER = "pytorch"
PORT_NAME = "pytorchjob-port"
DEFAULT_PORT = 23456
DEFAULT_NPROC = "auto"
RUNTIME_KINDS = ("ClusterTrainingRuntime", "TrainingRuntime")


def is_pytorchjob(resource: Resource) -> bool:
    """A ``kubeflow.org`` PyTorchJob."""
    return resource.kind == "PyTorchJob" and resource.group == PYTORCHJOB[0]


def is_trainjob(resource: Resource) -> bool:
    """A Kubeflow Trainer v2 TrainJob."""
    return resource.kind == "TrainJob" and resource.group == TRAINER_GROUP


# -- PyTorchJob ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplicaSpec:
    """One entry of ``spec.pytorchReplicaSpecs``."""

    type: str
    """The key as written (``Master``, ``Worker``, or anything else)."""
    path: Path
    raw: Raw
    replicas: int | None
    """Pods of this type: 1 when ``replicas`` is absent, ``None`` if unreadable."""
    replicas_set: bool
    """Whether the manifest writes ``replicas``."""

    @property
    def template_path(self) -> Path:
        """Path of the pod spec of this replica type."""
        return (*self.path, "template", "spec")


def replica_specs(resource: Resource) -> tuple[ReplicaSpec, ...]:
    """The replica specs of a PyTorchJob, in the manifest's order (read once)."""
    return memoised(resource, "replica_specs", lambda: _replica_specs(resource))


def _replica_specs(resource: Resource) -> tuple[ReplicaSpec, ...]:
    found = []
    for key, raw in get_map(resource.raw, "spec", REPLICA_SPECS).items():
        if not isinstance(key, str) or not isinstance(raw, Mapping):
            continue
        value = raw.get("replicas")
        replicas = 1 if value is None else parse_count(value)
        found.append(
            ReplicaSpec(
                type=key,
                path=("spec", REPLICA_SPECS, key),
                raw=raw,
                replicas=replicas,
                replicas_set=value is not None,
            )
        )
    return tuple(found)


def replica_spec(resource: Resource, replica_type: str) -> ReplicaSpec | None:
    """The replica spec under exactly that key, if any."""
    for spec in replica_specs(resource):
        if spec.type == replica_type:
            return spec
    return None


def total_replicas(resource: Resource) -> int | None:
    """Pods of the job (the sum over replica types); ``None`` if one is unreadable."""
    total = 0
    for spec in replica_specs(resource):
        if spec.replicas is None:
            return None
        total += spec.replicas
    return total


def is_elastic(resource: Resource) -> bool:
    """Whether the job sets ``spec.elasticPolicy``."""
    return isinstance(get_path(resource.raw, "spec", "elasticPolicy"), Mapping)


@dataclass(frozen=True, slots=True)
class NprocPerNode:
    """The processes per pod the operator passes to torchrun (PET_NPROC_PER_NODE)."""

    text: str
    """As the operator writes it into the environment (``auto``, ``4``...)."""
    path: Path
    """The field that sets it; ``()`` when it is the operator's default."""
    field: str
    """``spec.nprocPerNode``, ``spec.elasticPolicy.nProcPerNode`` or ``default``."""

    @property
    def count(self) -> int | None:
        """The value as an integer, ``None`` for ``auto``, ``cpu``, ``gpu``..."""
        try:
            return int(self.text)
        except ValueError:
            return None


def nproc_per_node(resource: Resource) -> NprocPerNode | None:
    """``PET_NPROC_PER_NODE`` as the operator sets it; ``None`` when unreadable.

    The elastic generator appends ``elasticPolicy.nProcPerNode`` after
    ``spec.nprocPerNode``, so it wins where both are set (the webhook refuses
    that pair); with neither, the default ``auto`` applies.
    """
    spec = get_map(resource.raw, "spec")
    elastic = get_path(spec, "elasticPolicy", "nProcPerNode")
    if elastic is not None:
        count = parse_count(elastic)
        if count is None:
            return None
        return NprocPerNode(
            str(count),
            ("spec", "elasticPolicy", "nProcPerNode"),
            "spec.elasticPolicy.nProcPerNode",
        )
    value = spec.get("nprocPerNode")
    if value is None:
        return NprocPerNode(DEFAULT_NPROC, (), "default")
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    if is_placeholder(text):
        return None
    return NprocPerNode(text, ("spec", "nprocPerNode"), "spec.nprocPerNode")


def pytorch_container(template: PodTemplate) -> Container | None:
    """The container named ``pytorch`` (the operator's default container)."""
    for container in template.containers:
        if not container.init and container.name == DEFAULT_CONTAINER:
            return container
    return None


def templates_by_type(resource: Resource) -> dict[str, PodTemplate]:
    """The pod template of each replica type."""
    return {t.role: t for t in resource.templates}


def master_port(resource: Resource) -> int | None:
    """``MASTER_PORT``: the Master's ``pytorchjob-port``, 23456 when it has none."""
    template = templates_by_type(resource).get(MASTER)
    if template is None:
        return None
    container = pytorch_container(template)
    if container is None:
        return None
    for _, port in iter_maps(container.raw, "ports"):
        if get_str(port, "name") == PORT_NAME:
            return parse_count(port.get("containerPort"))
    return DEFAULT_PORT


def _job_name(resource: Resource) -> str:
    name = get_str(resource.raw, "metadata", "name")
    return "" if is_placeholder(name) else name


def _elastic_nnodes(resource: Resource) -> str | None:
    policy = get_map(resource.raw, "spec", "elasticPolicy")
    low, high = policy.get("minReplicas"), policy.get("maxReplicas")
    if low is None and high is None:
        worker = replica_spec(resource, WORKER)
        low = high = worker.replicas if worker is not None else None
    elif low is None:
        low = high
    elif high is None:
        high = low
    low_count, high_count = parse_count(low), parse_count(high)
    if low_count is None or high_count is None:
        return None
    return f"{low_count}:{high_count}"


@dataclass(frozen=True, slots=True)
class InjectedEnv:
    """A variable the operator appends to every container of a replica type."""

    name: str
    value: str | None
    """What every pod of the type gets; ``None`` when it differs per pod or is
    not known from the manifest."""
    why: str
    """How the operator computes it, for messages."""


def injected_env(resource: Resource, replica_type: str) -> Mapping[str, InjectedEnv]:
    """The distributed-training variables the operator appends (envvar.go).

    ``PYTHONUNBUFFERED`` and the elastic ``PET_RDZV_*`` family are left out.
    Computed once per object and replica type.
    """
    return memoised(
        resource,
        "injected_env " + replica_type,
        lambda: _injected_env(resource, replica_type),
    )


def _injected_env(resource: Resource, replica_type: str) -> dict[str, InjectedEnv]:
    """The job's variables (read once per object) with the pods' rank in between."""
    before, after = memoised(resource, "job_env", lambda: _job_env(resource))
    if before is None:
        return dict(after)
    spec = {s.type: s for s in replica_specs(resource)}.get(replica_type)
    rank: str | None = None
    if replica_type == MASTER:
        rank = "0"
    elif spec is not None and spec.replicas == 1:
        rank = "1"
    rank_why = "the pod's index: Master 0, Worker i is i+1"
    ranks = {name: InjectedEnv(name, rank, rank_why) for name in _RANK_ENV}
    return {**before, **ranks, **after}


_RANK_ENV = ("RANK", "PET_NODE_RANK")


def _job_env(
    resource: Resource,
) -> tuple[dict[str, InjectedEnv] | None, dict[str, InjectedEnv]]:
    """The variables before the rank (``None`` without a Master), and after it."""
    before: dict[str, InjectedEnv] | None = None
    found: dict[str, InjectedEnv] = {}

    def add(name: str, value: str | None, why: str) -> None:
        found[name] = InjectedEnv(name, value, why)

    specs = {s.type: s for s in replica_specs(resource)}
    total = total_replicas(resource)
    nproc = nproc_per_node(resource)
    if MASTER in specs:
        name = _job_name(resource)
        address = f"{name}-master-0" if name else None
        port = master_port(resource)
        port_text = str(port) if port is not None else None
        port_why = f"the Master's {PORT_NAME!r}, {DEFAULT_PORT} by default"
        for variable in ("MASTER_ADDR", "PET_MASTER_ADDR"):
            add(variable, address, "the Master pod's Service")
        for variable in ("MASTER_PORT", "PET_MASTER_PORT"):
            add(variable, port_text, port_why)
        per_node = nproc.count if nproc is not None and nproc.count else 1
        world = None if total is None else total * per_node
        if nproc is not None and nproc.count:
            world_why = f"{total} pods x nprocPerNode {per_node}"
        elif nproc is not None:
            world_why = f"{total} pods x 1, nprocPerNode being {nproc.text!r}"
        else:
            world_why = f"{total} pods x nprocPerNode"
        add("WORLD_SIZE", None if world is None else str(world), world_why)
        before, found = found, {}  # ``add`` fills the new ``found`` from here
    if nproc is not None:
        how = (
            f"spec.nprocPerNode, which defaults to {DEFAULT_NPROC!r}"
            if nproc.field == "default"
            else nproc.field
        )
        add("PET_NPROC_PER_NODE", nproc.text, how)
    if is_elastic(resource):
        add("PET_NNODES", _elastic_nnodes(resource), "elasticPolicy min:max")
    else:
        add("PET_NNODES", None if total is None else str(total), "the job's pods")
    return before, found


MASTER_ENV = frozenset(
    {
        "MASTER_ADDR",
        "MASTER_PORT",
        "PET_MASTER_ADDR",
        "PET_MASTER_PORT",
        "WORLD_SIZE",
        "RANK",
        "PET_NODE_RANK",
    }
)
"""Set only when the job has a Master replica (envvar.go, master.go)."""
ELASTIC_ENV = frozenset(
    {
        "PET_RDZV_ENDPOINT",
        "PET_RDZV_BACKEND",
        "PET_MAX_RESTARTS",
        "PET_RDZV_ID",
        "PET_RDZV_CONF",
        "PET_STANDALONE",
    }
)
"""Set only with ``spec.elasticPolicy`` (elastic.go); some only when configured."""
ALWAYS_ENV = frozenset({"PYTHONUNBUFFERED", "PET_NNODES", "PET_NPROC_PER_NODE"})
OPERATOR_ENV = MASTER_ENV | ELASTIC_ENV | ALWAYS_ENV
"""Every variable the training operator may append to a PyTorchJob container."""

_ELASTIC_FIELDS = {
    "PET_MAX_RESTARTS": "maxRestarts",
    "PET_RDZV_ID": "rdzvId",
    "PET_RDZV_CONF": "rdzvConf",
    "PET_STANDALONE": "standalone",
}


def operator_env_names(resource: Resource) -> frozenset[str]:
    """The variables the operator appends to the containers of this job."""
    names = set(ALWAYS_ENV)
    if replica_spec(resource, MASTER) is not None:
        names |= MASTER_ENV
    policy = get_path(resource.raw, "spec", "elasticPolicy")
    if isinstance(policy, Mapping):
        names |= {"PET_RDZV_ENDPOINT", "PET_RDZV_BACKEND"}
        for name, key in _ELASTIC_FIELDS.items():
            value = policy.get(key)
            if value is not None and value is not False:
                names.add(name)
    return frozenset(names)


# -- accelerators ------------------------------------------------------------------


def accelerator_count(container: Container) -> tuple[int, str, Path] | None:
    """Devices a container gets: the sum of its accelerator limits (else requests).

    Returns the count, the first resource name and its path; ``None`` when the
    container asks for no accelerator or a value cannot be read.
    """
    for section, values in (
        ("limits", container.limits),
        ("requests", container.requests),
    ):
        names = [n for n in values if isinstance(n, str) and is_accelerator(n)]
        if not names:
            continue
        total = 0
        for name in names:
            count = parse_count(values[name])
            if count is None:
                return None
            total += count
        return total, names[0], container.resource_path(section, names[0])
    return None


# -- TrainJob ----------------------------------------------------------------------


@cache
def _trainer_data() -> Mapping[str, Any]:
    text = (
        resources.files("kubernai")
        .joinpath("data/kubeflow_trainer.json")
        .read_text("utf-8")
    )
    data: Mapping[str, Any] = json.loads(text)
    return data


@dataclass(frozen=True, slots=True)
class ReservedEnv:
    """Environment names a Trainer ML-policy plugin refuses in ``spec.trainer.env``."""

    policy: str
    names: frozenset[str]
    since: str
    message: str


@cache
def reserved_env(policy: str) -> ReservedEnv | None:
    """The names the plugin of an ML policy reserves, if it reserves any."""
    for item in _trainer_data()["reserved_env"]:
        if item["policy"] == policy:
            return ReservedEnv(
                policy=policy,
                names=frozenset(item["names"]),
                since=item["since"],
                message=item["message"],
            )
    return None


@cache
def builtin_runtimes() -> dict[str, str]:
    """Names of the ClusterTrainingRuntimes Trainer ships, with their ML policy."""
    return {r["name"]: r["policy"] for r in _trainer_data()["builtin_runtimes"]}


@dataclass(frozen=True, slots=True)
class RuntimeRef:
    """``spec.runtimeRef`` of a TrainJob, with the API defaults applied."""

    name: str
    kind: str
    api_group: str
    path: Path


def runtime_ref(resource: Resource) -> RuntimeRef | None:
    """The runtime a TrainJob names; ``None`` without a readable name."""
    ref = get_map(resource.raw, "spec", "runtimeRef")
    name = get_str(ref, "name")
    if not name or is_placeholder(name):
        return None
    kind = get_str(ref, "kind") or RUNTIME_KINDS[0]
    group = get_str(ref, "apiGroup") or TRAINER_GROUP
    if is_placeholder(kind) or is_placeholder(group):
        return None
    return RuntimeRef(
        name=name, kind=kind, api_group=group, path=("spec", "runtimeRef")
    )


def find_runtime(
    resource: Resource, ref: RuntimeRef, graph: ObjectGraph
) -> Resource | None:
    """The (Cluster)TrainingRuntime a TrainJob names, when it is in the input."""
    if ref.kind not in RUNTIME_KINDS or ref.api_group != TRAINER_GROUP:
        return None
    found = graph.get(ref.kind, resource.namespace, ref.name)
    if found is not None and found.group == TRAINER_GROUP:
        return found
    return None


def ml_policy(runtime: Resource) -> str | None:
    """The ML policy a runtime sets (``torch``, ``mpi``...), ``None`` if none."""
    policy = get_map(runtime.raw, "spec", "mlPolicy")
    for name in _trainer_data()["ml_policies"]["names"]:
        if isinstance(policy.get(name), Mapping):
            return str(name)
    return None


def trainjob_policy(
    resource: Resource, graph: ObjectGraph
) -> tuple[str, Resource | None] | None:
    """The ML policy of a TrainJob's runtime and the runtime, when known.

    From the runtime in the input, else from the built-in runtime of that
    name (a ClusterTrainingRuntime that the Trainer installation ships);
    ``None`` when neither says.
    """
    ref = runtime_ref(resource)
    if ref is None:
        return None
    runtime = find_runtime(resource, ref, graph)
    if runtime is not None:
        policy = ml_policy(runtime)
        return (policy, runtime) if policy is not None else None
    if ref.kind != RUNTIME_KINDS[0] or ref.api_group != TRAINER_GROUP:
        return None
    builtin = builtin_runtimes().get(ref.name)
    return (builtin, None) if builtin is not None else None


def runtime_node_container(runtime: Resource) -> Container | None:
    """The ``node`` container of a runtime's trainer job (where PET_* go)."""
    for template in runtime.templates:
        for container in template.containers:
            if not container.init and container.name == "node":
                return container
    return None
