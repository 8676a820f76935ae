from __future__ import annotations

import pytest
import yaml

from kubernai.model.resource import Resource, Source, format_path
from kubernai.model.server_endpoints import listeners, probes, runs_entrypoint
from kubernai.model.servers import servers


def only_server(container_yaml: str):
    raw = {
        "apiVersion": "v1",
        "kind": "Pod",
        "spec": {"containers": [yaml.safe_load(container_yaml)]},
    }
    (template,) = Resource(raw=raw, source=Source(file="f", line=1)).templates
    return next(iter(servers(template)))


def ports(container_yaml: str):
    found = listeners(only_server(container_yaml))
    return None if found is None else [(item.role, item.port) for item in found]


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        pytest.param("image: vllm/vllm-openai:v0.10.1", [("http", 8000)], id="vllm"),
        pytest.param(
            "{image: vllm/vllm-openai, args: ['--port=9000']}",
            [("http", 9000)],
            id="vllm-port",
        ),
        pytest.param(
            "{image: vllm/vllm-openai, args: [--port, $(P)]}", None, id="vllm-unknown"
        ),
        pytest.param(
            "{image: vllm/vllm-openai, args: [--uds, /tmp/s]}", None, id="vllm-uds"
        ),
        pytest.param(
            "image: ghcr.io/huggingface/text-generation-inference:3.3.5",
            [("http", 80), ("metrics", 9000)],
            id="tgi-image",
        ),
        pytest.param(
            "{image: ghcr.io/huggingface/text-generation-inference:3.3.5, "
            "env: [{name: PORT, value: '8080'}]}",
            [("http", 8080), ("metrics", 9000)],
            id="tgi-env",
        ),
        pytest.param(
            "{image: ghcr.io/huggingface/text-generation-inference:3.3.5, "
            "env: [{name: PORT, valueFrom: {fieldRef: {fieldPath: x}}}]}",
            None,
            id="tgi-value-from",
        ),
        pytest.param(
            "{image: ghcr.io/huggingface/text-generation-inference:3.3.5, "
            "args: [-p, '8080']}",
            [("http", 8080), ("metrics", 9000)],
            id="tgi-short-port",
        ),
        pytest.param(
            "{image: my/tgi, command: [text-generation-launcher]}",
            None,
            id="tgi-other-image",
        ),
        pytest.param(
            "{image: my/tgi, command: [text-generation-launcher, --port, '8080']}",
            [("http", 8080), ("metrics", 9000)],
            id="tgi-other-image-port",
        ),
        pytest.param(
            "{image: nvcr.io/nvidia/tritonserver:24.08-py3, "
            "command: [tritonserver, --model-repository=/m, --grpc-port=9000]}",
            [("http", 8000), ("grpc", 9000), ("metrics", 8002)],
            id="triton",
        ),
        pytest.param(
            "image: nvcr.io/nvidia/tritonserver:24.08-py3", None, id="triton-no-command"
        ),
    ],
)
def test_listeners(container, expected):
    assert ports(container) == expected


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        pytest.param("{image: vllm/vllm-openai, command: [vllm, serve, m]}", True),
        pytest.param(
            "{image: x, command: [python3, -m, vllm.entrypoints.openai.api_server]}",
            True,
        ),
        pytest.param("{image: vllm/vllm-openai, command: [python3, app.py]}", False),
        pytest.param(
            "{image: vllm/vllm-openai, command: [bash, -exc, "
            '"vllm serve m\\n --port 9000"]}',
            True,
        ),
    ],
)
def test_runs_entrypoint(container, expected):
    assert runs_entrypoint(only_server(container)) is expected


def test_probes_resolve_named_ports_and_paths():
    server = only_server(
        """
        image: vllm/vllm-openai
        ports: [{name: http, containerPort: 8080}]
        livenessProbe: {httpGet: {path: "v1/models?a=b", port: http,
                        httpHeaders: [{name: Authorization, value: x}]}}
        readinessProbe: {tcpSocket: {port: grpc}}
        startupProbe: {httpGet: {port: "8000"}}
        """
    )
    found = {p.kind: p for p in probes(server.container)}
    liveness = found["livenessProbe"]
    assert (liveness.port, liveness.http_path, liveness.headers) == (
        8080,
        "/v1/models",
        frozenset({"authorization"}),
    )
    assert format_path(liveness.path) == "spec.containers[0].livenessProbe.httpGet.port"
    assert found["readinessProbe"].unknown_port_name == "grpc"
    assert found["readinessProbe"].port is None
    assert (found["startupProbe"].port, found["startupProbe"].http_path) == (8000, "/")
