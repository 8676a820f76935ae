"""SRV050 vllm-weights-exceed-gpu-memory."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.calc.kv_cache import GIB
from kubernai.model.features import LLM_SERVER
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity
from kubernai.rules.serve._kv_cache_fit import KvCacheFit, kv_cache_fits


class VllmWeightsExceedGpuMemory(Rule):
    """vLLM server whose model weights alone do not fit the memory it may use.

    ## Mechanism
    vLLM loads the weights first, split over
    `--tensor-parallel-size` x `--pipeline-parallel-size` GPUs, then gives the
    KV cache what is left of `gpu_memory_utilization` x the device memory
    (`--kv-cache-memory-bytes` instead, when set). When the weights per GPU
    are larger than the whole device, loading ends in
    `torch.OutOfMemoryError: CUDA out of memory`; when they fit the device
    but not the fraction vLLM may use, the engine stops with
    `ValueError: No available memory for the cache blocks. Try increasing
    gpu_memory_utilization when initializing the engine.` Either way the pod
    restarts in a loop and never serves.

    kubernai checks only catalog models (by Hugging Face id) on catalog GPUs
    (named by `nvidia.com/gpu.product`, `cloud.google.com/gke-accelerator`
    or `cluster.gpu_product` in `.kubernai.yaml`). The weights are the
    parameter count times the bytes per parameter of the checkpoint (or of
    `--dtype`), divided evenly over the GPUs; the comparison is with the
    memory nvidia-smi reports times `gpu_memory_utilization` (vLLM's current
    default 0.92 when not set), with nothing counted for activations, CUDA
    graphs or the CUDA context, so a finding holds whatever those take.
    Servers that quantize (`--quantization`, bitsandbytes loading) or
    offload weights (`--cpu-offload-gb`) are skipped. A container that asks
    for more GPUs than tensor x pipeline parallelism gains nothing: vLLM
    uses only that many.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: llama
    spec:
      replicas: 1
      selector: {matchLabels: {app: llama}}
      template:
        metadata: {labels: {app: llama}}
        spec:
          nodeSelector:
            cloud.google.com/gke-accelerator: nvidia-tesla-t4
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.10.1
              args:
                - --model=meta-llama/Llama-3.1-8B-Instruct
                - --max-model-len=8192
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: llama
    spec:
      replicas: 1
      selector: {matchLabels: {app: llama}}
      template:
        metadata: {labels: {app: llama}}
        spec:
          nodeSelector:
            cloud.google.com/gke-accelerator: nvidia-l4
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.10.1
              args:
                - --model=meta-llama/Llama-3.1-8B-Instruct
                - --max-model-len=8192
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## References
    - https://docs.vllm.ai/en/latest/configuration/conserving_memory/
    - https://github.com/vllm-project/vllm/blob/main/vllm/v1/core/kv_cache_utils.py
      (`_check_enough_kv_cache_memory`: "No available memory for the cache blocks")
    - https://github.com/vllm-project/vllm/blob/main/vllm/v1/worker/gpu_worker.py
      (`determine_available_memory`: requested memory minus weights and profiled
      peak)
    - https://github.com/NVIDIA/k8s-device-plugin/blob/main/internal/lm/resource.go
      (`nvidia.com/gpu.product`)
    - https://cloud.google.com/compute/docs/gpus (GKE accelerator types)
    """

    code = "SRV050"
    name = "vllm-weights-exceed-gpu-memory"
    severity = Severity.ERROR
    mechanism = "kv-cache-sizing-for-llm-serving"
    workloads_only = True
    requires = frozenset({LLM_SERVER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for fit in kv_cache_fits(resource, graph):
            if fit.weights_exceed:
                server = fit.inputs.args.server
                path = server.path_of("--tensor-parallel-size", "--model")
                yield self.finding(resource, _message(fit), path=path)


def _message(fit: KvCacheFit) -> str:
    args = fit.inputs.args
    shards = args.tensor_parallel_size * args.pipeline_parallel_size
    weights = fit.bound.weights_bytes
    per_param = weights * shards / fit.model.params
    whole = weights > fit.device_bytes
    limit = (
        f"more than the whole {fit.device_bytes / GIB:.2f} GiB device"
        if whole
        else f"more than vLLM may use: {fit.budget}"
    )
    failure = (
        "loading fails with torch.OutOfMemoryError (CUDA out of memory)"
        if whole
        else "vLLM stops at start-up with 'No available memory for the cache "
        "blocks' (or CUDA out of memory while loading)"
    )
    extra = ""
    if fit.inputs.gpu_count > shards and not args.data_parallel:
        extra = (
            f"; the container requests {fit.inputs.gpu_count} GPUs but vLLM "
            f"splits the model over --tensor-parallel-size x "
            f"--pipeline-parallel-size = {shards} of them"
        )
    return (
        f"{fit.where}: the weights take {weights / GIB:.2f} GiB per GPU "
        f"({fit.model.params / 1e9:.2f}B parameters x {per_param:.3g} B / "
        f"{shards} GPU{'s' if shards > 1 else ''}), {limit}; {failure}{extra}"
    )
