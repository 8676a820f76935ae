"""SRV024 server-probe-endpoint-mismatch."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import LLM_SERVER
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.server_cache import template_servers
from kubernai.model.server_endpoints import (
    SERVER_NAMES,
    Listener,
    Probe,
    listeners,
    probes,
)
from kubernai.model.servers import VLLM, ServerArgs
from kubernai.model.workload import env_names
from kubernai.rules.base import Finding, Rule, Severity


class ServerProbeEndpointMismatch(Rule):
    """Probe targets a port or path that the vLLM, TGI or Triton server does not serve.

    ## Mechanism
    vLLM serves HTTP on `--port` (default 8000) with `GET /health`; TGI on
    `--port`/`PORT` (80 in Hugging Face's image, whose `ENV PORT=80`
    overrides the launcher's 3000) with `GET /health`; Triton on
    `--http-port` (8000) with `GET /v2/health/ready` and `/v2/health/live`,
    gRPC on 8001 and metrics on 8002. A probe on another port is refused, a
    path the server has no route for gets 404, an HTTP probe on Triton's
    gRPC port gets no HTTP answer, and a probe that names a port the
    container does not declare errors. The kubelet counts all of these as
    failures: a liveness or startup probe restarts the server forever
    (`Liveness probe failed: ... connect: connection refused` / `HTTP probe
    failed with statuscode: 404`), a readiness probe keeps the pod out of its
    Service. With `--api-key` (or `VLLM_API_KEY`) vLLM answers every `/v1`
    path without an `Authorization` header with 401, so a probe on
    `/v1/models` fails too; `/health` is not guarded.

    Only containers that start the server's own entrypoint are checked (a
    wrapper script may change ports), and TGI only where its port is known.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
    spec:
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.10.1
              args: ["--model", "Qwen/Qwen2.5-7B-Instruct", "--port", "8080"]
              ports:
                - {name: http, containerPort: 8080}
              readinessProbe:
                httpGet: {path: /healthz, port: http}
              livenessProbe:
                httpGet: {path: /health, port: 8000}
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
    spec:
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.10.1
              args: ["--model", "Qwen/Qwen2.5-7B-Instruct", "--port", "8080"]
              ports:
                - {name: http, containerPort: 8080}
              readinessProbe:
                httpGet: {path: /health, port: http}
              livenessProbe:
                httpGet: {path: /health, port: 8080}
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## References
    - vllm-project/vllm `vllm/entrypoints/openai/cli_args.py` (`port: int =
      8000`), `vllm/entrypoints/openai/api_server.py` (routes; `--api-key`
      middleware guards paths starting with `/v1`)
    - huggingface/text-generation-inference `router/src/server.rs` (routes),
      `launcher/src/main.rs` (`--port`), `Dockerfile` (`PORT=80`)
    - triton-inference-server/server `src/command_line_parser.cc`
      (`--http-port`, `--grpc-port`, `--metrics-port`), `docs/user_guide/metrics.md`
    - https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/
    """

    code = "SRV024"
    name = "server-probe-endpoint-mismatch"
    severity = Severity.ERROR
    mechanism = "triton-vs-vllm-vs-tgi"
    workloads_only = True
    requires = frozenset({LLM_SERVER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            for server in template_servers(template):
                if server.kind not in SERVER_NAMES:
                    continue
                found = listeners(server)
                if not found:
                    continue
                for probe in probes(server.container):
                    message = _problem(server, found, probe)
                    if message:
                        yield self.finding(
                            resource,
                            f"{server.container.label}: {probe.kind} "
                            f"{_describe(probe)}: {message}",
                            path=probe.path,
                        )


def _describe(probe: Probe) -> str:
    port = probe.port_written
    if probe.port is not None and port != str(probe.port):
        port = f"{port} ({probe.port})"
    if probe.action == "httpGet":
        return f"GET {probe.http_path} on port {port}"
    return f"{probe.action} on port {port}"


def _problem(server: ServerArgs, found: tuple[Listener, ...], probe: Probe) -> str:
    name = SERVER_NAMES[server.kind]
    if probe.host or probe.action == "grpc":
        return ""
    if probe.unknown_port_name:
        return f"the container declares no port named {probe.unknown_port_name!r}"
    if probe.port is None:
        return ""
    listener = next((item for item in found if item.port == probe.port), None)
    if listener is None:
        ports = ", ".join(f"{item.port} ({item.flag})" for item in found)
        return f"{name} listens on {ports}"
    if probe.action != "httpGet":
        return ""
    if listener.role == "grpc":
        return f"port {listener.port} is {name}'s gRPC port, which speaks no HTTP/1.1"
    if server.kind == VLLM and server.has("--root-path"):
        return ""  # paths may carry the proxy prefix
    path = probe.http_path
    if server.kind == VLLM and len(path) > 1:
        path = path.rstrip("/")  # FastAPI redirects /health/ to /health
    if not listener.serves(path):
        return f"{name} has no GET route {path} on its {listener.role} port"
    if (
        server.kind == VLLM
        and (path == "/v1" or path.startswith("/v1/"))
        and "authorization" not in probe.headers
        and (server.has("--api-key") or "VLLM_API_KEY" in env_names(server.container))
    ):
        return "vLLM answers /v1 paths with 401 when an API key is set"
    return ""
