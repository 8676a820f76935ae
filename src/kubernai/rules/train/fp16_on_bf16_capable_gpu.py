"""TRN019 fp16-on-bf16-capable-gpu."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.compute_capability import (
    gpu_range,
)
from kubernai.model.deepspeed_precision import (
    BF16,
    FP8,
    FP16,
)
from kubernai.model.features import ACCELERATOR
from kubernai.model.gpu import requests_nvidia_gpu
from kubernai.model.graph import ObjectGraph
from kubernai.model.precision_settings import (
    precision_settings,
    training_command,
)
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class Fp16OnBf16CapableGpu(Rule):
    """Training uses fp16 mixed precision on GPUs that run bf16.

    ## Mechanism
    fp16 keeps 10 mantissa bits but only 5 exponent bits: values above 65504
    overflow to infinity and gradients below about 6e-8 become zero. fp16
    training therefore needs loss scaling, and a dynamic scaler skips every
    step whose gradients overflow while it searches for a workable scale
    (DeepSpeed logs `OVERFLOW! ... Skipping step`, PyTorch's `GradScaler`
    skips silently); a run can still end with `Current loss scale already at
    minimum - cannot decrease scale anymore. Exiting run.` or NaN losses.
    bf16 has the same 16 bits but fp32's 8 exponent bits (largest value about
    3.4e38), needs no loss scale, and runs at the same speed on compute
    capability 8.0 and newer (A100, A10G, L4, H100...). On those GPUs fp16
    is a leftover from V100/T4 configurations unless the model was trained
    in fp16 and has to stay there. `--fp16` counts only in a training
    command (a launcher, or Trainer options such as `--output_dir`), since
    inference scripts use the same switch without loss scaling.

    ## Example
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: finetune
    spec:
      template:
        spec:
          restartPolicy: Never
          nodeSelector:
            cloud.google.com/gke-accelerator: nvidia-h100-80gb
          containers:
            - name: train
              image: ghcr.io/acme/finetune:1.0
              command: [torchrun, --nproc-per-node=8, train.py, --fp16]
              resources:
                limits: {nvidia.com/gpu: 8}
    ```

    ## Use instead
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: finetune
    spec:
      template:
        spec:
          restartPolicy: Never
          nodeSelector:
            cloud.google.com/gke-accelerator: nvidia-h100-80gb
          containers:
            - name: train
              image: ghcr.io/acme/finetune:1.0
              command: [torchrun, --nproc-per-node=8, train.py, --bf16]
              resources:
                limits: {nvidia.com/gpu: 8}
    ```

    ## References
    - https://huggingface.co/docs/transformers/perf_train_gpu_one#bf16
    - https://docs.pytorch.org/docs/stable/amp.html (GradScaler is for float16)
    - deepspeed/runtime/fp16/loss_scaler.py (overflow and minimum-scale
      messages)
    - https://developer.nvidia.com/cuda-gpus (compute capabilities)
    """

    code = "TRN019"
    name = "fp16-on-bf16-capable-gpu"
    severity = Severity.INFO
    mechanism = "mixed-precision-bf16-vs-fp16"
    workloads_only = True
    requires = frozenset({ACCELERATOR})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            if not requests_nvidia_gpu(template):
                continue
            settings = precision_settings(resource, template, graph)
            wanted = [
                s
                for s in settings
                if s.dtype == FP16
                and not s.eval_only
                and (s.origin != "trainer" or training_command(s.container))
            ]
            if not wanted or any(s.dtype in (BF16, FP8) for s in settings):
                continue
            gpus = gpu_range(resource, template, graph.facts)
            if gpus is None or not gpus.bf16:
                continue
            setting = wanted[0]
            yield self.finding(
                resource,
                f"{setting.text} trains in fp16 with loss scaling on "
                f"{gpus.describe()}, which runs bf16 natively; bf16 needs no loss "
                "scale",
                path=setting.path,
            )
