"""TRN013 bf16-on-gpu-without-bf16."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.compute_capability import (
    gpu_range,
)
from kubernai.model.deepspeed_precision import (
    BF16,
)
from kubernai.model.features import ACCELERATOR
from kubernai.model.gpu import requests_nvidia_gpu
from kubernai.model.graph import ObjectGraph
from kubernai.model.precision_settings import (
    precision_settings,
)
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class Bf16OnGpuWithoutBf16(Rule):
    """Training asks for bf16 on GPUs that have no bf16 support.

    ## Mechanism
    bf16 arithmetic needs compute capability 8.0 (Ampere) or newer. Volta
    (V100, 7.0), Turing (T4, 7.5) and older GPUs have no bf16 tensor cores.
    What happens depends on the versions in the image. Where the check sees
    the real compute capability (older PyTorch, Transformers releases that
    test `major < 8` themselves), training refuses to start: the Hugging Face
    Trainer with `ValueError: Your setup doesn't support bf16/gpu. You need
    torch>=1.10, using Ampere GPU with cuda>=11.0`, Accelerate with `bf16
    mixed precision requires PyTorch >= 1.10 and a supported device.`,
    DeepSpeed (0.16 and later) with `Type bf16 is not supported on your
    device.`, PyTorch's autocast with `Current CUDA Device does not support
    bfloat16. Please switch dtype to float16.` Newer PyTorch releases make
    `torch.cuda.is_bf16_supported()` answer True on these GPUs because a
    bf16 tensor can be created there, so the same checks pass and training
    runs emulated, far slower than fp16, until a kernel that requires Ampere
    (FlashAttention, for one) fails.

    The GPU is read from the pod's `nvidia.com/gpu.product`,
    `nvidia.com/gpu.family` or `nvidia.com/gpu.compute.major` (GPU Feature
    Discovery), `cloud.google.com/gke-accelerator` or Karpenter GPU-name node
    selector or required node affinity, else from `cluster.gpu_product` in
    `.kubernai.yaml`. bf16 is read from Hugging Face Trainer flags (`--bf16`,
    `--bf16_full_eval`), `accelerate launch --mixed_precision bf16` or
    `ACCELERATE_MIXED_PRECISION`, Lightning's `trainer.precision`, and a
    DeepSpeed config passed with `--deepspeed`/`--deepspeed_config` whose
    `bf16.enabled` is true.

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
            cloud.google.com/gke-accelerator: nvidia-tesla-t4
          containers:
            - name: train
              image: ghcr.io/acme/finetune:1.0
              command: [torchrun, --nproc-per-node=1, train.py, --bf16]
              resources:
                limits: {nvidia.com/gpu: 1}
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
            cloud.google.com/gke-accelerator: nvidia-tesla-t4
          containers:
            - name: train
              image: ghcr.io/acme/finetune:1.0
              command: [torchrun, --nproc-per-node=1, train.py, --fp16]
              resources:
                limits: {nvidia.com/gpu: 1}
    ```

    ## References
    - transformers/training_args.py (`Your setup doesn't support bf16/gpu`) and
      transformers/utils/import_utils.py (`is_torch_bf16_gpu_available`: older
      releases test `major < 8`, newer ones call `torch.cuda.is_bf16_supported`)
    - torch/cuda/__init__.py (`is_bf16_supported(including_emulation=True)`)
    - accelerate/accelerator.py ("bf16 mixed precision requires PyTorch >= 1.10
      and a supported device.")
    - deepspeed/runtime/engine.py (`_do_sanity_check`: "Type bf16 is not
      supported on your device.")
    - https://developer.nvidia.com/cuda-gpus (compute capabilities)
    """

    code = "TRN013"
    name = "bf16-on-gpu-without-bf16"
    severity = Severity.WARNING
    mechanism = "mixed-precision-bf16-vs-fp16"
    workloads_only = True
    requires = frozenset({ACCELERATOR})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            if not requests_nvidia_gpu(template):
                continue
            settings = precision_settings(resource, template, graph)
            wanted = [s for s in settings if s.dtype == BF16]
            if not wanted:
                continue
            gpus = gpu_range(resource, template, graph.facts)
            if gpus is None or gpus.bf16 is not False:
                continue
            setting = wanted[0]
            yield self.finding(
                resource,
                f"{setting.text} asks for bf16, but {gpus.describe()} has no bf16 "
                "units (bf16 needs compute capability 8.0): depending on the "
                "library versions the run stops at start-up or runs emulated, far "
                "slower than fp16",
                path=setting.path,
            )
