"""SRV051 max-model-len-exceeds-kv-cache."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import LLM_SERVER
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity
from kubernai.rules.serve._kv_cache_fit import kv_cache_fits, shortfall


class MaxModelLenExceedsKvCache(Rule):
    """vLLM `--max-model-len` whose KV cache for one request cannot fit the GPU.

    ## Mechanism
    At start-up vLLM checks that the KV cache can hold at least one request
    of `--max-model-len` tokens. One request needs
    `ceil(max_model_len / block_size)` blocks, each of
    `2 (K and V) x block_size x KV heads per GPU x head size x bytes per
    element` per layer (one latent vector, no factor 2, for MLA models such as
    DeepSeek-V3). When the memory left after the weights, the profiled
    activation peak and the CUDA context is smaller, the engine refuses to
    start with `ValueError: To serve at least one request with the models's
    max seq len (X), (Y GiB KV cache is needed, which is larger than the
    available KV cache memory (Z GiB). Based on the available memory, the
    estimated maximum model length is W. Try increasing
    gpu_memory_utilization or decreasing max_model_len when initializing the
    engine.` (the older V0 engine: `The model's max seq len (X) is larger
    than the maximum number of tokens that can be stored in KV cache (Y)`).

    vLLM measures the activation peak; kubernai can only estimate it, so this
    rule fires only when the request does not fit even with no activation
    or runtime memory at all: the whole device as nvidia-smi reports it,
    times `gpu_memory_utilization` (vLLM's current default 0.92 when not
    set), minus the weights. The message quotes vLLM's error as kubernai
    estimates it, including the estimated maximum length. Only catalog
    models on catalog GPUs are checked (see SRV050); `--max-model-len auto`
    (vLLM fits the length itself) is skipped.

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
            cloud.google.com/gke-accelerator: nvidia-l4
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.10.1
              command: ["vllm", "serve", "meta-llama/Llama-3.1-8B-Instruct"]
              args: ["--max-model-len", "65536"]
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
              command: ["vllm", "serve", "meta-llama/Llama-3.1-8B-Instruct"]
              args: ["--max-model-len", "16384"]
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## References
    - https://github.com/vllm-project/vllm/blob/main/vllm/v1/core/kv_cache_utils.py
      (`_check_enough_kv_cache_memory`, `get_num_blocks`)
    - https://github.com/vllm-project/vllm/blob/main/vllm/v1/kv_cache_interface.py
      (page size of full-attention, sliding-window and MLA layers)
    - https://docs.vllm.ai/en/latest/configuration/conserving_memory/
    - https://github.com/vllm-project/vllm/pull/2163 (the check that max_model_len
      fits the KV cache)
    """

    code = "SRV051"
    name = "max-model-len-exceeds-kv-cache"
    severity = Severity.ERROR
    mechanism = "kv-cache-sizing-for-llm-serving"
    workloads_only = True
    requires = frozenset({LLM_SERVER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for fit in kv_cache_fits(resource, graph):
            args = fit.inputs.args
            if args.max_model_len is None or fit.weights_exceed or fit.bound.fits:
                continue
            message = (
                f"--max-model-len {args.max_model_len} for {fit.where}: "
                + shortfall(fit)
            )
            yield self.finding(
                resource, message, path=args.server.path_of("--max-model-len")
            )
