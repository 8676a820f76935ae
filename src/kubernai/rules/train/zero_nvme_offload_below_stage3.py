"""TRN032 zero-nvme-offload-below-stage3."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import DEEPSPEED_CONFIG
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.zero_config import NVME, zero_configs
from kubernai.rules.base import Finding, Rule, Severity


class ZeroNvmeOffloadBelowStage3(Rule):
    """DeepSpeed config offloads optimizer states to NVMe at ZeRO stage 1 or 2.

    ## Mechanism
    NVMe offload (ZeRO-Infinity) exists only in the stage-3 engine. The stage
    1 and 2 optimizer (`DeepSpeedZeroOptimizer`) only asks whether the
    `offload_optimizer` device is something other than `none`, and then
    offloads to the CPU: the fp32 master weights, gradients and Adam states
    land in host memory, and `nvme_path` is never used. A config that counts
    on NVMe to keep host memory small gets the host-memory cost of CPU offload
    instead, and the pod can be OOM-killed.

    ## Example
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: ds-config
    data:
      ds.json: |
        {
          "train_micro_batch_size_per_gpu": 4,
          "zero_optimization": {
            "stage": 2,
            "offload_optimizer": {"device": "nvme", "nvme_path": "/local_nvme"}
          }
        }
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: ds-config
    data:
      ds.json: |
        {
          "train_micro_batch_size_per_gpu": 4,
          "zero_optimization": {
            "stage": 3,
            "offload_optimizer": {"device": "nvme", "nvme_path": "/local_nvme"}
          }
        }
    ```

    ## References
    - https://www.deepspeed.ai/docs/config-json/#optimizer-offloading ("NVMe
      offloading is available only with ZeRO stage 3")
    - deepspeed/runtime/zero/stage_1_and_2.py (`cpu_offload` is set for any
      device other than `none`)
    """

    code = "TRN032"
    name = "zero-nvme-offload-below-stage3"
    severity = Severity.WARNING
    mechanism = "deepspeed-zero-stages"
    kinds = frozenset({"ConfigMap"})
    requires = frozenset({DEEPSPEED_CONFIG})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for key, zero in zero_configs(resource, graph):
            if zero.stage not in (1, 2):
                continue
            optimizer = zero.optimizer
            if optimizer is None or optimizer.device != NVME:
                continue
            yield self.finding(
                resource,
                f"{key}: {optimizer.setting()} at ZeRO stage {zero.stage}: stages 1 "
                "and 2 offload to the CPU whatever the device, so the optimizer "
                "states go to host memory and nvme_path is not used",
                path=("data", key),
            )
