"""TRN025 deepspeed-batch-contradicts-trainer-args."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.calc.batch import deepspeed_batch
from kubernai.model.deepspeed_batch import (
    ACCUM,
    HF_OPTION,
    MICRO,
    TRAIN,
    BatchKeys,
    batch_int,
    batch_keys,
    deepspeed_launches,
)
from kubernai.model.features import LAUNCHER
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Path, Resource
from kubernai.model.training import Launch
from kubernai.model.world_size import WorldSize, launch_world_size
from kubernai.rules.base import Finding, Rule, Severity

PER_DEVICE = "--per_device_train_batch_size"
GRAD_ACCUM = "--gradient_accumulation_steps"
AUTO_FIND = "--auto_find_batch_size"
_FALSE = frozenset({"no", "false", "f", "n", "0"})
"""``transformers.hf_argparser.string_to_bool`` false values."""


def _argument(launch: Launch, option: str) -> tuple[int | None, Path | None]:
    value, where = launch.script_option(option)
    if value is None or where is None:
        return None, None
    try:
        return batch_int(int(value)), where
    except ValueError:
        return None, None


def _flag(launch: Launch, option: str) -> bool:
    value, where = launch.script_option(option)
    if where is None:
        return False
    return value is None or value.startswith("-") or value.lower() not in _FALSE


def _calculated_train(
    world: WorldSize | None, keys: BatchKeys, per_device: int
) -> int | None:
    """The Trainer's train_batch_size, when DeepSpeed alone would accept the keys."""
    if world is None or world.elastic or world.divisor != 1:
        return None
    processes = world.processes(world.nodes[0])
    if processes is None:
        return None
    if keys.readable:
        *_, message = deepspeed_batch(
            data_parallel_size=processes,
            train_batch_size=keys.train,
            micro_batch=keys.micro,
            grad_accum=keys.accum,
        )
        if message:
            return None  # deepspeed-batch-size-mismatch / -not-divisible say it
    return processes * per_device


class DeepspeedBatchContradictsTrainerArgs(Rule):
    """DeepSpeed batch keys disagree with the Hugging Face Trainer's arguments.

    ## Mechanism
    With `--deepspeed ds_config.json` the Hugging Face Trainer reconciles
    the DeepSpeed config with its own `TrainingArguments` before the engine
    starts: a key written as `"auto"` takes the argument's value, and a key
    written as a number must equal it. `train_micro_batch_size_per_gpu`
    must equal `--per_device_train_batch_size`,
    `gradient_accumulation_steps` must equal `--gradient_accumulation_steps`,
    and `train_batch_size` must equal world size x per-device batch x
    accumulation. Any difference stops the run before the first step:
    `ValueError: Please correct the following DeepSpeed config values that
    mismatch TrainingArguments values: - ds train_micro_batch_size_per_gpu=4
    vs hf per_device_train_batch_size=8 The easiest method is to set these
    DeepSpeed config values to 'auto'.` With `--auto_find_batch_size` the
    micro and train batch sizes are not compared. The check compares only
    arguments written on the command line (the Trainer's defaults can
    differ between its subclasses) and the train batch size only where the
    manifest fixes the world size.

    ## Example
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: ds-config
    data:
      ds.json: |
        {"train_micro_batch_size_per_gpu": 4,
         "gradient_accumulation_steps": "auto",
         "zero_optimization": {"stage": 2}}
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: sft
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: train
              image: ghcr.io/acme/sft:2.1
              command:
                - torchrun
                - --nproc-per-node=8
                - run_clm.py
                - --per_device_train_batch_size=8
                - --gradient_accumulation_steps=4
                - --deepspeed=/config/ds.json
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
        {"train_micro_batch_size_per_gpu": "auto",
         "gradient_accumulation_steps": "auto",
         "zero_optimization": {"stage": 2}}
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: sft
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: train
              image: ghcr.io/acme/sft:2.1
              command:
                - torchrun
                - --nproc-per-node=8
                - run_clm.py
                - --per_device_train_batch_size=8
                - --gradient_accumulation_steps=4
                - --deepspeed=/config/ds.json
              resources:
                limits: {nvidia.com/gpu: 8}
              volumeMounts: [{name: ds, mountPath: /config}]
          volumes:
            - name: ds
              configMap: {name: ds-config}
    ```

    ## References
    - `HfTrainerDeepSpeedConfig` (`fill_match`, `trainer_config_finalize`):
      https://github.com/huggingface/transformers/blob/main/src/transformers/integrations/deepspeed.py
    - https://huggingface.co/docs/transformers/deepspeed
    """

    code = "TRN025"
    name = "deepspeed-batch-contradicts-trainer-args"
    severity = Severity.ERROR
    mechanism = "gradient-accumulation-mechanics"
    workloads_only = True
    requires = frozenset({LAUNCHER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for found in deepspeed_launches(resource, graph):
            if found.option != HF_OPTION:
                continue
            launch = found.launch
            per_device, per_device_at = _argument(launch, PER_DEVICE)
            accum, accum_at = _argument(launch, GRAD_ACCUM)
            if per_device is None and accum is None:
                continue
            auto_find = _flag(launch, AUTO_FIND)
            keys = batch_keys(found.config.data)
            lines: list[str] = []
            paths: list[Path] = []
            if (
                not auto_find
                and keys.micro is not None
                and per_device is not None
                and per_device_at is not None
                and keys.micro != per_device
            ):
                lines.append(
                    f"ds {MICRO}={keys.micro} vs hf per_device_train_batch_size="
                    f"{per_device}"
                )
                paths.append(per_device_at)
            if (
                keys.accum is not None
                and accum is not None
                and accum_at is not None
                and keys.accum != accum
            ):
                lines.append(f"ds {ACCUM}={keys.accum} vs hf {ACCUM}={accum}")
                paths.append(accum_at)
            if not auto_find and keys.train is not None and per_device and accum:
                world = launch_world_size(resource, found.template, launch, graph)
                calculated = _calculated_train(world, keys, per_device)
                if calculated is not None and world is not None:
                    calculated *= accum
                    if calculated != keys.train:
                        lines.append(
                            f"ds {TRAIN}={keys.train} vs hf {TRAIN} (calculated)="
                            f"{calculated}, from a world size of {world.describe()}"
                        )
                        paths.append(found.where)
            if lines:
                yield self.finding(
                    resource,
                    f"{found.source} disagrees with the Trainer's arguments "
                    f"({'; '.join(lines)}): the Hugging Face Trainer stops with "
                    '"Please correct the following DeepSpeed config values that '
                    'mismatch TrainingArguments values"',
                    path=paths[0],
                )
