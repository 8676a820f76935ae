"""TRN036 zero-offload-exceeds-memory-limit."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import LAUNCHER
from kubernai.model.graph import ObjectGraph
from kubernai.model.quantity import format_quantity, parse_quantity
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity
from kubernai.rules.train._zero_fit import cpu_floor, gib, zero_fits


class ZeroOffloadExceedsMemoryLimit(Rule):
    """ZeRO CPU offload needs more host memory than the container's limit.

    ## Mechanism
    With `offload_optimizer.device: cpu` (and at stages 1 and 2 also with
    `nvme`, which they treat as the CPU), every process keeps its partition of
    the fp32 master weights, fp32 gradients and Adam momentum and variance in
    host memory: 16 bytes per parameter, split over the pods (DeepSpeed's
    nodes). ZeRO-3 `offload_param.device: cpu` adds the 16-bit parameters, 2
    bytes per parameter. All processes of a pod share its container's memory
    cgroup, and pinned buffers (the default since DeepSpeed 0.19.5) cannot be
    reclaimed, so when the pod's share is larger than `resources.limits.memory`
    the kernel kills the training process (`OOMKilled`, exit code 137) while
    DeepSpeed builds the optimizer.

    kubernai counts only these states, without DeepSpeed's 1.5 buffer factor,
    and only when the script names a model of its catalog
    (`--model_name_or_path`), trains every parameter with Adam, and the
    process count is fixed by the manifest (the largest size of an elastic
    job). DeepSpeed's own estimate is shown next to it.

    ## Example
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: ds-config
    data:
      ds.json: |
        {"train_micro_batch_size_per_gpu": 1, "bf16": {"enabled": true},
         "zero_optimization": {"stage": 3,
           "offload_optimizer": {"device": "cpu", "pin_memory": true}}}
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: llama-70b-sft
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: train
              image: ghcr.io/acme/train:1
              command: ["torchrun", "--nproc-per-node", "8", "train.py",
                        "--model_name_or_path", "meta-llama/Llama-3.1-70B",
                        "--deepspeed", "/config/ds.json"]
              resources:
                limits:
                  nvidia.com/gpu: 8
                  memory: 512Gi
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
         "zero_optimization": {"stage": 3,
           "offload_optimizer": {"device": "cpu", "pin_memory": true}}}
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: llama-70b-sft
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: train
              image: ghcr.io/acme/train:1
              command: ["torchrun", "--nproc-per-node", "8", "train.py",
                        "--model_name_or_path", "meta-llama/Llama-3.1-70B",
                        "--deepspeed", "/config/ds.json"]
              resources:
                limits:
                  nvidia.com/gpu: 8
                  memory: 2Ti
              volumeMounts:
                - name: config
                  mountPath: /config
          volumes:
            - name: config
              configMap:
                name: ds-config
    ```

    ## References
    - deepspeed/runtime/zero/stage3.py (`estimate_zero3_model_states_mem_needs`)
    - deepspeed/runtime/zero/stage_1_and_2.py (`estimate_zero2_model_states_mem_needs`)
    - https://deepspeed.readthedocs.io/en/latest/memory.html
    - https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#requests-and-limits
    """

    code = "TRN036"
    name = "zero-offload-exceeds-memory-limit"
    severity = Severity.ERROR
    mechanism = "deepspeed-zero-stages"
    workloads_only = True
    requires = frozenset({LAUNCHER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        seen: set[str] = set()
        for fit in zero_fits(resource, graph):
            container = fit.run.launch.container
            raw_limit = container.limits.get("memory")
            limit = parse_quantity(raw_limit)
            if limit is None or limit <= 0:
                continue
            floor = cpu_floor(fit)
            if floor is None or floor.bytes_per_pod <= limit:
                continue
            pods = fit.shape.pods
            holds = (
                f"the single pod of {fit.describe_processes()} holds all of it"
                if pods == 1
                else f"each of the {pods} pods of {fit.describe_processes()} holds "
                f"1/{pods} of it"
            )
            deepspeed = (
                ""
                if floor.deepspeed_bytes is None
                else f" (DeepSpeed's estimator: {gib(floor.deepspeed_bytes)} per node)"
            )
            message = (
                f"{fit.run.source}: ZeRO stage {fit.stage} offloads {floor.what} of "
                f"{fit.describe_model()} to the CPU; {holds}, at least "
                f"{gib(floor.bytes_per_pod)}{deepspeed}, above the memory limit "
                f"{format_quantity(raw_limit)} of {container.label}"
            )
            if message not in seen:
                seen.add(message)
                yield self.finding(resource, message, path=fit.run.where)
