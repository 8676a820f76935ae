"""TRN018 deepspeed-fp16-on-pre-volta-gpu."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.compute_capability import (
    gpu_range,
)
from kubernai.model.features import ACCELERATOR, LAUNCHER
from kubernai.model.gpu import requests_nvidia_gpu
from kubernai.model.graph import ObjectGraph
from kubernai.model.precision_settings import (
    deepspeed_fp16_launches,
)
from kubernai.model.resource import Resource, get_str, iter_maps
from kubernai.rules.base import Finding, Rule, Severity

_ALLOW = "DS_ALLOW_DEPRECATED_FP16"
_VOLTA = (7, 0)
_PASCAL = (6, 0)


class DeepspeedFp16OnPreVoltaGpu(Rule):
    """DeepSpeed fp16 training on GPUs older than Volta.

    ## Mechanism
    DeepSpeed 0.13 and later check the GPU before training: the CUDA
    accelerator's `is_fp16_supported()` is true only from compute capability
    7.0 (Volta) on, so an engine with `fp16.enabled` on a Pascal (P100, P4,
    P40: 6.x), Maxwell or Kepler GPU stops on every rank with `ValueError:
    Type fp16 is not supported on your device.` (`Type fp16 is not
    supported.` before 0.16). From 0.13.2, compute capability 6.x is let
    through when the environment sets `DS_ALLOW_DEPRECATED_FP16=1`; older
    GPUs are refused whatever the environment. None of these GPUs has bf16
    either, so the choice is fp32, that variable, or newer GPUs.

    ## Example
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: ds-config
    data:
      ds.json: |
        {"train_micro_batch_size_per_gpu": 8,
         "fp16": {"enabled": true},
         "zero_optimization": {"stage": 1}}
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: bert
    spec:
      template:
        spec:
          restartPolicy: Never
          nodeSelector:
            cloud.google.com/gke-accelerator: nvidia-tesla-p100
          containers:
            - name: train
              image: ghcr.io/acme/bert:1.0
              command: [deepspeed, train.py, --deepspeed_config, /config/ds.json]
              resources:
                limits: {nvidia.com/gpu: 4}
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
        {"train_micro_batch_size_per_gpu": 8,
         "fp16": {"enabled": true},
         "zero_optimization": {"stage": 1}}
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: bert
    spec:
      template:
        spec:
          restartPolicy: Never
          nodeSelector:
            cloud.google.com/gke-accelerator: nvidia-tesla-p100
          containers:
            - name: train
              image: ghcr.io/acme/bert:1.0
              command: [deepspeed, train.py, --deepspeed_config, /config/ds.json]
              env:
                - {name: DS_ALLOW_DEPRECATED_FP16, value: "1"}
              resources:
                limits: {nvidia.com/gpu: 4}
              volumeMounts: [{name: ds, mountPath: /config}]
          volumes:
            - name: ds
              configMap: {name: ds-config}
    ```

    ## References
    - deepspeed/runtime/engine.py (`_do_sanity_check`: "Type fp16 is not
      supported on your device.")
    - accelerator/cuda_accelerator.py (`is_fp16_supported`: major >= 7, or
      major 6 with `DS_ALLOW_DEPRECATED_FP16=1`)
    - https://github.com/deepspeedai/DeepSpeed/pull/5037
    - https://developer.nvidia.com/cuda-gpus (compute capabilities)
    """

    code = "TRN018"
    name = "deepspeed-fp16-on-pre-volta-gpu"
    severity = Severity.ERROR
    mechanism = "mixed-precision-bf16-vs-fp16"
    workloads_only = True
    requires = frozenset({ACCELERATOR, LAUNCHER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for found, reason in deepspeed_fp16_launches(resource, graph):
            template = found.template
            if not requests_nvidia_gpu(template):
                continue
            gpus = gpu_range(resource, template, graph.facts)
            if gpus is None or gpus.high >= _VOLTA:
                continue
            allowed = any(
                get_str(item, "name") == _ALLOW and item.get("value") == "1"
                for _, item in iter_maps(found.launch.container.raw, "env")
            )
            if allowed and gpus.low >= _PASCAL:
                continue
            hint = (
                f" ({_ALLOW}=1 lets DeepSpeed 0.13.2 and later run fp16 on "
                "compute capability 6.x)"
                if gpus.low >= _PASCAL
                else ""
            )
            yield self.finding(
                resource,
                f"{found.source} turns fp16 on ({reason}), but {gpus.describe()} "
                "is older than Volta (compute capability 7.0): DeepSpeed stops "
                f'with "Type fp16 is not supported on your device."{hint}',
                path=found.where,
            )
