"""SRV022 multi-gpu-server-without-shm."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import LLM_SERVER
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Path, Resource
from kubernai.model.server_cache import template_servers
from kubernai.model.server_parallelism import (
    device_limit,
    shm_provided,
    tgi_shards,
    world_size,
)
from kubernai.model.servers import SGLANG, TGI, VLLM, ServerArgs
from kubernai.rules.base import Finding, Rule, Severity

_NAMES = {VLLM: "vLLM", TGI: "TGI", SGLANG: "SGLang"}
_NCCL_DEVICES = ("nvidia.com/gpu", "amd.com/gpu")  # NCCL and AMD's RCCL


class MultiGpuServerWithoutShm(Rule):
    """Multi-GPU LLM server keeps the container runtime's 64 MiB /dev/shm.

    ## Mechanism
    Tensor-parallel vLLM, sharded TGI and SGLang run one process per GPU
    and exchange tensors through NCCL, which falls back to shared memory in
    `/dev/shm` when GPUs cannot reach each other peer to peer; vLLM's workers
    also pass their inputs through shared-memory ring buffers. containerd
    (like Docker) gives a pod a 64 MiB `/dev/shm`, and the servers fail at
    startup or on the first large batch with `ncclSystemError: System call
    (e.g. socket, malloc) or external library call failed or device error.
    Last error: Error while creating shared memory segment
    /dev/shm/nccl-F9ffgB (size 9637888)`, or die with `Bus error`. Whether
    it fails depends on the GPU topology and batch sizes, which is why it
    often shows up only on a new node type. vLLM's and TGI's Kubernetes
    guides mount an `emptyDir` with `medium: Memory` at `/dev/shm`;
    `hostIPC: true` or `NCCL_SHM_DISABLE=1` (slower) also avoid it.

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
              args: ["--model", "google/gemma-3-12b-it", "--tensor-parallel-size", "2"]
              resources:
                limits:
                  nvidia.com/gpu: 2
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
              args: ["--model", "google/gemma-3-12b-it", "--tensor-parallel-size", "2"]
              resources:
                limits:
                  nvidia.com/gpu: 2
              volumeMounts:
                - name: dshm
                  mountPath: /dev/shm
          volumes:
            - name: dshm
              emptyDir:
                medium: Memory
                sizeLimit: 2Gi
    ```

    ## References
    - https://docs.vllm.ai/en/stable/deployment/k8s/ ("vLLM needs to access
      the host's shared memory for tensor parallel inference")
    - huggingface/text-generation-inference `README.md` ("A note on Shared
      Memory (shm)")
    - https://github.com/vllm-project/production-stack/issues/276
    - containerd `pkg/cri` sandbox `defaultShmSize = int64(1024 * 1024 * 64)`
    """

    code = "SRV022"
    name = "multi-gpu-server-without-shm"
    severity = Severity.WARNING
    mechanism = "triton-vs-vllm-vs-tgi"
    workloads_only = True
    requires = frozenset({LLM_SERVER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            if not template.complete:
                continue  # volumes may come from a runtime or preset
            for server in template_servers(template):
                found = _processes(server)
                if found is None:
                    continue
                count, what, path = found
                if count < 2 or shm_provided(template, server.container):
                    continue
                if server.env.get("NCCL_SHM_DISABLE", "").strip() == "1":
                    continue
                yield self.finding(
                    resource,
                    f"{server.container.label} runs {_NAMES[server.kind]} with "
                    f"{count} GPU processes ({what}) but mounts nothing at /dev/shm "
                    "and does not set hostIPC",
                    path=path,
                )


def _processes(server: ServerArgs) -> tuple[int, str, Path] | None:
    devices = device_limit(server.container)
    if devices is None or devices.resource not in _NCCL_DEVICES:
        return None  # TPUs and CPUs do not use NCCL; no limit: devices unknown
    if server.kind in (VLLM, SGLANG):
        size = world_size(server)
        if size is None:
            return None
        return size.ranks, size.describe(), size.path
    if server.kind == TGI:
        shards = tgi_shards(server, devices)
        if shards is None:
            return None
        if server.has("--num-shard"):
            return shards, f"num_shard {shards}", server.path_of("--num-shard")
        return shards, f"one shard per GPU of {devices.resource}", devices.path
    return None
