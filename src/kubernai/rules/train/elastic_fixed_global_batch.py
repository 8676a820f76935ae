"""TRN022 elastic-fixed-global-batch."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.calc.batch import deepspeed_batch
from kubernai.model.deepspeed_batch import (
    BatchKeys,
    batch_keys,
    deepspeed_launches,
    elasticity_enabled,
)
from kubernai.model.features import LAUNCHER
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.world_size import (
    WorldSize,
    deepspeed_world_size,
    launch_world_size,
)
from kubernai.rules.base import Finding, Rule, Severity

_MAX_NODE_COUNTS = 4096
"""Node counts tried in an elastic range (a range wider than this is not checked)."""


def _failing(world: WorldSize, keys: BatchKeys) -> list[tuple[int, int]]:
    """Node counts in the range (and their world sizes) where DeepSpeed fails."""
    low, high = world.nodes
    failing = []
    for nodes in range(low, min(high, low + _MAX_NODE_COUNTS) + 1):
        size = world.data_parallel(nodes)
        if size is None:
            continue
        *_, message = deepspeed_batch(
            data_parallel_size=size,
            train_batch_size=keys.train,
            micro_batch=keys.micro,
            grad_accum=keys.accum,
        )
        if message:
            failing.append((nodes, size))
    return failing


def _counts(failing: list[tuple[int, int]]) -> str:
    shown = ", ".join(f"{nodes} (world size {size})" for nodes, size in failing[:4])
    more = len(failing) - 4
    return shown + (f" and {more} more" if more > 0 else "")


class ElasticFixedGlobalBatch(Rule):
    """Elastic job whose DeepSpeed batch keys hold at only some world sizes.

    ## Mechanism
    An elastic job (torchrun `--nnodes MIN:MAX`, a PyTorchJob
    `elasticPolicy` with `minReplicas` below `maxReplicas`) restarts all
    workers with a new world size whenever nodes leave or join. DeepSpeed
    reads its config again at every start and checks `train_batch_size ==
    train_micro_batch_size_per_gpu x gradient_accumulation_steps x world
    size`. A config that pins all three keys satisfies that at one world
    size at most: after a membership change the restarted workers stop
    with `AssertionError: Check batch related parameters. train_batch_size
    is not equal to micro_batch_per_gpu * gradient_acc_step *
    world_size`, and every restart fails the same way until the restart
    budget is gone. A fixed `train_batch_size` with only one of the other
    keys is derived again at each size, but fails at the sizes that do not
    divide it. DeepSpeed's `elasticity` section exists for this: it picks a
    batch size and micro batch that work across a range of GPU counts.

    ## Example
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
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: elastic-finetune
    spec:
      nprocPerNode: "8"
      elasticPolicy:
        rdzvBackend: c10d
        minReplicas: 1
        maxReplicas: 4
        maxRestarts: 10
      pytorchReplicaSpecs:
        Worker:
          replicas: 1
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/finetune:1.4
                  command: [torchrun, train.py, --deepspeed, /config/ds.json]
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
        {"elasticity": {"enabled": true, "max_train_batch_size": 256,
                        "micro_batch_sizes": [2, 4], "min_gpus": 8,
                        "max_gpus": 32, "version": 0.1},
         "zero_optimization": {"stage": 2}}
    ---
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: elastic-finetune
    spec:
      nprocPerNode: "8"
      elasticPolicy:
        rdzvBackend: c10d
        minReplicas: 1
        maxReplicas: 4
        maxRestarts: 10
      pytorchReplicaSpecs:
        Worker:
          replicas: 1
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/finetune:1.4
                  command: [torchrun, train.py, --deepspeed, /config/ds.json]
                  resources:
                    limits: {nvidia.com/gpu: 8}
                  volumeMounts: [{name: ds, mountPath: /config}]
              volumes:
                - name: ds
                  configMap: {name: ds-config}
    ```

    ## References
    - DeepSpeed `_batch_assertion` and elasticity:
      https://github.com/deepspeedai/DeepSpeed/blob/master/deepspeed/runtime/config.py
    - https://github.com/deepspeedai/DeepSpeed/blob/master/docs/_pages/config-json.md
    - torchrun membership changes:
      https://github.com/pytorch/pytorch/blob/main/torch/distributed/run.py
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/controller.v1/pytorch/elastic.go
    """

    code = "TRN022"
    name = "elastic-fixed-global-batch"
    severity = Severity.WARNING
    mechanism = "gradient-accumulation-mechanics"
    workloads_only = True
    requires = frozenset({LAUNCHER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for found in deepspeed_launches(resource, graph):
            data = found.config.data
            keys = batch_keys(data)
            train = keys.train
            if train is None or not keys.readable or not keys.positive:
                continue
            if elasticity_enabled(data):
                continue
            world = deepspeed_world_size(
                launch_world_size(resource, found.template, found.launch, graph), data
            )
            if world is None or not world.elastic:
                continue
            low, high = world.nodes
            span = f"{low} to {high} nodes ({world.how})"
            micro, accum = keys.micro, keys.accum
            if micro is not None and accum is not None:
                if train % (micro * accum):
                    holds = "at no world size"
                else:
                    holds = (
                        f"only at a data-parallel size of {train // (micro * accum)}"
                    )
                yield self.finding(
                    resource,
                    f"{found.source} pins all three batch keys ({keys.describe()}), "
                    f"which hold {holds}, but the job is elastic over {span}: after "
                    'a membership change DeepSpeed stops with "Check batch related '
                    "parameters. train_batch_size is not equal to micro_batch_per_gpu "
                    '* gradient_acc_step * world_size"',
                    path=found.where,
                )
                continue
            failing = _failing(world, keys)
            if failing:
                yield self.finding(
                    resource,
                    f"{found.source} fixes {keys.describe()}, and the job is elastic "
                    f"over {span}: at {_counts(failing)} nodes DeepSpeed's derived "
                    'batch keys fail its check ("Check batch related parameters" '
                    "or a value of 0)",
                    path=found.where,
                )
