"""TRN038 zero-deprecated-key-with-replacement."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import DEEPSPEED_CONFIG
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.zero_config import ZERO, replacement_field, zero_configs
from kubernai.rules.base import Finding, Rule, Severity


class ZeroDeprecatedKeyWithReplacement(Rule):
    """DeepSpeed config sets a deprecated ZeRO key next to the key replacing it.

    ## Mechanism
    DeepSpeed still reads the deprecated `zero_optimization` keys
    `cpu_offload` (now `offload_optimizer`), `cpu_offload_param` (now
    `offload_param`) and `stage3_gather_fp16_weights_on_model_save` (now
    `stage3_gather_16bit_weights_on_model_save`) by copying them into their
    replacement. When both are written, whatever their values (`false` and
    `null` included), the copy asserts and `deepspeed.initialize` stops:
    `Cannot provide deprecated parameter 'cpu_offload' and replacing parameter
    'offload_optimizer' together`. Configs pick up such pairs when an old
    template is merged with a new one.

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
            "cpu_offload": false,
            "offload_optimizer": {"device": "cpu", "pin_memory": true}
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
            "stage": 2,
            "offload_optimizer": {"device": "cpu", "pin_memory": true}
          }
        }
    ```

    ## References
    - deepspeed/runtime/config_utils.py
      (`DeepSpeedConfigModel._process_deprecated_field`)
    - deepspeed/runtime/zero/config.py (`cpu_offload`, `cpu_offload_param`,
      `stage3_gather_fp16_weights_on_model_save`)
    """

    code = "TRN038"
    name = "zero-deprecated-key-with-replacement"
    severity = Severity.ERROR
    mechanism = "deepspeed-zero-stages"
    kinds = frozenset({"ConfigMap"})
    requires = frozenset({DEEPSPEED_CONFIG})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for key, zero in zero_configs(resource, graph):
            for old, new in zero.conflicts:
                yield self.finding(
                    resource,
                    f"{key}: {ZERO} sets both the deprecated {old} and {new}: "
                    f'DeepSpeed stops with "Cannot provide deprecated parameter '
                    f"'{old}' and replacing parameter '{replacement_field(new)}' "
                    'together"',
                    path=("data", key),
                )
