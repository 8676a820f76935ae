from __future__ import annotations

import pytest

from kubernai.load.files import LoadResult, load_text
from kubernai.model.facts import ClusterFacts
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.zero_memory import (
    ZeroRun,
    gpu_products,
    keeps_full_states,
    model_name,
    trains_every_parameter,
    uses_adam,
    zero_runs,
    zero_shape,
)


def load(text: str) -> list[Resource]:
    loaded = LoadResult()
    load_text(text, "t.yaml", result=loaded)
    return list(loaded.resources)


CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: ds}
data:
  ds.json: '{"train_batch_size": 8, "zero_optimization": {"stage": 3}}'
  sgd.json: '{"train_batch_size": 8, "optimizer": {"type": "SGD"}}'
  adam.json: '{"train_batch_size": 8, "optimizer": {"type": "AdamW"}}'
  moe.json: '{"train_batch_size": 8, "expert_parallel": {"enabled": true}}'
---
"""


def job(command: str, *, selector: str = "", gpus: int = 8) -> str:
    return (
        CONFIG
        + f"""\
apiVersion: batch/v1
kind: Job
metadata: {{name: ft}}
spec:
  template:
    spec:
      restartPolicy: Never
      {selector}
      containers:
        - name: train
          image: i
          command: {command}
          resources: {{limits: {{nvidia.com/gpu: {gpus}}}}}
          volumeMounts: [{{name: cfg, mountPath: /cfg}}]
      volumes: [{{name: cfg, configMap: {{name: ds}}}}]
"""
    )


def runs(text: str, facts: ClusterFacts | None = None):
    resources = load(text)
    graph = ObjectGraph(resources, facts=facts)
    workload = resources[-1]
    return workload, graph, list(zero_runs(workload, graph))


HF = '["torchrun", "--nproc-per-node", "8", "sft.py", {extra} "--deepspeed", "/cfg/{cfg}"]'


def hf(extra: str = "", cfg: str = "ds.json") -> str:
    return HF.format(extra=extra, cfg=cfg)


def only(text: str) -> tuple[Resource, ObjectGraph, ZeroRun]:
    workload, graph, found = runs(text)
    assert len(found) == 1
    return workload, graph, found[0]


def test_run_reads_the_mounted_config():
    _, _, run = only(job(hf('"--model_name_or_path", "meta-llama/Llama-3.1-8B",')))
    assert run.zero.stage == 3
    assert run.source == "ConfigMap ds key ds.json"
    assert run.where == ("spec", "template", "spec", "containers", 0, "command", 6)
    assert run.data["train_batch_size"] == 8


def test_shape_of_a_full_finetune():
    workload, graph, run = only(
        job(hf('"--model_name_or_path=meta-llama/Llama-3.1-8B",'))
    )
    shape = zero_shape(workload, run, graph)
    assert shape is not None
    assert shape.model == "meta-llama/Llama-3.1-8B"
    assert (shape.pods, shape.per_pod, shape.processes) == (1, 8, 8)
    assert "nproc-per-node 8" in shape.how


@pytest.mark.parametrize(
    "extra",
    [
        '"--model_name_or_path", "m", "--use_peft",',
        '"--model_name_or_path", "m", "--lora_r", "8",',
        '"--model_name_or_path", "m", "--bits", "4", "--load_in_4bit",',
        '"--model_name_or_path", "m", "--freeze_vision_tower",',
        '"--model_name_or_path", "m", "--stage", "sft",',
        '"--model_name_or_path", "m", "--stage", "sft", "--finetuning_type", "freeze",',
    ],
)
def test_partial_training(extra):
    _, _, run = only(job(hf(extra)))
    assert not trains_every_parameter(run.launch)


def test_llamafactory_full_training():
    _, _, run = only(
        job(
            hf(
                '"--stage", "sft", "--finetuning_type", "full", "--model_name_or_path", "m",'
            )
        )
    )
    assert trains_every_parameter(run.launch)


@pytest.mark.parametrize(
    ("extra", "cfg", "adam"),
    [
        ("", "ds.json", True),
        ('"--optim", "adamw_torch_fused",', "ds.json", True),
        ('"--optim", "adafactor",', "ds.json", False),
        ('"--optim", "paged_adamw_8bit",', "ds.json", False),
        ("", "sgd.json", False),
        ('"--optim", "sgd",', "adam.json", True),
    ],
)
def test_optimizer(extra, cfg, adam):
    _, _, run = only(job(hf(extra, cfg)))
    assert uses_adam(run.template_launch) is adam


def test_deepspeed_argparse_script_has_unknown_optimizer():
    command = (
        '["deepspeed", "train.py", "--deepspeed", "--deepspeed_config", "/cfg/ds.json"]'
    )
    _, _, run = only(job(command))
    assert not uses_adam(run.template_launch)
    command = '["deepspeed", "train.py", "--deepspeed_config", "/cfg/adam.json"]'
    _, _, run = only(job(command))
    assert uses_adam(run.template_launch)


@pytest.mark.parametrize(
    ("data", "full"),
    [
        ({}, True),
        ({"bf16": {"enabled": True, "bf16_master_weights_and_grads": False}}, True),
        ({"bf16": {"bf16_optimizer_states": True}}, False),
        ({"bfloat16": {"bf16_master_weights_and_grads": "auto"}}, False),
        ({"fp16": {"fp16_master_weights_and_grads": True}}, False),
        ({"bf16": "yes"}, True),
    ],
)
def test_keeps_full_states(data, full):
    assert keeps_full_states(data) is full


def test_model_name():
    _, _, run = only(job(hf('"--model_name_or_path", " ",')))
    assert model_name(run.launch) is None
    _, _, run = only(job(hf()))
    assert model_name(run.launch) is None


def test_shape_unknown_with_expert_parallelism():
    workload, graph, run = only(
        job(hf('"--model_name_or_path", "meta-llama/Llama-3.1-8B",', "moe.json"))
    )
    assert zero_shape(workload, run, graph) is None


def test_shape_unknown_without_fixed_processes():
    command = '["torchrun", "--nproc-per-node", "$(N)", "sft.py", "--model_name_or_path", "m", "--deepspeed", "/cfg/ds.json"]'
    workload, graph, run = only(job(command))
    assert zero_shape(workload, run, graph) is None


def test_gpu_products():
    selector = "nodeSelector: {nvidia.com/gpu.product: NVIDIA-L4}"
    workload, graph, run = only(job(hf(), selector=selector))
    choice = gpu_products(workload, run, graph)
    assert choice is not None
    assert choice.products == ("NVIDIA-L4",)
    workload, graph, run = only(job(hf(), selector=selector, gpus=0))
    assert gpu_products(workload, run, graph) is None
    workload, graph, found = runs(job(hf()))
    assert gpu_products(workload, found[0], graph) is None
    facts = ClusterFacts(gpu_product="NVIDIA-A10G", configured=True)
    workload, graph, found = runs(job(hf()), facts)
    choice = gpu_products(workload, found[0], graph)
    assert choice is not None
    assert choice.configured
