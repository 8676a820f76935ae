from __future__ import annotations

import pytest

from kubernai.load.files import LoadResult, load_text
from kubernai.model.deepspeed_precision import BF16, FP8, FP16
from kubernai.model.graph import ObjectGraph
from kubernai.model.precision_settings import (
    deepspeed_fp16_launches,
    hf_bool,
    precision_settings,
    trainer_flags,
    training_command,
)
from kubernai.model.resource import format_path


def load(text: str) -> ObjectGraph:
    loaded = LoadResult()
    load_text(text, "case.yaml", result=loaded)
    return ObjectGraph(loaded.resources)


def job(selector: str = "", affinity: str = "", command: str = "[python, t.py]"):
    return f"""\
apiVersion: batch/v1
kind: Job
metadata: {{name: j, namespace: t}}
spec:
  template:
    spec:
      {selector or "restartPolicy: Never"}
      {affinity or "schedulerName: default-scheduler"}
      containers:
        - name: train
          command: {command}
          resources: {{limits: {{nvidia.com/gpu: 1}}}}
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("true", True, id="true"),
        pytest.param("Y", True, id="y-any-case"),
        pytest.param("1", True, id="one"),
        pytest.param("No", False, id="no"),
        pytest.param("0", False, id="zero"),
        pytest.param("on", None, id="on-is-not-hf"),
        pytest.param("$BF16", None, id="variable"),
    ],
)
def test_hf_bool(text, expected):
    assert hf_bool(text) is expected


def test_trainer_flags_read_like_hf_argparser():
    graph = load(
        job(
            command='[sh, -c, "python t.py --bf16 --fp16 false --bf16_full_eval=1 '
            '--fp16_full_eval $X"]'
        )
    )
    (resource,) = graph.of_kind("Job", "t")
    (template,) = resource.templates
    flags = trainer_flags(template.containers[0])
    assert flags["--bf16"].value is True
    assert flags["--fp16"].value is False
    assert flags["--fp16"].written == "--fp16 false"
    assert flags["--bf16-full-eval"].value is True
    assert "--fp16-full-eval" not in flags


def test_precision_settings_from_every_source():
    graph = load(
        """\
apiVersion: v1
kind: ConfigMap
metadata: {name: ds, namespace: t}
data:
  ds.json: '{"train_batch_size": 8, "bf16": {"enabled": true}}'
---
apiVersion: batch/v1
kind: Job
metadata: {name: j, namespace: t}
spec:
  template:
    spec:
      containers:
        - name: a
          command: [accelerate, launch, --mixed_precision, fp8, t.py, --fp16]
          env: [{name: ACCELERATE_MIXED_PRECISION, value: bf16}]
        - name: b
          command: [torchrun, t.py, --deepspeed, /c/ds.json, trainer.precision=16]
          env: [{name: ACCELERATE_MIXED_PRECISION, value: bf16}]
          volumeMounts: [{name: c, mountPath: /c}]
      volumes: [{name: c, configMap: {name: ds}}]
"""
    )
    (resource,) = graph.of_kind("Job", "t")
    (template,) = resource.templates
    found = [
        (s.dtype, s.origin, format_path(s.path))
        for s in precision_settings(resource, template, graph)
    ]
    base = "spec.template.spec.containers"
    assert found == [
        (FP16, "trainer", f"{base}[0].command[5]"),
        (FP8, "accelerate", f"{base}[0].command[2]"),
        (BF16, "accelerate", f"{base}[1].env[0].value"),
        (FP16, "lightning", f"{base}[1].command[4]"),
        (BF16, "deepspeed", f"{base}[1].command[2]"),
    ]


def test_deepspeed_fp16_from_auto_needs_the_trainer_flag():
    text = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: ds, namespace: t}
data:
  ds.json: '{"train_batch_size": "auto", "fp16": {"enabled": "auto"}}'
---
apiVersion: batch/v1
kind: Job
metadata: {name: j, namespace: t}
spec:
  template:
    spec:
      containers:
        - name: a
          command: [torchrun, t.py, --deepspeed, /c/ds.json, FLAG]
          volumeMounts: [{name: c, mountPath: /c}]
      volumes: [{name: c, configMap: {name: ds}}]
"""
    graph = load(text.replace("FLAG", "--fp16"))
    (resource,) = graph.of_kind("Job", "t")
    ((_, reason),) = deepspeed_fp16_launches(resource, graph)
    assert reason == 'fp16.enabled is "auto" and --fp16 is given'
    graph = load(text.replace("FLAG", "--bf16"))
    (resource,) = graph.of_kind("Job", "t")
    assert list(deepspeed_fp16_launches(resource, graph)) == []


def test_training_command():
    graph = load(job(command="[python, serve.py, --fp16]"))
    (resource,) = graph.of_kind("Job", "t")
    (template,) = resource.templates
    assert not training_command(template.containers[0])
    graph = load(job(command="[python, sft.py, --fp16, --output_dir=/o]"))
    (resource,) = graph.of_kind("Job", "t")
    (template,) = resource.templates
    assert training_command(template.containers[0])


def test_flags_of_other_programs_do_not_count():
    graph = load(job(command="[trtexec, --fp16, --bf16]"))
    (resource,) = graph.of_kind("Job", "t")
    (template,) = resource.templates
    assert trainer_flags(template.containers[0]) == {}
