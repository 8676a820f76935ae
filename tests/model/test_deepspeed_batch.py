from __future__ import annotations

import pytest

from kubernai.load.files import LoadResult, load_text
from kubernai.model.deepspeed_batch import (
    batch_int,
    batch_keys,
    deepspeed_launches,
    derivation,
    elasticity_enabled,
    is_deepspeed_config,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import format_path


def test_batch_keys_split_numbers_auto_and_the_rest():
    keys = batch_keys(
        {
            "train_batch_size": 64.0,
            "train_micro_batch_size_per_gpu": "auto",
            "gradient_accumulation_steps": "$GA",
        }
    )
    assert keys.values == {"train_batch_size": 64}
    assert keys.auto == {"train_micro_batch_size_per_gpu"}
    assert keys.other == {"gradient_accumulation_steps"}
    assert not keys.readable
    assert keys.train == 64
    assert keys.micro is None
    assert keys.describe() == "train_batch_size 64"
    assert batch_keys({"train_batch_size": None}).values == {}
    assert not batch_keys({"gradient_accumulation_steps": 0}).positive


@pytest.mark.parametrize(
    ("value", "expected"),
    [(8, 8), (8.0, 8), (2.5, None), (True, None), ("8", None), (None, None)],
)
def test_batch_int(value, expected):
    assert batch_int(value) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"zero_optimization": {"stage": 2}}, True),
        ({"train_micro_batch_size_per_gpu": 4}, True),
        ({"train_batch_size": 8, "fp16": {"enabled": True}}, True),
        ({"train_batch_size": 8, "gradient_accumulation_steps": 2}, False),
        ({"train_batch_size": 8, "fp16": True}, False),
        ({"output_dir": "/o", "zero_optimization": {}}, False),
    ],
)
def test_is_deepspeed_config(data, expected):
    assert is_deepspeed_config(data) is expected


def test_elasticity_enabled():
    assert elasticity_enabled({"elasticity": {"enabled": True}})
    assert not elasticity_enabled({"elasticity": {"max_train_batch_size": 8}})
    assert not elasticity_enabled({"elasticity": True})
    assert not elasticity_enabled({})


def test_derivation_follows_deepspeed():
    assert (
        derivation(100, 4, None, 8) == "gradient_accumulation_steps = 100 // 4 // 8 = 3"
    )
    assert (
        derivation(64, None, 3, 8)
        == "train_micro_batch_size_per_gpu = 64 // 8 // 3 = 2"
    )
    assert derivation(30, None, None, 4) == (
        "train_micro_batch_size_per_gpu = 30 // 4 = 7 (and gradient_accumulation_steps 1)"
    )


MANIFEST = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: ds}
data:
  ds.json: '{"train_batch_size": 8, "zero_optimization": {"stage": 1}}'
---
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - name: hf
      command: [torchrun, train.py, --deepspeed, /cfg/ds.json]
      volumeMounts: [{name: ds, mountPath: /cfg}]
    - name: native
      command: [deepspeed, train.py, --deepspeed, --deepspeed_config, /cfg/ds.json]
      volumeMounts: [{name: ds, mountPath: /cfg}]
    - name: relative
      command: [deepspeed, train.py, --deepspeed_config, ds.json]
      volumeMounts: [{name: ds, mountPath: /cfg}]
    - name: sidecar
      command: [python, serve.py]
  volumes: [{name: ds, configMap: {name: ds}}]
"""


def test_deepspeed_launches_resolve_both_options():
    loaded = LoadResult()
    load_text(MANIFEST, "m.yaml", result=loaded)
    graph = ObjectGraph(loaded.resources)
    pod = graph.get("Pod", "", "p")
    assert pod is not None
    found = list(deepspeed_launches(pod, graph))
    assert [(f.launch.container.name, f.option) for f in found] == [
        ("hf", "--deepspeed"),
        ("native", "--deepspeed_config"),
    ]
    assert format_path(found[1].where) == "spec.containers[1].command[3]"
    assert found[0].source == "ConfigMap ds key ds.json"
    assert found[0].config.data["train_batch_size"] == 8
