from __future__ import annotations

import yaml

from kubernai.load.files import LoadResult, load_text
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import format_path
from kubernai.model.training import (
    DEEPSPEED,
    TORCHRUN,
    deepspeed_config_of,
    deepspeed_configs,
    launches,
    parse_nnodes,
)

JOB = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: ds, namespace: t}
data:
  ds_config.json: |
    {"train_batch_size": 64, "train_micro_batch_size_per_gpu": 2,
     "zero_optimization": {"stage": 3}}
  notes.txt: "not json"
---
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: j, namespace: t}
spec:
  pytorchReplicaSpecs:
    Worker:
      replicas: 2
      template:
        spec:
          containers:
            - name: pytorch
              command: [torchrun]
              args:
                - --nnodes=1:4
                - --nproc_per_node
                - "8"
                - --rdzv-backend=c10d
                - train.py
                - --deepspeed
                - /config/ds_config.json
                - --nnodes=99
              env: [{name: PET_MAX_RESTARTS, value: "3"}]
              volumeMounts: [{name: cfg, mountPath: /config}]
          volumes: [{name: cfg, configMap: {name: ds}}]
"""


def graph():
    loaded = LoadResult()
    load_text(JOB, "job.yaml", result=loaded)
    return ObjectGraph(loaded.resources)


def test_torchrun_options_stop_at_the_script():
    g = graph()
    job = g.get("PyTorchJob", "t", "j")
    (template,) = job.templates
    (launch,) = launches(template)
    assert launch.kind == TORCHRUN
    assert launch.get("--nnodes") == "1:4"
    assert launch.get("--nproc-per-node") == "8"
    assert launch.get("--max-restarts") == "3"  # PET_MAX_RESTARTS
    assert launch.script == "train.py"
    assert format_path(launch.path_of("--nproc_per_node")).endswith("args[1]")
    assert parse_nnodes(launch.get("--nnodes")) == (1, 4)
    assert parse_nnodes("x") is None


def test_deepspeed_config_through_a_mounted_configmap():
    g = graph()
    job = g.get("PyTorchJob", "t", "j")
    (template,) = job.templates
    (launch,) = launches(template)
    found = deepspeed_config_of(job, template, launch, g)
    assert found is not None
    config, where = found
    assert config.key == "ds_config.json"
    assert config.data["zero_optimization"] == {"stage": 3}
    assert format_path(where).endswith("args[5]")
    assert [k for k, _ in deepspeed_configs(g.get("ConfigMap", "t", "ds"))] == [
        "ds_config.json"
    ]


def test_other_launchers_and_shell_scripts():
    loaded = LoadResult()
    load_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p"},
                "spec": {
                    "containers": [
                        {
                            "name": "a",
                            "command": [
                                "bash",
                                "-c",
                                "cd /w && deepspeed --num_gpus 8 train.py --deepspeed_config ds.json",
                            ],
                        },
                        {
                            "name": "b",
                            "command": [
                                "python",
                                "-m",
                                "torch.distributed.run",
                                "--standalone",
                                "--nproc-per-node=4",
                                "-m",
                                "trainer.main",
                            ],
                        },
                        {"name": "c", "command": ["python", "train.py"]},
                    ]
                },
            }
        ),
        "p.yaml",
        result=loaded,
    )
    (template,) = loaded.resources[0].templates
    found = list(launches(template))
    assert [(launch.kind, launch.script) for launch in found] == [
        (DEEPSPEED, "train.py"),
        (TORCHRUN, "trainer.main"),
    ]
    assert found[0].get("--num-gpus") == "8"
    assert found[1].has("--standalone")
    assert found[1].get("--nproc-per-node") == "4"


def test_deepspeed_flag_before_its_config_and_short_options():
    loaded = LoadResult()
    load_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p"},
                "spec": {
                    "containers": [
                        {
                            "name": "a",
                            "command": [
                                "deepspeed",
                                "-H",
                                "/job/hostfile",
                                "--no_ssh",
                                "train.py",
                                "--deepspeed",
                                "--deepspeed_config",
                                "ds.json",
                            ],
                        },
                    ]
                },
            }
        ),
        "p.yaml",
        result=loaded,
    )
    (template,) = loaded.resources[0].templates
    (launch,) = launches(template)
    assert launch.script == "train.py"
    assert launch.has("-H")
    assert launch.get("-H") == "/job/hostfile"
    value, _ = launch.script_option("--deepspeed", "--deepspeed_config")
    assert value == "ds.json"
