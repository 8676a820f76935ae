"""SRV021 tgi-num-shard-exceeds-gpus."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import LLM_SERVER
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.server_cache import template_servers
from kubernai.model.server_parallelism import device_limit, int_flag
from kubernai.model.servers import TGI
from kubernai.rules.base import Finding, Rule, Severity


class TgiNumShardExceedsGpus(Rule):
    """TGI is told to start more shards than the container has GPUs.

    ## Mechanism
    The TGI launcher starts one shard process per `--num-shard` (env
    `NUM_SHARD`), and each shard takes one GPU. A shard that finds fewer
    devices than shards fails `assert WORLD_SIZE <=
    torch.cuda.device_count(), "Each process is one gpu"`, the launcher logs
    `Shard 0 failed to start` and exits. With `--sharded true` and no
    `--num-shard`, the launcher counts the visible GPUs itself and stops with
    `not enough cuda devices: `sharded` is true but only found 1 CUDA
    devices` when the container has one. The container sees only the GPUs in
    its `resources.limits`.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: tgi
    spec:
      selector:
        matchLabels: {app: tgi}
      template:
        metadata:
          labels: {app: tgi}
        spec:
          containers:
            - name: tgi
              image: ghcr.io/huggingface/text-generation-inference:3.3.5
              args: ["--model-id", "google/gemma-2-27b-it", "--num-shard", "4"]
              resources:
                limits:
                  nvidia.com/gpu: 2
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: tgi
    spec:
      selector:
        matchLabels: {app: tgi}
      template:
        metadata:
          labels: {app: tgi}
        spec:
          containers:
            - name: tgi
              image: ghcr.io/huggingface/text-generation-inference:3.3.5
              args: ["--model-id", "google/gemma-2-27b-it", "--num-shard", "2"]
              resources:
                limits:
                  nvidia.com/gpu: 2
    ```

    ## References
    - huggingface/text-generation-inference `launcher/src/main.rs`
      (`find_num_shards`, `NotEnoughCUDADevices`)
    - huggingface/text-generation-inference
      `server/text_generation_server/utils/dist.py` ("Each process is one gpu")
    - huggingface/text-generation-inference `docs/source/reference/launcher.md`
    """

    code = "SRV021"
    name = "tgi-num-shard-exceeds-gpus"
    severity = Severity.ERROR
    mechanism = "triton-vs-vllm-vs-tgi"
    workloads_only = True
    requires = frozenset({LLM_SERVER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            for server in template_servers(template):
                if server.kind != TGI:
                    continue
                devices = device_limit(server.container)
                if devices is None or devices.count < 1:
                    continue
                label = server.container.label
                limit = f"{devices.resource}={devices.count}"
                if server.has("--num-shard"):
                    shards = int_flag(server, "--num-shard")
                    if shards is not None and shards > devices.count:
                        yield self.finding(
                            resource,
                            f"{label} runs TGI with num_shard {shards} but limits "
                            f"{limit}",
                            path=server.path_of("--num-shard"),
                        )
                    continue
                sharded = (server.get("--sharded") or "").strip().lower()
                if sharded == "true" and devices.count == 1:
                    yield self.finding(
                        resource,
                        f"{label} runs TGI with sharded true and no num_shard, but "
                        f"limits {limit}: sharding needs at least 2 GPUs",
                        path=server.path_of("--sharded"),
                    )
