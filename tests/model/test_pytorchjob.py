from __future__ import annotations

import pytest

from kubernai.load.files import LoadResult, load_text
from kubernai.model.graph import ObjectGraph
from kubernai.model.pytorchjob import (
    DEFAULT_PORT,
    MASTER,
    WORKER,
    accelerator_count,
    builtin_runtimes,
    injected_env,
    master_port,
    ml_policy,
    nproc_per_node,
    operator_env_names,
    replica_specs,
    reserved_env,
    runtime_ref,
    total_replicas,
    trainjob_policy,
)
from kubernai.model.resource import Resource


def load(text: str) -> list[Resource]:
    loaded = LoadResult()
    load_text(text, "t.yaml", result=loaded)
    return list(loaded.resources)


JOB = """\
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: gpt, namespace: ml}
spec:
  nprocPerNode: "4"
  pytorchReplicaSpecs:
    Master:
      replicas: 1
      template:
        spec:
          containers:
            - name: pytorch
              ports: [{name: pytorchjob-port, containerPort: 29500}]
              resources: {limits: {nvidia.com/gpu: 4}}
    Worker:
      replicas: 3
      template:
        spec:
          containers:
            - name: pytorch
              resources: {requests: {nvidia.com/gpu: "2", amd.com/gpu: 1}}
"""


def test_replicas_and_total() -> None:
    (job,) = load(JOB)
    specs = {s.type: s for s in replica_specs(job)}
    assert specs[MASTER].replicas == 1
    assert specs[MASTER].replicas_set
    assert specs[WORKER].replicas == 3
    assert total_replicas(job) == 4


def test_injected_env_with_master() -> None:
    (job,) = load(JOB)
    master = injected_env(job, MASTER)
    worker = injected_env(job, WORKER)
    assert master["MASTER_ADDR"].value == "gpt-master-0"
    assert master["PET_MASTER_PORT"].value == "29500"
    assert master["WORLD_SIZE"].value == "16"
    assert master["RANK"].value == "0"
    assert worker["RANK"].value is None  # 1..3, one per pod
    assert worker["PET_NNODES"].value == "4"
    assert worker["PET_NPROC_PER_NODE"].value == "4"


def test_injected_env_elastic_without_master() -> None:
    (job,) = load(
        """\
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: e}
spec:
  elasticPolicy: {maxReplicas: 5, nProcPerNode: 2}
  pytorchReplicaSpecs:
    Worker: {replicas: 2}
"""
    )
    env = injected_env(job, WORKER)
    assert "MASTER_ADDR" not in env
    assert "WORLD_SIZE" not in env
    assert env["PET_NNODES"].value == "5:5"
    assert env["PET_NPROC_PER_NODE"].value == "2"


@pytest.mark.parametrize(
    ("spec", "text", "count", "field"),
    [
        ("{}", "auto", None, "default"),
        ('{nprocPerNode: "8"}', "8", 8, "spec.nprocPerNode"),
        ("{nprocPerNode: 2}", "2", 2, "spec.nprocPerNode"),
        ("{nprocPerNode: gpu}", "gpu", None, "spec.nprocPerNode"),
        (
            "{elasticPolicy: {nProcPerNode: 4}}",
            "4",
            4,
            "spec.elasticPolicy.nProcPerNode",
        ),
    ],
)
def test_nproc_per_node(spec: str, text: str, count: int | None, field: str) -> None:
    (job,) = load(f"apiVersion: kubeflow.org/v1\nkind: PyTorchJob\nspec: {spec}\n")
    found = nproc_per_node(job)
    assert found is not None
    assert (found.text, found.count, found.field) == (text, count, field)


def test_nproc_per_node_unreadable() -> None:
    (job,) = load(
        "apiVersion: kubeflow.org/v1\nkind: PyTorchJob\nspec: {nprocPerNode: [1]}\n"
    )
    assert nproc_per_node(job) is None


def test_master_port_default_and_accelerators() -> None:
    (job,) = load(
        JOB.replace(
            "ports: [{name: pytorchjob-port, containerPort: 29500}]", "ports: []"
        )
    )
    assert master_port(job) == DEFAULT_PORT
    by_role = {t.role: t for t in job.templates}
    master = by_role[MASTER].containers[0]
    worker = by_role[WORKER].containers[0]
    assert accelerator_count(master) == (
        4,
        "nvidia.com/gpu",
        master.resource_path("limits", "nvidia.com/gpu"),
    )
    assert accelerator_count(worker) is not None
    assert accelerator_count(worker)[0] == 3  # type: ignore[index]


def test_trainjob_runtime_resolution() -> None:
    runtime, job, builtin = load(
        """\
apiVersion: trainer.kubeflow.org/v1alpha1
kind: TrainingRuntime
metadata: {name: mine, namespace: a}
spec: {mlPolicy: {mpi: {numProcPerNode: 1}}}
---
apiVersion: trainer.kubeflow.org/v1alpha1
kind: TrainJob
metadata: {name: j, namespace: a}
spec: {runtimeRef: {name: mine, kind: TrainingRuntime}}
---
apiVersion: trainer.kubeflow.org/v1alpha1
kind: TrainJob
metadata: {name: k, namespace: a}
spec: {runtimeRef: {name: torch-distributed}}
"""
    )
    graph = ObjectGraph([runtime, job, builtin])
    assert ml_policy(runtime) == "mpi"
    assert trainjob_policy(job, graph) == ("mpi", runtime)
    assert trainjob_policy(builtin, graph) == ("torch", None)
    ref = runtime_ref(builtin)
    assert ref is not None
    assert ref.kind == "ClusterTrainingRuntime"
    assert builtin_runtimes()["deepspeed-distributed"] == "mpi"


def test_reserved_env_catalog() -> None:
    torch = reserved_env("torch")
    assert torch is not None
    assert "PET_NODE_RANK" in torch.names
    assert reserved_env("jax") is None


def test_operator_env_names_by_job_shape() -> None:
    with_master, elastic = load(
        """\
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: m}
spec:
  pytorchReplicaSpecs: {Master: {replicas: 1}, Worker: {replicas: 1}}
---
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: e}
spec:
  elasticPolicy: {maxRestarts: 3, standalone: false}
  pytorchReplicaSpecs: {Worker: {replicas: 2}}
"""
    )
    master_names = operator_env_names(with_master)
    assert {"MASTER_ADDR", "RANK", "PET_NNODES"} <= master_names
    assert "PET_RDZV_ENDPOINT" not in master_names
    elastic_names = operator_env_names(elastic)
    assert {"PET_RDZV_ENDPOINT", "PET_MAX_RESTARTS"} <= elastic_names
    assert "MASTER_ADDR" not in elastic_names
    assert "PET_STANDALONE" not in elastic_names
