from __future__ import annotations

import yaml

from kubernai.model.resource import Resource, Source, format_path
from kubernai.model.servers import SGLANG, TGI, TRITON, VLLM, servers


def only_server(container_yaml: str):
    raw = {
        "apiVersion": "v1",
        "kind": "Pod",
        "spec": {"containers": [yaml.safe_load(container_yaml)]},
    }
    (template,) = Resource(raw=raw, source=Source(file="f", line=1)).templates
    found = list(servers(template))
    return found[0] if found else None


def test_vllm_serve_with_args():
    server = only_server(
        "image: vllm/vllm-openai:v0.6.3\n"
        "command: [vllm, serve]\n"
        "args: [meta-llama/Llama-3.1-8B-Instruct, --tensor-parallel-size, '2', '--max_model_len=8192', --enforce-eager]"
    )
    assert server.kind == VLLM
    assert server.model == "meta-llama/Llama-3.1-8B-Instruct"
    assert server.get("--tensor-parallel-size") == "2"
    assert server.get("--max-model-len") == "8192"
    assert server.has("--enforce-eager")
    assert server.get("--enforce-eager") is None
    assert (
        format_path(server.path_of("--max-model-len")) == "spec.containers[0].args[3]"
    )


def test_vllm_in_a_shell_script_with_env_references():
    server = only_server(
        "image: python:3.11\n"
        "command: [/bin/sh, -c]\n"
        'args: ["pip install x && vllm serve $(MODEL) -tp 4 --gpu-memory-utilization 0.95"]\n'
        "env: [{name: MODEL, value: Qwen/Qwen2.5-7B-Instruct}]"
    )
    assert server.kind == VLLM
    assert server.model == "Qwen/Qwen2.5-7B-Instruct"
    assert server.get("--tensor-parallel-size") == "4"
    assert server.get("--gpu-memory-utilization") == "0.95"
    assert (
        format_path(server.path_of("--gpu-memory-utilization"))
        == "spec.containers[0].args[0]"
    )


def test_vllm_image_with_only_args_and_the_old_entrypoint():
    server = only_server(
        "image: vllm/vllm-openai:latest\nargs: [--model, facebook/opt-125m]"
    )
    assert server.kind == VLLM
    assert server.model == "facebook/opt-125m"
    server = only_server(
        "image: my/image\ncommand: [python3, -m, vllm.entrypoints.openai.api_server, --model, m]"
    )
    assert server.model == "m"


def test_tgi_reads_flags_from_env():
    server = only_server(
        "image: ghcr.io/huggingface/text-generation-inference:2.4.0\n"
        "args: [--max-total-tokens, '4096']\n"
        "env: [{name: MODEL_ID, value: mistralai/Mistral-7B-Instruct-v0.3}, {name: NUM_SHARD, value: '2'}]"
    )
    assert server.kind == TGI
    assert server.model == "mistralai/Mistral-7B-Instruct-v0.3"
    assert server.get("--num-shard") == "2"
    assert server.get("--max-total-tokens") == "4096"
    assert (
        format_path(server.path_of("--num-shard")) == "spec.containers[0].env[1].value"
    )


def test_triton_and_sglang_and_others():
    assert (
        only_server(
            "image: nvcr.io/nvidia/tritonserver:24.08-py3\ncommand: [tritonserver]"
        ).kind
        == TRITON
    )
    assert (
        only_server(
            "image: lmsysorg/sglang:latest\ncommand: [python3, -m, sglang.launch_server, --model-path, m]"
        ).kind
        == SGLANG
    )
    assert only_server("image: nginx\ncommand: [nginx]") is None
    assert only_server("image: 5\ncommand: 'vllm serve'") is None


def test_malformed_shell_quotes_do_not_crash():
    server = only_server(
        "image: x\ncommand: [sh, -c, 'vllm serve \"unterminated --max-model-len 4096']"
    )
    assert server.kind == VLLM
    assert server.get("--max-model-len") == "4096"


def test_flag_without_value_before_a_short_option():
    server = only_server(
        "image: vllm/vllm-openai:v0.8.5\nargs: [--enforce-eager, -tp, '4', -q, fp8, --seed, '-1']"
    )
    assert server.get("--enforce-eager") is None
    assert server.get("--tensor-parallel-size") == "4"
    assert server.get("--quantization") == "fp8"
    assert server.get("--seed") == "-1"


def test_combined_shell_options_continuations_and_boolean_flags():
    server = only_server(
        "image: x\ncommand: [bash, -exc]\n"
        'args: ["vllm serve --trust-remote-code meta/m \\\\\\n  -tp=2 --port 8001;"]'
    )
    assert server.model == "meta/m"
    assert server.get("--tensor-parallel-size") == "2"
    assert server.get("--port") == "8001"
    tgi = only_server(
        "image: ghcr.io/huggingface/text-generation-inference:2.4.0\nargs: [-p, '8080']"
    )
    assert tgi.get("--port") == "8080"
