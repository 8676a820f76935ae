"""SRV052 default-max-model-len-exceeds-kv-cache."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import LLM_SERVER
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity
from kubernai.rules.serve._kv_cache_fit import kv_cache_fits, shortfall


class DefaultMaxModelLenExceedsKvCache(Rule):
    """vLLM without `--max-model-len` whose model's full context cannot fit the GPU.

    ## Mechanism
    Without `--max-model-len`, vLLM serves the model's whole context: its
    `max_position_embeddings` (131,072 tokens for Llama 3.1 and 3.2,
    163,840 for DeepSeek-V3). Long-context models need a large KV cache for
    one request of that length (16 GiB per GPU for Llama-3.1-8B in bf16),
    and vLLM checks at start-up that one such request fits. When it does
    not, the engine refuses to start with `ValueError: To serve at least one
    request with the models's max seq len (131072), (16.00 GiB KV cache is
    needed, which is larger than the available KV cache memory (...). Based
    on the available memory, the estimated maximum model length is ...`,
    after minutes of downloading and loading the weights. Setting
    `--max-model-len` to what the application needs fixes it (recent vLLM
    versions also accept `--max-model-len auto`, which fits the length to
    memory).

    As in SRV051, kubernai fires only when the request does not fit even
    with no activation or runtime memory (the device's whole memory times
    `gpu_memory_utilization`, 0.92 when not set, minus the weights), and only
    for catalog models on catalog GPUs. The default length is the catalog's
    `max_position_embeddings`, corrected for Hugging Face ids that share an
    architecture but not a context length (Meta-Llama-3-8B has 8,192).

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
    - https://github.com/vllm-project/vllm/issues/19407 (an unset max-model-len
      takes the model's context and fails after initialisation)
    - https://github.com/vllm-project/vllm/pull/29431 (`--max-model-len auto`)
    - https://github.com/vllm-project/vllm/blob/main/vllm/v1/core/kv_cache_utils.py
      (`_check_enough_kv_cache_memory`)
    - https://docs.vllm.ai/en/latest/configuration/conserving_memory/
    """

    code = "SRV052"
    name = "default-max-model-len-exceeds-kv-cache"
    severity = Severity.ERROR
    mechanism = "kv-cache-sizing-for-llm-serving"
    workloads_only = True
    requires = frozenset({LLM_SERVER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for fit in kv_cache_fits(resource, graph):
            args = fit.inputs.args
            if args.max_model_len is not None or args.max_model_len_auto:
                continue
            if fit.weights_exceed or fit.bound.fits:
                continue
            message = (
                f"--max-model-len is not set, so vLLM serves the model's whole "
                f"context of {fit.bound.max_model_len:,} tokens "
                f"(max_position_embeddings) for {fit.where}: " + shortfall(fit)
            )
            yield self.finding(resource, message, path=args.server.path_of("--model"))
