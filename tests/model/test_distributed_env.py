from __future__ import annotations

from typing import Any

import yaml

from kubernai.load.files import LoadResult, load_text
from kubernai.model.distributed_env import (
    deprecation_warning,
    env_settings,
    renamed_variables,
    training_containers,
)
from kubernai.model.resource import Resource


def load(document: dict[str, Any]) -> Resource:
    loaded = LoadResult()
    load_text(yaml.safe_dump(document), "d.yaml", result=loaded)
    return loaded.resources[0]


def job(container: dict[str, Any], kind: str = "Job") -> Resource:
    groups = {
        "Job": "batch/v1",
        "PyTorchJob": "kubeflow.org/v1",
        "MPIJob": "kubeflow.org/v2beta1",
    }
    if kind == "Job":
        spec: dict[str, Any] = {"template": {"spec": {"containers": [container]}}}
    else:
        key = "pytorchReplicaSpecs" if kind == "PyTorchJob" else "mpiReplicaSpecs"
        spec = {key: {"Worker": {"template": {"spec": {"containers": [container]}}}}}
    return load(
        {
            "apiVersion": groups[kind],
            "kind": kind,
            "metadata": {"name": "j"},
            "spec": spec,
        }
    )


GPU = {"resources": {"limits": {"nvidia.com/gpu": 1}}}


def names(resource: Resource) -> list[str]:
    return [c.name for _, c in training_containers(resource)]


def test_launcher_makes_a_training_container() -> None:
    assert names(job({"name": "t", "command": ["torchrun", "t.py"]})) == ["t"]


def test_gpu_container_of_a_training_kind() -> None:
    assert names(
        job({"name": "p", "command": ["python", "t.py"], **GPU}, "PyTorchJob")
    ) == ["p"]


def test_plain_gpu_job_and_mpi_workers_are_not_training() -> None:
    assert names(job({"name": "x", "command": ["python", "t.py"], **GPU})) == []
    assert (
        names(job({"name": "w", "command": ["/usr/sbin/sshd"], **GPU}, "MPIJob")) == []
    )


def test_nccl_tests_are_not_training() -> None:
    container = {"name": "n", "command": ["all_reduce_perf", "-b", "8"], **GPU}
    assert names(job(container, "PyTorchJob")) == []


def test_env_settings_command_line_wins_and_value_from_is_unknown() -> None:
    container = {
        "name": "t",
        "command": ["sh", "-c", "export NCCL_DEBUG=INFO; torchrun t.py"],
        "env": [
            {"name": "NCCL_DEBUG", "value": "WARN"},
            {"name": "A", "value": 1},
            {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
            {"name": "C", "value": True},
        ],
    }
    resource = job(container)
    ((_, found),) = training_containers(resource)
    settings = env_settings(found)
    assert settings["NCCL_DEBUG"].value == "INFO"
    assert settings["NCCL_DEBUG"].on_command_line
    assert settings["A"].value == "1"
    assert "B" not in settings
    assert "C" not in settings


def test_renamed_variables_and_warning() -> None:
    renames = renamed_variables()
    assert renames["NCCL_ASYNC_ERROR_HANDLING"] == "TORCH_NCCL_ASYNC_ERROR_HANDLING"
    assert renames["NCCL_BLOCKING_WAIT"] == "TORCH_NCCL_BLOCKING_WAIT"
    assert deprecation_warning("NCCL_DESYNC_DEBUG") == (
        "Environment variable NCCL_DESYNC_DEBUG is deprecated; "
        "use TORCH_NCCL_DESYNC_DEBUG instead"
    )
