"""SRV023 vllm-gpu-memory-utilization-out-of-range."""

from __future__ import annotations

import math
from collections.abc import Iterator

from kubernai.model.features import LLM_SERVER
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.server_cache import template_servers
from kubernai.model.servers import VLLM
from kubernai.rules.base import Finding, Rule, Severity

_FLAG = "--gpu-memory-utilization"


class VllmGpuMemoryUtilizationOutOfRange(Rule):
    """vLLM's --gpu-memory-utilization is not a fraction in (0, 1].

    ## Mechanism
    `--gpu-memory-utilization` is the fraction of each GPU's memory that
    vLLM may use for weights, activations and the KV cache (default 0.9, 0.92
    in recent releases). It is a fraction, not a percentage: `90` is rejected
    at startup. Current releases validate it as `gt=0, le=1` and exit with
    `Input should be less than or equal to 1` (or `greater than 0`); older
    ones raise `GPU memory utilization must be less than 1.0. Got 90.0.`, and
    a value of 0 or less leaves no memory for the KV cache (`No available
    memory for the cache blocks`). The pod restarts in a loop.

    ## Example
    ```yaml
    apiVersion: v1
    kind: Pod
    metadata:
      name: vllm
    spec:
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.10.1
          args: ["--model", "Qwen/Qwen2.5-7B", "--gpu-memory-utilization", "90"]
          resources:
            limits:
              nvidia.com/gpu: 1
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: Pod
    metadata:
      name: vllm
    spec:
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.10.1
          args: ["--model", "Qwen/Qwen2.5-7B", "--gpu-memory-utilization", "0.9"]
          resources:
            limits:
              nvidia.com/gpu: 1
    ```

    ## References
    - vllm-project/vllm `vllm/config/cache.py` (`gpu_memory_utilization:
      float = Field(default=0.92, gt=0, le=1)`; earlier `_verify_args`: "GPU
      memory utilization must be less than 1.0")
    - https://docs.vllm.ai/en/v0.8.1/serving/engine_args.html
    """

    code = "SRV023"
    name = "vllm-gpu-memory-utilization-out-of-range"
    severity = Severity.ERROR
    mechanism = "triton-vs-vllm-vs-tgi"
    workloads_only = True
    requires = frozenset({LLM_SERVER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            for server in template_servers(template):
                if server.kind != VLLM or not server.has(_FLAG):
                    continue
                written = server.get(_FLAG)
                try:
                    value = float((written or "").strip())
                except ValueError:
                    continue  # a placeholder or a shell expansion
                if math.isnan(value) or 0 < value <= 1:
                    continue
                hint = (
                    f" (a fraction: {value / 100:g} for {value:g}%)"
                    if 5 <= value <= 100
                    else ""
                )
                yield self.finding(
                    resource,
                    f"{server.container.label} sets {_FLAG} {written}, outside "
                    f"(0, 1]{hint}",
                    path=server.path_of(_FLAG),
                )
