"""TRN063 deprecated-torch-nccl-env-name."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.distributed_env import (
    deprecation_warning,
    env_settings,
    renamed_variables,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.workload import env_names
from kubernai.rules.base import Finding, Rule, Severity


class DeprecatedTorchNcclEnvName(Rule):
    """A container sets PyTorch's NCCL variables under their pre-2.2 names.

    ## Mechanism
    A few `NCCL_*` variables are not NCCL's at all: only PyTorch's
    `ProcessGroupNCCL` reads them. PyTorch 2.2 (pytorch/pytorch#114077)
    renamed them to `TORCH_NCCL_ASYNC_ERROR_HANDLING`,
    `TORCH_NCCL_BLOCKING_WAIT`, `TORCH_NCCL_DESYNC_DEBUG`,
    `TORCH_NCCL_ENABLE_TIMING` and
    `TORCH_NCCL_USE_TENSOR_REGISTER_ALLOCATOR_HOOK`. The old names still work,
    but every rank logs `Warning: Environment variable
    NCCL_ASYNC_ERROR_HANDLING is deprecated; use
    TORCH_NCCL_ASYNC_ERROR_HANDLING instead`, and when both names are set the
    new one wins, so an old-name setting next to a different new-name value
    (from an image default or a launcher) silently does nothing. The aliases
    are kept for compatibility only and may be dropped.

    Set the `TORCH_NCCL_*` name. An image that still runs PyTorch older than
    2.2 reads only the old name; setting both to the same value serves both,
    and is not reported.

    ## Example
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: train
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: train
              image: ghcr.io/acme/train:1
              command: ["torchrun", "--nproc-per-node", "8", "train.py"]
              env:
                - name: NCCL_ASYNC_ERROR_HANDLING
                  value: "1"
              resources:
                limits:
                  nvidia.com/gpu: 8
    ```

    ## Use instead
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: train
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: train
              image: ghcr.io/acme/train:1
              command: ["torchrun", "--nproc-per-node", "8", "train.py"]
              env:
                - name: TORCH_NCCL_ASYNC_ERROR_HANDLING
                  value: "1"
              resources:
                limits:
                  nvidia.com/gpu: 8
    ```

    ## References
    - https://github.com/pytorch/pytorch/pull/114077
    - torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp (each variable declared
      as `{"TORCH_NCCL_X", "NCCL_X"}`)
    - torch/csrc/distributed/c10d/Utils.hpp (`getCvarString`, `getCvarInt`,
      `getCvarBool`: the deprecation warning; the first name wins)
    - https://docs.pytorch.org/docs/stable/torch_nccl_environment_variables.html
    """

    code = "TRN063"
    name = "deprecated-torch-nccl-env-name"
    severity = Severity.INFO
    mechanism = "pytorch-ddp-vs-fsdp"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        renames = renamed_variables()
        for template in resource.templates:
            for container in template.containers:
                if container.init:
                    continue
                settings = env_settings(container)
                if settings.keys().isdisjoint(renames):
                    continue  # no legacy name set
                names = env_names(container)
                for legacy, current in renames.items():
                    old = settings.get(legacy)
                    if old is None:
                        continue
                    new = settings.get(current)
                    if new is None and current in names:
                        continue  # set from a Secret or ConfigMap: value unknown
                    if new is not None and new.value.strip() == old.value.strip():
                        continue  # both names, same value: old and new PyTorch
                    if new is not None:
                        detail = (
                            f"; {current}={new.value} is also set and wins, so "
                            f"{legacy}={old.value} has no effect"
                        )
                    else:
                        detail = f": PyTorch 2.2+ logs {deprecation_warning(legacy)!r}"
                    yield self.finding(
                        resource,
                        f"{container.label} sets {legacy}={old.value}, the name "
                        f"PyTorch renamed to {current}{detail}",
                        path=old.path,
                    )
