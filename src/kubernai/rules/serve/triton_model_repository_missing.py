"""SRV026 triton-model-repository-missing."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import LLM_SERVER
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.server_cache import container_tokens, template_servers
from kubernai.model.servers import TRITON
from kubernai.model.workload import env_names
from kubernai.rules.base import Finding, Rule, Severity

_REPOSITORY_FLAGS = ("--model-repository", "--model-store")
_NOT_RUN = ("cd", "pushd", "install", "ls", "which")  # the word names a directory


class TritonModelRepositoryMissing(Rule):
    """tritonserver is started without --model-repository.

    ## Mechanism
    Triton has no default model repository: `--model-repository` (or its
    alias `--model-store`) must name at least one local path or `s3://`,
    `gs://` or Azure location. Without it the server stops during
    initialisation with `error: creating server: Invalid argument -
    --model-repository must be specified` and the container restarts in a
    loop. Builds with Vertex AI support fall back to `AIP_STORAGE_URI`, so a
    container that sets it is not reported, nor a command line built from
    shell variables.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: triton
    spec:
      selector:
        matchLabels: {app: triton}
      template:
        metadata:
          labels: {app: triton}
        spec:
          containers:
            - name: triton
              image: nvcr.io/nvidia/tritonserver:24.08-py3
              command: ["tritonserver"]
              args: ["--strict-readiness=true"]
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: triton
    spec:
      selector:
        matchLabels: {app: triton}
      template:
        metadata:
          labels: {app: triton}
        spec:
          containers:
            - name: triton
              image: nvcr.io/nvidia/tritonserver:24.08-py3
              command: ["tritonserver"]
              args: ["--model-repository=s3://models/triton", "--strict-readiness=true"]
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## References
    - triton-inference-server/core `src/server.cc` (`InferenceServer::Init`:
      "--model-repository must be specified")
    - triton-inference-server/server `src/command_line_parser.cc`
      (`--model-repository`, `--model-store`, `AIP_STORAGE_URI`)
    - triton-inference-server/server `docs/user_guide/model_repository.md`
    """

    code = "SRV026"
    name = "triton-model-repository-missing"
    severity = Severity.ERROR
    mechanism = "triton-vs-vllm-vs-tgi"
    workloads_only = True
    requires = frozenset({LLM_SERVER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            for server in template_servers(template):
                if server.kind != TRITON or server.has(*_REPOSITORY_FLAGS):
                    continue
                tokens = container_tokens(server.container)
                start = next(
                    (
                        index
                        for index, token in enumerate(tokens)
                        if token.text.rsplit("/", 1)[-1] == "tritonserver"
                        and (index == 0 or tokens[index - 1].text not in _NOT_RUN)
                    ),
                    None,
                )
                if start is None:
                    continue
                rest = [t.text for t in tokens[start + 1 :]]
                if any("$" in word or "{{" in word for word in rest):
                    continue  # flags may come from a variable
                if "AIP_STORAGE_URI" in env_names(server.container):
                    continue
                yield self.finding(
                    resource,
                    f"{server.container.label} starts tritonserver without "
                    "--model-repository",
                    path=tokens[start].path,
                )
