from __future__ import annotations

from typing import Any

import pytest
import yaml

from kubernai.load.files import LoadResult, load_text
from kubernai.model.graph import ObjectGraph
from kubernai.model.training import launches
from kubernai.model.world_size import (
    WorldSize,
    deepspeed_world_size,
    launch_world_size,
)


def world(*documents: dict[str, Any], index: int = 0) -> WorldSize | None:
    loaded = LoadResult()
    load_text(yaml.safe_dump_all(documents), "w.yaml", result=loaded)
    graph = ObjectGraph(loaded.resources)
    resource = loaded.resources[index]
    template = resource.templates[0]
    (launch,) = launches(template)
    return launch_world_size(resource, template, launch, graph)


def pod(command: list[str], **container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "command": command, **container}]},
    }


def gpus(count: int) -> dict[str, Any]:
    return {"resources": {"limits": {"nvidia.com/gpu": count}}}


@pytest.mark.parametrize(
    ("command", "container", "nodes", "per_node", "how"),
    [
        pytest.param(
            ["torchrun", "train.py"],
            {},
            (1, 1),
            1,
            "torchrun --nnodes 1 (the default) x --nproc-per-node 1 (the default)",
            id="torchrun-defaults",
        ),
        pytest.param(
            ["torchrun", "--nnodes=2", "--nproc_per_node", "8", "t.py"],
            {},
            (2, 2),
            8,
            "torchrun --nnodes 2 x --nproc-per-node 8",
            id="explicit",
        ),
        pytest.param(
            ["torchrun", "--nnodes=1:4", "--nproc-per-node=auto", "t.py"],
            gpus(4),
            (1, 4),
            4,
            "torchrun --nnodes 1:4 x --nproc-per-node auto (4 devices)",
            id="elastic-auto",
        ),
        pytest.param(
            ["python", "-m", "torch.distributed.run", "t.py"],
            {"env": [{"name": "PET_NNODES", "value": "3"}]},
            (3, 3),
            1,
            "torchrun PET_NNODES=3 x --nproc-per-node 1 (the default)",
            id="pet-env",
        ),
        pytest.param(
            ["deepspeed", "--num_gpus", "4", "t.py"],
            {},
            (1, 1),
            4,
            "deepspeed --num_gpus 4",
            id="deepspeed-gpus",
        ),
        pytest.param(
            ["deepspeed", "t.py"],
            gpus(2),
            (1, 1),
            2,
            "deepspeed on one node with 2 devices",
            id="deepspeed-devices",
        ),
        pytest.param(
            ["deepspeed", "-H", "/h", "--num_nodes", "2", "--num_gpus", "8", "t.py"],
            {},
            (2, 2),
            8,
            "deepspeed --num_nodes 2 x --num_gpus 8",
            id="deepspeed-hostfile",
        ),
        pytest.param(
            ["accelerate", "launch", "--num_processes=16", "--num_machines=2", "t.py"],
            {},
            (2, 2),
            8,
            "accelerate launch --num_processes 16",
            id="accelerate",
        ),
    ],
)
def test_launcher_world_sizes(command, container, nodes, per_node, how):
    found = world(pod(command, **container))
    assert found is not None
    assert (found.nodes, found.per_node, found.how) == (nodes, per_node, how)


@pytest.mark.parametrize(
    ("command", "container"),
    [
        pytest.param(["torchrun", "--nnodes", "$N", "t.py"], {}, id="variable"),
        pytest.param(["torchrun", "--nnodes", "3:1", "t.py"], {}, id="min-above-max"),
        pytest.param(
            ["torchrun", "t.py"],
            {"envFrom": [{"configMapRef": {"name": "e"}}]},
            id="envfrom",
        ),
        pytest.param(
            ["torchrun", "t.py"],
            {"env": [{"name": "PET_NNODES", "valueFrom": {"fieldRef": {}}}]},
            id="env-value-from",
        ),
        pytest.param(["deepspeed", "t.py"], {}, id="deepspeed-no-gpus"),
        pytest.param(["deepspeed", "--hostfile", "/h", "t.py"], gpus(8), id="hostfile"),
        pytest.param(
            ["deepspeed", "-i", "localhost:0,1", "t.py"], gpus(8), id="include"
        ),
        pytest.param(["deepspeed", "--num_nodes", "2", "t.py"], gpus(8), id="no-hosts"),
        pytest.param(["accelerate", "launch", "t.py"], {}, id="accelerate-config"),
        pytest.param(
            ["accelerate", "launch", "--num_processes=6", "--num_machines=4", "t.py"],
            {},
            id="accelerate-uneven",
        ),
    ],
)
def test_unknown_world_sizes(command, container):
    assert world(pod(command, **container)) is None


def test_auto_with_cuda_visible_devices_counts_processes_per_node_as_unknown():
    found = world(
        pod(
            ["torchrun", "--nnodes=2", "--nproc-per-node=gpu", "t.py"],
            env=[{"name": "CUDA_VISIBLE_DEVICES", "value": "0"}],
            **gpus(8),
        )
    )
    assert found is not None
    assert found.per_node is None
    assert found.data_parallel(2) is None
    assert found.how == "torchrun --nnodes 2"


def test_model_parallel_divides_the_data_parallel_size():
    found = world(
        pod(
            [
                "torchrun",
                "--nnodes=2",
                "--nproc-per-node=8",
                "pretrain_gpt.py",
                "--tensor-model-parallel-size",
                "4",
                "--pipeline_model_parallel_size=2",
                "--sequence-parallel",
                "--context-parallel-size",
                "1",
            ]
        )
    )
    assert found is not None
    assert found.divisor == 8
    assert found.fixed == 2
    assert found.describe() == (
        "2 (torchrun --nnodes 2 x --nproc-per-node 8, over tensor parallel 4 x "
        "pipeline parallel 2)"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--tp", "2"],
        ["--tensor_parallel_size=2"],
        ["--tensor-model-parallel-size", "$TP"],
        ["--zero3-parallel-degree", "4"],
    ],
)
def test_other_parallel_options_make_it_unknown(args):
    assert world(pod(["torchrun", "t.py", *args])) is None


def test_size_one_parallel_options_change_nothing():
    found = world(
        pod(["torchrun", "t.py", "--tp-size", "1", "--pipeline-parallel-size=1"])
    )
    assert found is not None
    assert found.divisor == 1


def pytorchjob(
    spec: dict[str, Any], command: list[str], gpu: int = 0
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "pytorch", "command": command}
    if gpu:
        container.update(gpus(gpu))
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": {"name": "j"},
        "spec": {
            **spec,
            "pytorchReplicaSpecs": {
                "Worker": {
                    "replicas": 3,
                    "template": {"spec": {"containers": [container]}},
                }
            },
        },
    }


def test_pytorchjob_operator_env():
    found = world(pytorchjob({"nprocPerNode": "4"}, ["torchrun", "t.py"]))
    assert found is not None
    assert (found.nodes, found.per_node) == ((3, 3), 4)
    assert found.how == (
        "torchrun PET_NNODES=3 x PET_NPROC_PER_NODE=4 from the training operator"
    )


def test_pytorchjob_default_nproc_is_auto():
    found = world(pytorchjob({}, ["torchrun", "t.py"], gpu=8))
    assert found is not None
    assert found.fixed == 24
    assert world(pytorchjob({}, ["torchrun", "t.py"])) is not None
    assert world(pytorchjob({}, ["torchrun", "t.py"])).per_node is None  # type: ignore[union-attr]


def test_pytorchjob_elastic_policy_and_command_line_override():
    elastic = {
        "elasticPolicy": {"minReplicas": 2, "maxReplicas": 6},
        "nprocPerNode": "8",
    }
    found = world(pytorchjob(elastic, ["torchrun", "t.py"]))
    assert found is not None
    assert found.elastic
    assert found.nodes == (2, 6)
    assert found.fixed is None
    assert found.data_parallel(5) == 40
    fixed = world(pytorchjob(elastic, ["torchrun", "--nnodes=3", "t.py"]))
    assert fixed is not None
    assert fixed.nodes == (3, 3)
    assert fixed.how == (
        "torchrun --nnodes 3 x PET_NPROC_PER_NODE=8 (from the training operator)"
    )


def trainjob(trainer: dict[str, Any], runtime: str = "torch-ds") -> dict[str, Any]:
    return {
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": "TrainJob",
        "metadata": {"name": "t"},
        "spec": {
            "runtimeRef": {"name": runtime, "kind": "TrainingRuntime"},
            "trainer": {"command": ["torchrun", "t.py"], **trainer},
        },
    }


RUNTIME = {
    "apiVersion": "trainer.kubeflow.org/v1alpha1",
    "kind": "TrainingRuntime",
    "metadata": {"name": "torch-ds"},
    "spec": {"mlPolicy": {"numNodes": 4, "torch": {"numProcPerNode": 2}}},
}


def test_trainjob_from_its_own_fields():
    found = world(
        trainjob(
            {
                "numNodes": 2,
                "resourcesPerNode": {"limits": {"nvidia.com/gpu": 8}},
            }
        )
    )
    assert found is not None
    assert (found.nodes, found.per_node) == ((2, 2), 8)
    assert found.how == (
        "torchrun PET_NNODES=2 (from spec.trainer.numNodes) x "
        "PET_NPROC_PER_NODE=auto (8 devices) (from the Trainer's default)"
    )


def test_trainjob_from_the_runtime():
    found = world(trainjob({}), RUNTIME)
    assert found is not None
    assert (found.nodes, found.per_node) == ((4, 4), 2)
    assert world(trainjob({})) is None  # the runtime is not in the input


def test_deepspeed_config_sequence_parallel_and_pipeline():
    base = WorldSize(nodes=(2, 2), per_node=8, how="x")
    assert deepspeed_world_size(base, {}) is base
    sequence = deepspeed_world_size(base, {"sequence_parallel_size": 4})
    assert sequence is not None
    assert sequence.fixed == 4
    assert deepspeed_world_size(base, {"sequence_parallel_size": 1}) is base
    assert deepspeed_world_size(base, {"sequence_parallel_size": "x"}) is None
    assert deepspeed_world_size(base, {"pipeline": {"stages": 2}}) is None
    assert deepspeed_world_size(base, {"tensor_parallel": {"autotp_size": 2}}) is None
    assert deepspeed_world_size(base, {"tensor_parallel": {"autotp_size": 1}}) is base
    assert deepspeed_world_size(None, {}) is None


def test_world_size_arithmetic():
    size = WorldSize(nodes=(1, 3), per_node=8, divisor=3)
    assert size.elastic
    assert size.processes(2) == 16
    assert size.data_parallel(2) is None  # 16 ranks do not split into 3 groups
    assert size.data_parallel(3) == 8
    assert WorldSize(nodes=(1, 1), per_node=None).fixed is None
    assert WorldSize(nodes=(2, 2), per_node=4).describe() == "8"
