"""TRN033 zero-nvme-offload-without-path."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import DEEPSPEED_CONFIG
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.zero_config import NVME, zero_configs
from kubernai.rules.base import Finding, Rule, Severity


class ZeroNvmeOffloadWithoutPath(Rule):
    """DeepSpeed config offloads to NVMe at ZeRO stage 3 without an nvme_path.

    ## Mechanism
    With `device: nvme`, ZeRO-3 swaps optimizer states or parameters to files
    under `nvme_path` (`<nvme_path>/zero_stage_3/...`), and `nvme_path` has no
    default. Without it DeepSpeed fails at start-up: `deepspeed.zero.Init`
    asserts `"nvme_path" in DeepSpeed Config cannot be None if remote device
    is nvme` for parameters, and the optimizer swapper calls
    `os.path.join(None, 'zero_stage_3')`, a `TypeError`.

    ## Example
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: ds-config
    data:
      ds.json: |
        {
          "train_micro_batch_size_per_gpu": 1,
          "zero_optimization": {
            "stage": 3,
            "offload_optimizer": {"device": "nvme"}
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
          "train_micro_batch_size_per_gpu": 1,
          "zero_optimization": {
            "stage": 3,
            "offload_optimizer": {"device": "nvme", "nvme_path": "/local_nvme"}
          }
        }
    ```

    ## References
    - deepspeed/runtime/zero/offload_config.py (`nvme_path: Optional[Path] = None`)
    - deepspeed/runtime/zero/stage3.py (`_configure_tensor_swapping`)
    - deepspeed/runtime/zero/partition_parameters.py (`_validate_remote_device`)
    - https://www.deepspeed.ai/docs/config-json/#parameter-offloading
    """

    code = "TRN033"
    name = "zero-nvme-offload-without-path"
    severity = Severity.ERROR
    mechanism = "deepspeed-zero-stages"
    kinds = frozenset({"ConfigMap"})
    requires = frozenset({DEEPSPEED_CONFIG})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for key, zero in zero_configs(resource, graph):
            if zero.stage != 3:
                continue
            for offload in zero.offloads:
                if offload.device != NVME or offload.nvme_path is not None:
                    continue
                if not offload.nvme_path_known:
                    continue
                yield self.finding(
                    resource,
                    f"{key}: {offload.setting()} at ZeRO stage 3 but "
                    f"{offload.field('nvme_path')} is not set: DeepSpeed has no "
                    "folder for its swap files and stops at start-up",
                    path=("data", key),
                )
