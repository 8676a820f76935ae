from __future__ import annotations

import pytest
import yaml

from kubernai.model.resource import Resource, Source, format_path
from kubernai.model.server_parallelism import (
    device_limit,
    int_flag,
    multi_node_reason,
    shm_provided,
    tgi_shards,
    world_size,
)
from kubernai.model.servers import servers
from kubernai.model.workload import env_names


def pod(spec_yaml: str, *, kind: str = "Pod", api: str = "v1"):
    raw = {"apiVersion": api, "kind": kind, "spec": yaml.safe_load(spec_yaml)}
    resource = Resource(raw=raw, source=Source(file="f", line=1))
    (template,) = resource.templates
    return resource, template, next(iter(servers(template)), None)


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        pytest.param("{nvidia.com/gpu: 4}", ("nvidia.com/gpu", 4), id="nvidia"),
        pytest.param("{nvidia.com/gpu: '2'}", ("nvidia.com/gpu", 2), id="string"),
        pytest.param("{amd.com/gpu: 8}", ("amd.com/gpu", 8), id="amd"),
        pytest.param("{google.com/tpu: 4}", ("google.com/tpu", 4), id="tpu"),
        pytest.param("{nvidia.com/mig-1g.10gb: 2}", None, id="mig-not-counted"),
        pytest.param("{nvidia.com/gpu.shared: 2}", None, id="shared-not-counted"),
        pytest.param("{cpu: 4}", None, id="cpu-only"),
        pytest.param("{nvidia.com/gpu: two}", None, id="unreadable"),
    ],
)
def test_device_limit(limits, expected):
    _, _, server = pod(
        f"containers: [{{image: vllm/vllm-openai, resources: {{limits: {limits}}}}}]"
    )
    found = device_limit(server.container)
    assert (None if found is None else (found.resource, found.count)) == expected


def test_device_limit_falls_back_to_requests_and_has_a_path():
    _, _, server = pod(
        "containers: [{image: vllm/vllm-openai, resources: {requests: {nvidia.com/gpu: 1}}}]"
    )
    found = device_limit(server.container)
    assert found is not None
    assert format_path(found.path) == (
        "spec.containers[0].resources.requests[nvidia.com/gpu]"
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param("[--model, m]", (1, 1), id="defaults"),
        pytest.param("[--tensor-parallel-size, '4']", (4, 1), id="tp"),
        pytest.param("[-tp, '2', -pp, '2']", (2, 2), id="short-flags"),
        pytest.param("['--pipeline_parallel_size=3']", (1, 3), id="underscores"),
        pytest.param("[--tensor-parallel-size, four]", None, id="unreadable"),
        pytest.param("[--tensor-parallel-size, '0']", None, id="zero"),
    ],
)
def test_vllm_world_size(args, expected):
    _, _, server = pod(f"containers: [{{image: vllm/vllm-openai, args: {args}}}]")
    size = world_size(server)
    assert (None if size is None else (size.tensor, size.pipeline)) == expected


def test_sglang_world_size_reads_tp_size_and_tp():
    _, _, server = pod(
        "containers: [{image: lmsysorg/sglang, command: "
        "[python3, -m, sglang.launch_server, --tp, '4', --pp-size, '2']}]"
    )
    size = world_size(server)
    assert size is not None
    assert (size.ranks, size.describe()) == (
        8,
        "tensor-parallel-size 4 × pipeline-parallel-size 2",
    )


def test_world_size_is_none_for_tgi_and_triton():
    _, _, server = pod("containers: [{image: nvcr.io/nvidia/tritonserver:24.08-py3}]")
    assert world_size(server) is None


@pytest.mark.parametrize(
    ("container", "gpus", "expected"),
    [
        pytest.param("args: [--num-shard, '2']", 4, 2, id="flag"),
        pytest.param("env: [{name: NUM_SHARD, value: '3'}]", 4, 3, id="env"),
        pytest.param("args: [--sharded, 'false']", 4, 1, id="sharding-off"),
        pytest.param("args: [--sharded, 'true']", 4, 4, id="sharded-all-gpus"),
        pytest.param("args: []", 2, 2, id="auto"),
        pytest.param("args: []", None, None, id="auto-unknown"),
        pytest.param("args: [--sharded, maybe]", 2, None, id="bad-bool"),
    ],
)
def test_tgi_shards(container, gpus, expected):
    limits = f"resources: {{limits: {{nvidia.com/gpu: {gpus}}}}}, " if gpus else ""
    _, _, server = pod(
        "containers: [{image: ghcr.io/huggingface/text-generation-inference:3.3.5, "
        f"{limits}{container}}}]"
    )
    assert tgi_shards(server, device_limit(server.container)) == expected


def test_int_flag():
    _, _, server = pod(
        "containers: [{image: vllm/vllm-openai, args: [--a, ' 7 ', --b, x, --c]}]"
    )
    assert int_flag(server, "--a") == 7
    assert int_flag(server, "--b") is None
    assert int_flag(server, "--c") is None
    assert int_flag(server, "--missing") is None


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        pytest.param("args: [--tensor-parallel-size, '8']", "", id="single-node"),
        pytest.param(
            "args: [--distributed-executor-backend, ray]",
            "--distributed-executor-backend ray",
            id="ray-backend",
        ),
        pytest.param("args: [--distributed-executor-backend, mp]", "", id="mp-backend"),
        pytest.param("args: [--nnodes, '2']", "--nnodes 2", id="nnodes"),
        pytest.param("args: [--nnodes, '1']", "", id="one-node"),
        pytest.param("args: [--headless]", "--headless", id="headless"),
        pytest.param(
            "env: [{name: RAY_ADDRESS, valueFrom: {configMapKeyRef: {name: a, key: b}}}]",
            "RAY_ADDRESS is set",
            id="ray-address",
        ),
        pytest.param(
            "command: [sh, -c, 'ray start --head --port=6379 && vllm serve m']",
            "the command joins a Ray cluster",
            id="ray-start",
        ),
    ],
)
def test_multi_node_reason(container, expected):
    resource, template, server = pod(
        f"containers: [{{image: vllm/vllm-openai, {container}}}]"
    )
    assert multi_node_reason(resource, template, server) == expected


def test_multi_node_reason_for_kinds():
    lws = {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "spec": {
            "leaderWorkerTemplate": {
                "size": 2,
                "workerTemplate": {
                    "spec": {"containers": [{"image": "vllm/vllm-openai"}]}
                },
            }
        },
    }
    resource = Resource(raw=lws, source=Source(file="f", line=1))
    (template,) = resource.templates
    (server,) = servers(template)
    assert multi_node_reason(resource, template, server) == (
        "LeaderWorkerSet group size 2"
    )
    lws["spec"]["leaderWorkerTemplate"]["size"] = 1
    resource = Resource(raw=lws, source=Source(file="f", line=1))
    (template,) = resource.templates
    (server,) = servers(template)
    assert multi_node_reason(resource, template, server) == ""


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            "containers: [{image: vllm/vllm-openai, volumeMounts: [{name: d, mountPath: /dev/shm}]}]",
            "volumeMounts[0]",
            id="mount",
        ),
        pytest.param(
            "hostIPC: true\ncontainers: [{image: vllm/vllm-openai}]",
            "hostIPC",
            id="host-ipc",
        ),
        pytest.param(
            "containers: [{image: vllm/vllm-openai, volumeMounts: [{name: d, mountPath: /dev/shmx}]}]",
            "",
            id="other-path",
        ),
        pytest.param("containers: [{image: vllm/vllm-openai}]", "", id="none"),
    ],
)
def test_shm_provided(spec, expected):
    _, template, server = pod(spec)
    assert shm_provided(template, server.container) == expected


def test_env_names_include_value_from_and_skip_bad_entries():
    _, _, server = pod(
        "containers: [{image: vllm/vllm-openai, env: "
        "[{name: A, value: '1'}, {name: B, valueFrom: {}}, {value: x}, oops]}]"
    )
    assert env_names(server.container) == {"A", "B"}
