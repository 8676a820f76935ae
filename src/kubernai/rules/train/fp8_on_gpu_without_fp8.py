"""TRN014 fp8-on-gpu-without-fp8."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.compute_capability import (
    gpu_range,
)
from kubernai.model.deepspeed_precision import (
    FP8,
)
from kubernai.model.features import ACCELERATOR
from kubernai.model.gpu import requests_nvidia_gpu
from kubernai.model.graph import ObjectGraph
from kubernai.model.precision_settings import (
    precision_settings,
)
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class Fp8OnGpuWithoutFp8(Rule):
    """Accelerate is asked for fp8 on GPUs without FP8 tensor cores.

    ## Mechanism
    FP8 matrix units exist from compute capability 8.9 on: Ada (L4, L40S),
    Hopper (H100, H200) and Blackwell. A100 and A10G (8.0 and 8.6), and
    every older GPU, have none. With `accelerate launch --mixed_precision
    fp8` (or `ACCELERATE_MIXED_PRECISION=fp8`) Accelerate first requires
    Transformer Engine, MS-AMP or torchao to be installed, then compares the
    first GPU's compute capability with 8.9. Below it, it does not stop: it
    logs `The current device has compute capability of (8, 0) which is
    insufficient for FP8 mixed precision training (requires a GPU
    Hopper/Ada Lovelace or higher, compute capability of 8.9 or higher).
    Will use FP16 instead.` and trains in fp16 with loss scaling, which has
    neither the speed that was planned for nor bf16's range, even on
    GPUs that run bf16.

    ## Example
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: pretrain
    spec:
      template:
        spec:
          restartPolicy: Never
          nodeSelector:
            nvidia.com/gpu.product: NVIDIA-A100-SXM4-80GB
          containers:
            - name: train
              image: ghcr.io/acme/pretrain:1.0
              command:
                - accelerate
                - launch
                - --mixed_precision=fp8
                - --num_processes=8
                - train.py
              resources:
                limits: {nvidia.com/gpu: 8}
    ```

    ## Use instead
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: pretrain
    spec:
      template:
        spec:
          restartPolicy: Never
          nodeSelector:
            nvidia.com/gpu.product: NVIDIA-A100-SXM4-80GB
          containers:
            - name: train
              image: ghcr.io/acme/pretrain:1.0
              command:
                - accelerate
                - launch
                - --mixed_precision=bf16
                - --num_processes=8
                - train.py
              resources:
                limits: {nvidia.com/gpu: 8}
    ```

    ## References
    - accelerate/state.py (`AcceleratorState.__init__`: "... insufficient for
      FP8 mixed precision training ... Will use FP16 instead.")
    - accelerate/utils/environment.py (`check_cuda_fp8_capability`:
      `compute_capability >= (8, 9)`)
    - https://huggingface.co/docs/accelerate/usage_guides/low_precision_training
    - https://developer.nvidia.com/cuda-gpus (compute capabilities)
    """

    code = "TRN014"
    name = "fp8-on-gpu-without-fp8"
    severity = Severity.WARNING
    mechanism = "mixed-precision-bf16-vs-fp16"
    workloads_only = True
    requires = frozenset({ACCELERATOR})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            if not requests_nvidia_gpu(template):
                continue
            settings = precision_settings(resource, template, graph)
            wanted = [s for s in settings if s.dtype == FP8]
            if not wanted:
                continue
            gpus = gpu_range(resource, template, graph.facts)
            if gpus is None or gpus.fp8 is not False:
                continue
            setting = wanted[0]
            yield self.finding(
                resource,
                f"{setting.text} asks for fp8, but {gpus.describe()} has no FP8 "
                "tensor cores (FP8 needs compute capability 8.9): Accelerate warns "
                "and trains in fp16 instead",
                path=setting.path,
            )
