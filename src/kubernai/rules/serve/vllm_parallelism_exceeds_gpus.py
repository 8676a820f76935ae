"""SRV020 vllm-parallelism-exceeds-gpus."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import LLM_SERVER
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.server_cache import template_servers
from kubernai.model.server_parallelism import (
    device_limit,
    multi_node_reason,
    world_size,
)
from kubernai.model.servers import VLLM
from kubernai.rules.base import Finding, Rule, Severity


class VllmParallelismExceedsGpus(Rule):
    """vLLM asks for more tensor × pipeline ranks than the container has GPUs.

    ## Mechanism
    vLLM starts one worker per rank, `tensor-parallel-size ×
    pipeline-parallel-size` in all, each on its own device. A container sees
    only the GPUs in its `resources.limits`, so a single-pod server needs that
    many. Current releases stop at startup with `ValueError: World size (8) is
    larger than the number of available GPUs (4) in this node.`; older ones
    fall back to Ray, start a local Ray instance with the pod's GPUs, log `The
    number of required GPUs exceeds the total number of available GPUs in the
    placement group.` and wait until `Cannot provide a placement group ...
    within 1800 seconds`. Either way the pod never serves.

    Servers whose ranks span pods (LeaderWorkerSet groups, KubeRay, `ray
    start`, `--distributed-executor-backend ray`, `--nnodes`) are not
    reported, nor containers without a countable GPU limit.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: llama-70b
    spec:
      selector:
        matchLabels: {app: llama-70b}
      template:
        metadata:
          labels: {app: llama-70b}
        spec:
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.10.1
              args:
                - --model=meta-llama/Llama-3.1-70B-Instruct
                - --tensor-parallel-size=8
              resources:
                limits:
                  nvidia.com/gpu: 4
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: llama-70b
    spec:
      selector:
        matchLabels: {app: llama-70b}
      template:
        metadata:
          labels: {app: llama-70b}
        spec:
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.10.1
              args:
                - --model=meta-llama/Llama-3.1-70B-Instruct
                - --tensor-parallel-size=4
              resources:
                limits:
                  nvidia.com/gpu: 4
    ```

    ## References
    - vllm-project/vllm `vllm/config/parallel.py` (`world_size`, "World size
      (...) is larger than the number of available GPUs")
    - vllm-project/vllm `vllm/v1/executor/ray_utils.py`, earlier
      `vllm/executor/ray_utils.py` (placement group messages)
    - https://docs.vllm.ai/en/v0.8.3/serving/distributed_serving.html
    """

    code = "SRV020"
    name = "vllm-parallelism-exceeds-gpus"
    severity = Severity.ERROR
    mechanism = "triton-vs-vllm-vs-tgi"
    workloads_only = True
    requires = frozenset({LLM_SERVER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            for server in template_servers(template):
                if server.kind != VLLM:
                    continue
                devices = device_limit(server.container)
                if devices is None or devices.count < 1:
                    continue
                size = world_size(server)
                if size is None or size.ranks <= devices.count:
                    continue
                if multi_node_reason(resource, template, server):
                    continue
                total = f" = {size.ranks} ranks" if size.pipeline > 1 else ""
                yield self.finding(
                    resource,
                    f"{server.container.label} runs vLLM with {size.describe()}"
                    f"{total} (one GPU per rank) but limits {devices.resource}="
                    f"{devices.count}",
                    path=size.path,
                )
