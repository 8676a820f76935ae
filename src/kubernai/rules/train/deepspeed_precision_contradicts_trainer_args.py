"""TRN016 deepspeed-precision-contradicts-trainer-args."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from kubernai.model.deepspeed_precision import (
    AUTO,
)
from kubernai.model.features import LAUNCHER
from kubernai.model.graph import ObjectGraph
from kubernai.model.precision_settings import (
    TrainerFlag,
    trainer_deepspeed_launches,
    trainer_flags,
)
from kubernai.model.resource import Path, Resource, get_map
from kubernai.rules.base import Finding, Rule, Severity

_CHECKS = (
    ("fp16", "--fp16", "--fp16-full-eval", "fp16|fp16_full_eval+fp16_backend(amp)"),
    ("bf16", "--bf16", "--bf16-full-eval", "bf16|bf16_full_eval"),
)
"""DeepSpeed section, the Trainer's flags and the name its message gives them
(``HfTrainerDeepSpeedConfig.trainer_config_process``)."""
_BACKENDS = ("--half_precision_backend", "--fp16_backend")


def _trainer_value(
    flags: Mapping[str, TrainerFlag], main: str, full_eval: str
) -> TrainerFlag | None:
    """The flag that decides ``args.X or args.X_full_eval``; ``None`` if unwritten.

    A flag that is not written keeps a default that subclasses of
    ``TrainingArguments`` may change (TRL's configs turn bf16 on), so only
    written values count; ``--X false`` counts as false when ``--X_full_eval``
    is not written true (its default is false).
    """
    first, second = flags.get(main), flags.get(full_eval)
    for flag in (first, second):
        if flag is not None and flag.value:
            return flag
    return first


class DeepspeedPrecisionContradictsTrainerArgs(Rule):
    """DeepSpeed's fp16/bf16 switch disagrees with the Trainer's `--fp16`/`--bf16`.

    ## Mechanism
    With `--deepspeed ds_config.json` the Hugging Face Trainer reconciles the
    DeepSpeed config with its own arguments before the engine starts. For
    precision it sets `fp16.enabled` from `--fp16` or `--fp16_full_eval` and
    `bf16.enabled` from `--bf16` or `--bf16_full_eval`: a value written as
    `"auto"` takes the argument's value, and any other value must equal it
    (compared as Python values, so `"true"` in quotes is not `true`). A
    difference stops training before the first step: `ValueError: Please
    correct the following DeepSpeed config values that mismatch
    TrainingArguments values: - ds bf16.enabled=True vs hf
    bf16|bf16_full_eval=False The easiest method is to set these DeepSpeed
    config values to 'auto'.` Only flags written on the command line are
    compared, because subclasses of `TrainingArguments` change the defaults
    (TRL's configs enable bf16 unless fp16 is set).

    ## Example
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: ds-config
    data:
      ds.json: |
        {"train_micro_batch_size_per_gpu": "auto",
         "fp16": {"enabled": true},
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
                - --bf16
                - --fp16=false
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
         "fp16": {"enabled": "auto"},
         "bf16": {"enabled": "auto"},
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
                - --bf16
                - --fp16=false
                - --deepspeed=/config/ds.json
              resources:
                limits: {nvidia.com/gpu: 8}
              volumeMounts: [{name: ds, mountPath: /config}]
          volumes:
            - name: ds
              configMap: {name: ds-config}
    ```

    ## References
    - `HfTrainerDeepSpeedConfig` (`fill_match`, `trainer_config_process`,
      `trainer_config_finalize`):
      https://github.com/huggingface/transformers/blob/main/src/transformers/integrations/deepspeed.py
    - https://huggingface.co/docs/transformers/deepspeed
    """

    code = "TRN016"
    name = "deepspeed-precision-contradicts-trainer-args"
    severity = Severity.ERROR
    mechanism = "mixed-precision-bf16-vs-fp16"
    workloads_only = True
    requires = frozenset({LAUNCHER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for found in trainer_deepspeed_launches(resource, graph):
            launch = found.launch
            flags = trainer_flags(launch.container)
            apex = any(
                (launch.script_option(name)[0] or "") == "apex" for name in _BACKENDS
            )
            lines: list[str] = []
            paths: list[Path] = []
            for section, main, full_eval, hf_name in _CHECKS:
                if section == "fp16" and apex:
                    continue  # with apex the Trainer wants fp16.enabled false
                data = found.config.data
                if not isinstance(data.get(section), Mapping):
                    continue
                ds_value = get_map(data, section).get("enabled")
                if ds_value is None or ds_value == AUTO:
                    continue
                flag = _trainer_value(flags, main, full_eval)
                if flag is None or ds_value == flag.value:
                    continue
                lines.append(
                    f"ds {section}.enabled={ds_value} vs hf {hf_name}={flag.value} "
                    f"(from {flag.written})"
                )
                paths.append(flag.path)
            if lines:
                yield self.finding(
                    resource,
                    f"{found.source} disagrees with the Trainer's precision flags "
                    f"({'; '.join(lines)}): the Hugging Face Trainer stops with "
                    '"Please correct the following DeepSpeed config values that '
                    'mismatch TrainingArguments values"',
                    path=paths[0],
                )
