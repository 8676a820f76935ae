"""TRN015 trainer-fp16-and-bf16-enabled."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.precision_settings import (
    trainer_flags,
)
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity

_PAIRS = (
    ("--fp16", "--bf16", "At most one of fp16 and bf16 can be True, but not both"),
    (
        "--fp16-full-eval",
        "--bf16-full-eval",
        "At most one of fp16 and bf16 can be True for full eval, but not both",
    ),
)
"""The flag pairs ``TrainingArguments`` refuses together, and its message."""


class TrainerFp16AndBf16Enabled(Rule):
    """Training command line turns on both `--fp16` and `--bf16`.

    ## Mechanism
    Mixed precision computes in one 16-bit format. The Hugging Face
    `TrainingArguments` (and every script built on it, such as TRL or
    LLaMA-Factory) checks this while parsing its arguments and stops before
    loading the model with `ValueError: At most one of fp16 and bf16 can be
    True, but not both`; `--fp16_full_eval` with `--bf16_full_eval` gives
    `... can be True for full eval, but not both`. Megatron-LM asserts the
    same for its `--fp16` and `--bf16` switches. A flag counts as on when
    written alone or followed by a true word (`true`, `yes`, `1`...), as
    `HfArgumentParser` reads it.

    ## Example
    ```yaml
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
              image: ghcr.io/acme/sft:1.0
              command:
                - torchrun
                - --nproc-per-node=8
                - sft.py
                - --output_dir=/ckpt
                - --fp16
                - --bf16
              resources:
                limits: {nvidia.com/gpu: 8}
    ```

    ## Use instead
    ```yaml
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
              image: ghcr.io/acme/sft:1.0
              command:
                - torchrun
                - --nproc-per-node=8
                - sft.py
                - --output_dir=/ckpt
                - --bf16
              resources:
                limits: {nvidia.com/gpu: 8}
    ```

    ## References
    - transformers/training_args.py (`TrainingArguments` validation: "At most
      one of fp16 and bf16 can be True, but not both")
    - transformers/hf_argparser.py (`string_to_bool`, boolean fields as
      `nargs="?"` with `const=True`)
    - https://huggingface.co/docs/transformers/main_classes/trainer
    """

    code = "TRN015"
    name = "trainer-fp16-and-bf16-enabled"
    severity = Severity.ERROR
    mechanism = "mixed-precision-bf16-vs-fp16"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            for container in template.containers:
                if container.init:
                    continue
                flags = trainer_flags(container)
                for fp16, bf16, message in _PAIRS:
                    first, second = flags.get(fp16), flags.get(bf16)
                    if first is None or second is None:
                        continue
                    if not (first.value and second.value):
                        continue
                    yield self.finding(
                        resource,
                        f"{container.label} passes {first.written} and "
                        f'{second.written}: the Trainer stops with "{message}"',
                        path=second.path,
                    )
