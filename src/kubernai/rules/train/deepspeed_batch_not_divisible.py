"""TRN021 deepspeed-batch-not-divisible."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.calc.batch import deepspeed_batch
from kubernai.model.deepspeed_batch import (
    batch_keys,
    deepspeed_launches,
    derivation,
    elasticity_enabled,
)
from kubernai.model.features import LAUNCHER
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.world_size import deepspeed_world_size, launch_world_size
from kubernai.rules.base import Finding, Rule, Severity


class DeepspeedBatchNotDivisible(Rule):
    """DeepSpeed train_batch_size does not divide evenly over the world size.

    ## Mechanism
    A DeepSpeed config may give `train_batch_size` with only one of
    `train_micro_batch_size_per_gpu` and `gradient_accumulation_steps` (or
    alone); DeepSpeed derives the missing key with integer division by the
    data-parallel world size (`gradient_accumulation_steps =
    train_batch_size // micro // world_size`; with `train_batch_size` alone
    the micro batch is `train_batch_size // world_size` and the
    accumulation 1). When the sizes do not divide, the remainder is dropped
    and the check that follows fails: `AssertionError: Check batch related
    parameters. train_batch_size is not equal to micro_batch_per_gpu *
    gradient_acc_step * world_size 100 != 4 * 3 * 8`. When the division
    gives 0 (a global batch smaller than micro batch x world size),
    DeepSpeed stops with `Gradient accumulation steps: 0 has to be greater
    than 0` or `Micro batch size per gpu: 0 has to be greater than 0`. The
    world size comes from the launcher in the manifest; the check runs only
    where the manifest fixes it.

    ## Example
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: ds-config
    data:
      ds.json: |
        {"train_batch_size": 100,
         "train_micro_batch_size_per_gpu": 4,
         "zero_optimization": {"stage": 1}}
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: pretrain
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: train
              image: ghcr.io/acme/pretrain:0.9
              command: [deepspeed, --num_gpus, "8", train.py,
                        --deepspeed_config, /config/ds.json]
              resources:
                limits: {nvidia.com/gpu: 8}
              volumeMounts: [{name: ds, mountPath: /config}]
          volumes:
            - name: ds
              configMap: {name: ds-config}
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: ds-config
    data:
      ds.json: |
        {"train_batch_size": 96,
         "train_micro_batch_size_per_gpu": 4,
         "zero_optimization": {"stage": 1}}
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: pretrain
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: train
              image: ghcr.io/acme/pretrain:0.9
              command: [deepspeed, --num_gpus, "8", train.py,
                        --deepspeed_config, /config/ds.json]
              resources:
                limits: {nvidia.com/gpu: 8}
              volumeMounts: [{name: ds, mountPath: /config}]
          volumes:
            - name: ds
              configMap: {name: ds-config}
    ```

    ## References
    - `_set_batch_related_parameters`, `_batch_assertion`:
      https://github.com/deepspeedai/DeepSpeed/blob/master/deepspeed/runtime/config.py
    - https://www.deepspeed.ai/docs/config-json/
    - https://github.com/deepspeedai/DeepSpeed/blob/master/deepspeed/launcher/runner.py
    """

    code = "TRN021"
    name = "deepspeed-batch-not-divisible"
    severity = Severity.ERROR
    mechanism = "gradient-accumulation-mechanics"
    workloads_only = True
    requires = frozenset({LAUNCHER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for found in deepspeed_launches(resource, graph):
            data = found.config.data
            keys = batch_keys(data)
            train, micro, accum = keys.train, keys.micro, keys.accum
            if train is None or (micro is not None and accum is not None):
                continue
            if not keys.readable or not keys.positive or elasticity_enabled(data):
                continue
            world = deepspeed_world_size(
                launch_world_size(resource, found.template, found.launch, graph), data
            )
            size = world.fixed if world is not None else None
            if world is None or size is None:
                continue
            *_, message = deepspeed_batch(
                data_parallel_size=size,
                train_batch_size=train,
                micro_batch=micro,
                grad_accum=accum,
            )
            if not message:
                continue
            steps = derivation(train, micro, accum, size)
            yield self.finding(
                resource,
                f"{found.source} sets only {keys.describe()}; with a data-parallel "
                f"world size of {world.describe()} DeepSpeed derives {steps} and "
                f'stops with "{message}"',
                path=found.where,
            )
