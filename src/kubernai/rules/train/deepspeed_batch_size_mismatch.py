"""TRN020 deepspeed-batch-size-mismatch."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.deepspeed_batch import (
    batch_keys,
    deepspeed_launches,
    elasticity_enabled,
)
from kubernai.model.features import LAUNCHER
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.world_size import deepspeed_world_size, launch_world_size
from kubernai.rules.base import Finding, Rule, Severity


class DeepspeedBatchSizeMismatch(Rule):
    """DeepSpeed train_batch_size is not micro batch x accumulation x world size.

    ## Mechanism
    DeepSpeed's global batch is `train_micro_batch_size_per_gpu` x
    `gradient_accumulation_steps` x the data-parallel world size. When a
    config pins all three batch keys, DeepSpeed checks them against the
    world size it finds at start-up, and the engine refuses to start when
    they disagree:
    `AssertionError: Check batch related parameters. train_batch_size is
    not equal to micro_batch_per_gpu * gradient_acc_step * world_size
    32 != 4 * 2 * 8`. The world size is not in the config: it is the
    number of ranks the launcher starts (torchrun `--nnodes` x
    `--nproc-per-node`, the PyTorchJob's replicas x `nprocPerNode`), over
    any tensor, pipeline or sequence parallelism. A config written for one
    GPU count breaks when the job is scaled to another. The check runs only
    where the manifest fixes the world size; `"auto"` values (filled in by
    the Hugging Face Trainer) are left alone.

    ## Example
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: ds-config
    data:
      ds.json: |
        {"train_batch_size": 32,
         "train_micro_batch_size_per_gpu": 4,
         "gradient_accumulation_steps": 2,
         "zero_optimization": {"stage": 2}}
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: finetune
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: train
              image: ghcr.io/acme/finetune:1.4
              command: [torchrun, --nproc-per-node=8, train.py,
                        --deepspeed, /config/ds.json]
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
        {"train_batch_size": 64,
         "train_micro_batch_size_per_gpu": 4,
         "gradient_accumulation_steps": 2,
         "zero_optimization": {"stage": 2}}
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: finetune
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: train
              image: ghcr.io/acme/finetune:1.4
              command: [torchrun, --nproc-per-node=8, train.py,
                        --deepspeed, /config/ds.json]
              resources:
                limits: {nvidia.com/gpu: 8}
              volumeMounts: [{name: ds, mountPath: /config}]
          volumes:
            - name: ds
              configMap: {name: ds-config}
    ```

    ## References
    - `_batch_assertion`, `_set_batch_related_parameters`:
      https://github.com/deepspeedai/DeepSpeed/blob/master/deepspeed/runtime/config.py
    - https://www.deepspeed.ai/docs/config-json/
    - https://github.com/pytorch/pytorch/blob/main/torch/distributed/run.py
    """

    code = "TRN020"
    name = "deepspeed-batch-size-mismatch"
    severity = Severity.ERROR
    mechanism = "gradient-accumulation-mechanics"
    workloads_only = True
    requires = frozenset({LAUNCHER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for found in deepspeed_launches(resource, graph):
            data = found.config.data
            keys = batch_keys(data)
            train, micro, accum = keys.train, keys.micro, keys.accum
            if train is None or micro is None or accum is None:
                continue
            if not keys.readable or not keys.positive or elasticity_enabled(data):
                continue
            world = deepspeed_world_size(
                launch_world_size(resource, found.template, found.launch, graph), data
            )
            size = world.fixed if world is not None else None
            if world is None or size is None or train == micro * accum * size:
                continue
            yield self.finding(
                resource,
                f"{found.source} pins {keys.describe()}, but the data-parallel "
                f"world size here is {world.describe()}: {train} != {micro} x "
                f'{accum} x {size}, and DeepSpeed stops with "Check batch related '
                "parameters. train_batch_size is not equal to micro_batch_per_gpu "
                f"* gradient_acc_step * world_size {train} != {micro} * {accum} * "
                f'{size}" (train_batch_size {micro * accum * size} would match)',
                path=found.where,
            )
