"""TRN026 deepspeed-elasticity-with-batch-keys."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.deepspeed_batch import BATCH_KEYS, elasticity_enabled
from kubernai.model.features import DEEPSPEED_CONFIG
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, get_path
from kubernai.model.training import deepspeed_configs
from kubernai.rules.base import Finding, Rule, Severity


class DeepspeedElasticityWithBatchKeys(Rule):
    """DeepSpeed elasticity enabled while the config also sets batch keys.

    ## Mechanism
    With `"elasticity": {"enabled": true}` DeepSpeed computes
    `train_batch_size`, the micro batch and the accumulation steps itself,
    from `max_train_batch_size`, `micro_batch_sizes` and the GPU range, so
    that the global batch stays valid whenever the job's world size
    changes. To avoid silently ignoring batch keys written next to it, the
    engine refuses to start when any of them is present:
    `ElasticityConfigError: One or more batch related parameters were found
    in your ds_config (train_batch_size, train_micro_batch_size_per_gpu,
    and/or gradient_accumulation_steps). These parameters *will not be
    used* since elastic training is enabled, which takes control of these
    parameters. ...`. The key counts even when its value is `"auto"` or
    `null`. Remove the keys, or set
    `"ignore_non_elastic_batch_info": true` in the elasticity section to
    have them ignored.

    ## Example
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: ds-elastic
    data:
      ds.json: |
        {"train_batch_size": 256,
         "elasticity": {"enabled": true, "max_train_batch_size": 512,
                        "micro_batch_sizes": [2, 4], "min_gpus": 8,
                        "max_gpus": 64, "version": 0.1},
         "zero_optimization": {"stage": 2}}
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: ds-elastic
    data:
      ds.json: |
        {"elasticity": {"enabled": true, "max_train_batch_size": 512,
                        "micro_batch_sizes": [2, 4], "min_gpus": 8,
                        "max_gpus": 64, "version": 0.1},
         "zero_optimization": {"stage": 2}}
    ```

    ## References
    - `DeepSpeedConfig.__init__`, elasticity:
      https://github.com/deepspeedai/DeepSpeed/blob/master/deepspeed/runtime/config.py
    - `IGNORE_NON_ELASTIC_BATCH_INFO`:
      https://github.com/deepspeedai/DeepSpeed/blob/master/deepspeed/elasticity/constants.py
    - https://github.com/deepspeedai/DeepSpeed/blob/master/docs/_pages/config-json.md
    """

    code = "TRN026"
    name = "deepspeed-elasticity-with-batch-keys"
    severity = Severity.ERROR
    mechanism = "gradient-accumulation-mechanics"
    kinds = frozenset({"ConfigMap"})
    requires = frozenset({DEEPSPEED_CONFIG})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for key, data in deepspeed_configs(resource):
            if not elasticity_enabled(data):
                continue
            if get_path(data, "elasticity", "ignore_non_elastic_batch_info") is True:
                continue
            present = [name for name in BATCH_KEYS if name in data]
            if present:
                yield self.finding(
                    resource,
                    f"{key} enables elasticity and also sets {', '.join(present)}: "
                    'DeepSpeed stops with "ElasticityConfigError: One or more batch '
                    'related parameters were found in your ds_config"',
                    path=("data", key),
                )
