"""TRN037 zero-offload-pin-memory-unset."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import DEEPSPEED_CONFIG
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.zero_config import (
    PARAM,
    PIN_MEMORY_DEFAULT_SINCE,
    zero_configs,
)
from kubernai.rules.base import Finding, Rule, Severity


class ZeroOffloadPinMemoryUnset(Rule):
    """DeepSpeed offload leaves pin_memory to a default that changed in 0.19.5.

    ## Mechanism
    `pin_memory` decides whether DeepSpeed's host-side offload buffers are
    page-locked. DeepSpeed 0.19.5 changed its default from `false` to `true`
    for both `offload_optimizer` and `offload_param`. Pinned pages cannot be
    swapped or reclaimed and are charged to the container's memory cgroup, so
    the same config and image tag can use more locked host memory after a
    DeepSpeed upgrade; DeepSpeed's own docs tell users who then see
    out-of-memory errors, especially with a low memlock limit, to set
    `"pin_memory": false`. The deprecated `cpu_offload: true` cannot set it
    (`cpu_offload_use_pin_memory` is ignored). Writing the value down makes the
    host-memory footprint independent of the DeepSpeed version.

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
            "stage": 3,
            "offload_optimizer": {"device": "cpu"}
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
            "offload_optimizer": {"device": "cpu", "pin_memory": true}
          }
        }
    ```

    ## References
    - https://www.deepspeed.ai/docs/config-json/#optimizer-offloading (note on
      the `pin_memory` default)
    - deepspeed/runtime/zero/offload_config.py (`pin_memory: bool = True`)
    - DeepSpeed commit 7dfa67aea "pinned offload buffers by default" (#8207),
      first released in v0.19.5
    """

    code = "TRN037"
    name = "zero-offload-pin-memory-unset"
    severity = Severity.INFO
    mechanism = "deepspeed-zero-stages"
    kinds = frozenset({"ConfigMap"})
    requires = frozenset({DEEPSPEED_CONFIG})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for key, zero in zero_configs(resource, graph):
            if zero.stage is None or zero.stage == 0:
                continue
            for offload in zero.offloads:
                if not offload.active or offload.pin_memory_set:
                    continue
                if offload.key == PARAM and zero.stage != 3:
                    continue  # ignored below stage 3 (TRN030)
                how = (
                    f"{offload.setting()}, which cannot set pin_memory"
                    if offload.deprecated
                    else f"{offload.setting()} without pin_memory"
                )
                yield self.finding(
                    resource,
                    f"{key}: {how}: DeepSpeed {PIN_MEMORY_DEFAULT_SINCE} and later "
                    "pin the offload buffers by default, earlier releases do not",
                    path=("data", key),
                )
