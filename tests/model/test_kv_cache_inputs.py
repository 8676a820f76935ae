from __future__ import annotations

import json
from importlib import resources

import pytest
import yaml

from kubernai.calc.catalog import find_gpu
from kubernai.model.facts import ClusterFacts
from kubernai.model.kv_cache_inputs import (
    context_length_override,
    engine_args,
    gpu_choice,
    gpu_count,
    human_readable_int,
    kv_cache_inputs,
)
from kubernai.model.resource import Resource, Source, format_path
from kubernai.model.servers import servers


def resource(text: str) -> Resource:
    return Resource(raw=yaml.safe_load(text), source=Source(file="f", line=1))


def pod(spec: str) -> Resource:
    return resource("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n" + spec)


def vllm_args(args: list[str]):
    raw = {
        "apiVersion": "v1",
        "kind": "Pod",
        "spec": {
            "containers": [
                {"name": "v", "image": "vllm/vllm-openai:v0.10.1", "args": args}
            ]
        },
    }
    (template,) = Resource(raw=raw, source=Source(file="f", line=1)).templates
    (server,) = servers(template)
    return engine_args(server)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("8192", 8192),
        ("32k", 32_000),
        ("25.6k", 25_600),
        ("32K", 32_768),
        ("2G", 2**31),
        ("1g", 10**9),
        (" 16 ", 16),
        ("1.5K", None),
        ("lots", None),
        ("-1", None),
        ("", None),
    ],
)
def test_human_readable_int_like_vllm(text, value):
    assert human_readable_int(text) == value


def test_engine_args_read_every_sizing_flag():
    args = vllm_args(
        [
            "--model=meta-llama/Llama-3.1-8B-Instruct",
            "--max-model-len",
            "32k",
            "-tp",
            "2",
            "--pipeline_parallel_size=2",
            "--dtype",
            "BFloat16",
            "--kv-cache-dtype",
            "fp8",
            "--gpu-memory-utilization",
            "0.85",
            "--max-num-seqs",
            "64",
            "--max-num-batched-tokens",
            "4096",
            "--block-size",
            "32",
            "--kv-cache-memory-bytes",
            "8G",
        ]
    )
    assert args is not None
    assert args.model == "meta-llama/Llama-3.1-8B-Instruct"
    assert args.max_model_len == 32_000
    assert not args.max_model_len_auto
    assert (args.tensor_parallel_size, args.pipeline_parallel_size) == (2, 2)
    assert (args.dtype, args.kv_cache_dtype) == ("bfloat16", "fp8")
    assert args.gpu_memory_utilization == 0.85
    assert (args.max_num_seqs, args.max_num_batched_tokens) == (64, 4096)
    assert args.block_size == 32
    assert args.kv_cache_memory_bytes == 8 * 2**30


def test_engine_args_defaults():
    args = vllm_args(["--model", "m/x"])
    assert args is not None
    assert args.max_model_len is None
    assert (args.tensor_parallel_size, args.pipeline_parallel_size) == (1, 1)
    assert (args.dtype, args.kv_cache_dtype) == ("auto", "auto")
    assert args.gpu_memory_utilization is None
    assert args.max_num_seqs is None


@pytest.mark.parametrize("value", ["auto", "-1"])
def test_max_model_len_auto(value):
    args = vllm_args(["--model", "m/x", "--max-model-len", value])
    assert args is not None
    assert args.max_model_len_auto
    assert args.max_model_len is None


@pytest.mark.parametrize(
    "extra",
    [
        ["--quantization", "awq"],
        ["-q", "fp8"],
        ["--load-format", "bitsandbytes"],
        ["--cpu-offload-gb", "10"],
        ["--hf-overrides", "{}"],
        ["--num-gpu-blocks-override", "100"],
        ["--max-model-len", "lots"],
        ["--max-model-len"],
        ["--tensor-parallel-size", "0"],
        ["--gpu-memory-utilization", "1.2"],
        ["--gpu-memory-utilization", "0"],
        ["--block-size", "x"],
        ["--data-parallel-size", "2", "--enable-expert-parallel"],
    ],
)
def test_flags_that_cannot_be_modelled_give_nothing(extra):
    assert vllm_args(["--model", "m/x", *extra]) is None


def test_no_model_gives_nothing():
    assert vllm_args(["--port", "8000"]) is None


def test_sliding_window_and_data_parallel_flags():
    args = vllm_args(["--model", "m/x", "-dp", "2", "--disable-sliding-window"])
    assert args is not None
    assert args.keeps_full_attention
    assert args.data_parallel


def test_gpu_count():
    def count(limits: str) -> int:
        (template,) = pod(
            f"  containers:\n    - name: c\n      resources: {{limits: {limits}}}\n"
        ).templates
        return gpu_count(template.containers[0])

    assert count("{nvidia.com/gpu: 4}") == 4
    assert count('{nvidia.com/gpu: "2"}') == 2
    assert count("{cpu: 1}") == 0
    assert count("{nvidia.com/mig-1g.10gb: 1}") == 0
    assert count("{nvidia.com/gpu: two}") == 0


def choice(spec: str, facts: ClusterFacts | None = None, kind_text: str = ""):
    obj = resource(kind_text) if kind_text else pod(spec)
    (template,) = obj.templates
    return gpu_choice(obj, template, facts or ClusterFacts())


def test_gpu_from_gfd_node_selector():
    found = choice(
        "  nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3-SHARED}\n"
    )
    assert found is not None
    assert found.products == ("NVIDIA-H100-80GB-HBM3",)
    assert found.source == (
        "nodeSelector nvidia.com/gpu.product=NVIDIA-H100-80GB-HBM3-SHARED"
    )
    assert format_path(found.path) == "spec.nodeSelector[nvidia.com/gpu.product]"


def test_gpu_from_gke_accelerator_mapped_exactly():
    found = choice("  nodeSelector: {cloud.google.com/gke-accelerator: nvidia-l4}\n")
    assert found is not None
    assert found.products == ("NVIDIA-L4",)
    unknown = choice(
        "  nodeSelector: {cloud.google.com/gke-accelerator: nvidia-tesla-v100}\n"
    )
    assert unknown is not None
    assert unknown.products == ()


def test_gpu_from_required_affinity_terms():
    spec = """\
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
          - matchExpressions:
              - {key: nvidia.com/gpu.product, operator: In, values: [NVIDIA-L4]}
          - matchExpressions:
              - {key: cloud.google.com/gke-accelerator, operator: In, values: [nvidia-tesla-t4]}
"""
    found = choice(spec)
    assert found is not None
    assert found.products == ("NVIDIA-L4", "Tesla-T4")
    assert format_path(found.path).endswith(
        "nodeSelectorTerms[0].matchExpressions[0].values"
    )


def test_affinity_term_without_a_product_allows_any_gpu():
    spec = """\
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
          - matchExpressions:
              - {key: nvidia.com/gpu.product, operator: In, values: [NVIDIA-L4]}
          - matchExpressions:
              - {key: nvidia.com/gpu.product, operator: NotIn, values: [Tesla-T4]}
"""
    assert choice(spec) is None


def test_selector_and_affinity_both_apply():
    spec = """\
  nodeSelector: {nvidia.com/gpu.product: NVIDIA-L4}
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
          - matchExpressions:
              - {key: nvidia.com/gpu.product, operator: In, values: [Tesla-T4]}
"""
    found = choice(spec)
    assert found is not None
    assert found.products == ()


def test_kserve_annotation_and_configured_default():
    isvc = """\
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: m
  annotations: {serving.kserve.io/gke-accelerator: nvidia-l4}
spec:
  predictor:
    containers: [{name: c}]
"""
    found = choice("", kind_text=isvc)
    assert found is not None
    assert found.products == ("NVIDIA-L4",)
    assert choice("  containers: [{name: c}]\n") is None
    configured = choice(
        "  containers: [{name: c}]\n", ClusterFacts(gpu_product="NVIDIA-L4")
    )
    assert configured is not None
    assert configured.configured
    assert configured.products == ("NVIDIA-L4",)


def test_kv_cache_inputs_needs_model_gpu_and_gpu_request():
    text = """\
  nodeSelector: {cloud.google.com/gke-accelerator: nvidia-l4}
  containers:
    - name: vllm
      image: vllm/vllm-openai:v0.10.1
      args: [--model, meta-llama/Llama-3.1-8B-Instruct]
      resources: {limits: {nvidia.com/gpu: 2}}
    - name: cpu
      image: vllm/vllm-openai:v0.10.1
      args: [--model, meta-llama/Llama-3.1-8B-Instruct]
"""
    (found,) = kv_cache_inputs(pod(text), ClusterFacts())
    assert found.gpu_count == 2
    assert found.args.server.container.name == "vllm"


def test_context_length_overrides():
    assert context_length_override("meta-llama/Meta-Llama-3-8B-Instruct") == (
        True,
        8192,
    )
    assert context_length_override("Qwen/Qwen2.5-32B-Instruct") == (True, None)
    assert context_length_override("meta-llama/Llama-3.1-8B") == (False, None)


def test_every_gke_accelerator_maps_to_a_catalog_gpu():
    text = (
        resources.files("kubernai")
        .joinpath("data/gke_accelerator_gpus.json")
        .read_text("utf-8")
    )
    for item in json.loads(text)["accelerators"]:
        gpu = find_gpu(item["product"])
        assert gpu is not None, item
        assert gpu.product == item["product"]
        assert item["source"]


def test_flag_without_value_before_a_short_option_is_read():
    args = vllm_args(["--model", "m/x", "--enforce-eager", "-tp", "4"])
    assert args is not None
