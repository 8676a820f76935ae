"""SRV053 max-num-seqs-exceeds-kv-cache."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.calc.kv_cache import GIB
from kubernai.model.features import LLM_SERVER
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity
from kubernai.rules.serve._kv_cache_fit import KvCacheFit, kv_cache_fits

SHORT_REQUEST_TOKENS = 512
"""A request this short (prompt plus output) is small for chat or RAG traffic."""
FAR_ABOVE = 4
"""``--max-num-seqs`` is reported above this many times what the cache holds."""


class MaxNumSeqsExceedsKvCache(Rule):
    """vLLM `--max-num-seqs` far above the number of requests its KV cache can hold.

    ## Mechanism
    `--max-num-seqs` caps how many requests vLLM runs in one batch, but every
    running request also holds KV-cache blocks for its prompt and output so
    far. When the cache is full, new requests wait in the queue and running
    ones are preempted: their cache is dropped and recomputed later (the V0
    engine logs `Sequence group ... is preempted by PreemptionMode.RECOMPUTE
    mode because there is not enough KV cache space`; the metric
    `vllm:num_preemptions_total` counts them).
    vLLM reports the cache at start-up as `GPU KV cache size: N tokens` and
    `Maximum concurrency for L tokens per request: C x`.

    Fewer full-length requests than `--max-num-seqs` is normal for long
    contexts, so kubernai reports (as information) only an explicit
    `--max-num-seqs` far out of the cache's reach: more than four times the
    number of requests the cache holds even if every request used just 512
    tokens (or `--max-model-len`, if shorter), with the cache computed with
    no activation or runtime memory at all (the device's memory times
    `gpu_memory_utilization`, 0.92 when not set, minus the weights). Such a
    setting promises a batch the GPU cannot hold: throughput is set by the
    cache, not by the flag, and under load requests are preempted and
    recomputed. Lower `--max-num-seqs` to what the cache holds, or give the
    cache more room (more GPUs with `--tensor-parallel-size`,
    `--kv-cache-dtype fp8`).
    Sliding-window and hybrid models are skipped.

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
              args: ["--max-model-len", "8192", "--max-num-seqs", "512"]
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
              args: ["--max-model-len", "8192", "--max-num-seqs", "32"]
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## References
    - https://docs.vllm.ai/en/latest/configuration/optimization/ (preemption)
    - https://github.com/vllm-project/vllm/blob/main/vllm/v1/core/kv_cache_utils.py
      (`GPU KV cache size`, `Maximum concurrency`)
    - https://docs.vllm.ai/en/latest/usage/metrics/ (`vllm:num_preemptions_total`)
    """

    code = "SRV053"
    name = "max-num-seqs-exceeds-kv-cache"
    severity = Severity.INFO
    mechanism = "kv-cache-sizing-for-llm-serving"
    workloads_only = True
    requires = frozenset({LLM_SERVER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for fit in kv_cache_fits(resource, graph):
            args = fit.inputs.args
            seqs = args.max_num_seqs
            if seqs is None or args.max_model_len_auto or fit.model.sliding_layers:
                continue
            if fit.weights_exceed or not fit.bound.fits:
                continue
            short = min(SHORT_REQUEST_TOKENS, fit.bound.max_model_len)
            if seqs <= FAR_ABOVE * (fit.bound.kv_cache_tokens // short):
                continue
            yield self.finding(
                resource,
                _message(fit, seqs, short),
                path=args.server.path_of("--max-num-seqs"),
            )


def _message(fit: KvCacheFit, seqs: int, short: int) -> str:
    bound, estimate = fit.bound, fit.estimate
    tokens = bound.kv_cache_tokens
    return (
        f"--max-num-seqs {seqs} for {fit.where}: the KV cache holds at most "
        f"{tokens:,} tokens ({bound.kv_cache_bytes / GIB:.2f} GiB after the "
        f"weights, {fit.budget}, with no activation or runtime memory; about "
        f"{estimate.kv_cache_tokens:,} tokens by kubernai's estimate): room for "
        f"{tokens // short:,} requests of {short} tokens, under a quarter of "
        f"{seqs}, and for {bound.max_concurrency:.2f} requests of --max-model-len "
        f"{bound.max_model_len:,} (vLLM's 'Maximum concurrency'); requests beyond "
        "what the cache holds wait or are preempted and recomputed"
    )
