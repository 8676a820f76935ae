"""TRN035 zero-model-states-exceed-gpu-memory."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import LAUNCHER
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity
from kubernai.rules.train._zero_fit import gib, gpu_of, gpu_states, zero_fits


class ZeroModelStatesExceedGpuMemory(Rule):
    """The chosen ZeRO stage leaves more model states on each GPU than it holds.

    ## Mechanism
    Full training with mixed-precision Adam keeps 16 bytes per parameter of
    model states: 16-bit parameters and gradients (2 + 2 bytes) and the fp32
    master copy, momentum and variance (12 bytes). ZeRO stage 1 partitions the
    optimizer states over the data-parallel GPUs, stage 2 the gradients too,
    stage 3 the parameters too; offloading moves the optimizer (and at stage 3
    the parameters) to the CPU or NVMe. When the states left on each GPU by the
    configured stage are already larger than the GPU, the run fails with
    `CUDA out of memory` while DeepSpeed builds the optimizer or at the first
    step, before activations, the CUDA context and allocator fragmentation are
    even counted.

    kubernai checks this only when everything is certain: the script names a
    model of its catalog (`--model_name_or_path`), trains every parameter with
    Adam, the process count is fixed by the manifest (the largest size of an
    elastic job), and a node selector, required node affinity or
    `cluster.gpu_product` names the GPU. Stages 2 and 3 use DeepSpeed's own
    estimators (`estimate_zero2_model_states_mem_needs`,
    `estimate_zero3_model_states_mem_needs`, with the input embedding as the
    largest layer), stages 0 and 1 the ZeRO paper's figures.

    ## Example
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: ds-config
    data:
      ds.json: |
        {"train_micro_batch_size_per_gpu": 1, "bf16": {"enabled": true},
         "zero_optimization": {"stage": 2}}
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: llama-sft
    spec:
      template:
        spec:
          restartPolicy: Never
          nodeSelector:
            nvidia.com/gpu.product: NVIDIA-L4
          containers:
            - name: train
              image: ghcr.io/acme/train:1
              command: ["torchrun", "--nproc-per-node", "8", "train.py",
                        "--model_name_or_path", "meta-llama/Llama-3.1-8B",
                        "--deepspeed", "/config/ds.json"]
              resources:
                limits:
                  nvidia.com/gpu: 8
              volumeMounts:
                - name: config
                  mountPath: /config
          volumes:
            - name: config
              configMap:
                name: ds-config
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: ds-config
    data:
      ds.json: |
        {"train_micro_batch_size_per_gpu": 1, "bf16": {"enabled": true},
         "zero_optimization": {"stage": 3}}
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: llama-sft
    spec:
      template:
        spec:
          restartPolicy: Never
          nodeSelector:
            nvidia.com/gpu.product: NVIDIA-L4
          containers:
            - name: train
              image: ghcr.io/acme/train:1
              command: ["torchrun", "--nproc-per-node", "8", "train.py",
                        "--model_name_or_path", "meta-llama/Llama-3.1-8B",
                        "--deepspeed", "/config/ds.json"]
              resources:
                limits:
                  nvidia.com/gpu: 8
              volumeMounts:
                - name: config
                  mountPath: /config
          volumes:
            - name: config
              configMap:
                name: ds-config
    ```

    ## References
    - deepspeed/runtime/zero/stage_1_and_2.py (`estimate_zero2_model_states_mem_needs`)
    - deepspeed/runtime/zero/stage3.py (`estimate_zero3_model_states_mem_needs`)
    - https://deepspeed.readthedocs.io/en/latest/memory.html
    - Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training Trillion
      Parameter Models", SC'20, https://arxiv.org/abs/1910.02054
    """

    code = "TRN035"
    name = "zero-model-states-exceed-gpu-memory"
    severity = Severity.ERROR
    mechanism = "deepspeed-zero-stages"
    workloads_only = True
    requires = frozenset({LAUNCHER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        seen: set[str] = set()
        for fit in zero_fits(resource, graph):
            found = gpu_of(resource, fit.run, graph)
            if found is None:
                continue
            gpu, choice = found
            states = gpu_states(fit)
            memory = gpu.memory_mib * 2**20
            if states is None or states.bytes_per_gpu <= memory:
                continue
            message = (
                f"{fit.run.source}: ZeRO stage {fit.stage}{states.offload} keeps at "
                f"least {gib(states.bytes_per_gpu)} of model states on each GPU for "
                f"{fit.describe_model()} on {fit.describe_processes()}, more than "
                f"the {gib(memory)} of an {gpu.name} ({choice.source}); "
                f"source: {states.source}"
            )
            if message not in seen:
                seen.add(message)
                yield self.finding(resource, message, path=fit.run.where)
