"""TRN065 torch-distributed-debug-detail-left-on."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.distributed_env import env_settings, training_containers
from kubernai.model.features import DISTRIBUTED_TRAINING
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class TorchDistributedDebugDetailLeftOn(Rule):
    """A training container runs with TORCH_DISTRIBUTED_DEBUG=DETAIL.

    ## Mechanism
    `TORCH_DISTRIBUTED_DEBUG` (`OFF` by default, `INFO` or `DETAIL`, read
    case-insensitively by `c10d/debug.cpp`) turns on `torch.distributed`'s
    debugging aids. At `DETAIL`, every process group returned by
    `init_process_group` and `new_group` is wrapped in a checking group that,
    before each collective, runs a `monitored_barrier` over a Gloo group on
    the CPU and compares the collective's type and tensor shapes across all
    ranks; DDP also logs runtime statistics. That turns every all-reduce,
    all-gather and reduce-scatter into a host-side synchronisation of all the
    ranks first, which is what makes a desync easy to find and a healthy job
    slow. PyTorch's documentation: "the most verbose option, DETAIL may
    impact the application performance and thus should only be used when
    debugging issues".

    Leave it unset (or `INFO`, which only adds logging at DDP construction
    and on errors) outside a debugging session.

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: fsdp
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 4
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/train:1
                  command: ["torchrun", "train.py"]
                  env:
                    - name: TORCH_DISTRIBUTED_DEBUG
                      value: DETAIL
                  resources:
                    limits:
                      nvidia.com/gpu: 8
    ```

    ## Use instead
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: fsdp
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 4
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/train:1
                  command: ["torchrun", "train.py"]
                  env:
                    - name: TORCH_DISTRIBUTED_DEBUG
                      value: "OFF"
                  resources:
                    limits:
                      nvidia.com/gpu: 8
    ```

    ## References
    - https://docs.pytorch.org/docs/stable/distributed.html#torch-distributed-debug
      (pytorch/pytorch `docs/source/distributed.rst`, "Debugging torch.distributed
      applications")
    - torch/csrc/distributed/c10d/debug.cpp (`loadDebugLevelFromEnvironment`)
    - torch/distributed/distributed_c10d.py (`_create_process_group_wrapper`)
    """

    code = "TRN065"
    name = "torch-distributed-debug-detail-left-on"
    severity = Severity.WARNING
    mechanism = "pytorch-ddp-vs-fsdp"
    workloads_only = True
    requires = frozenset({DISTRIBUTED_TRAINING})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for _, container in training_containers(resource):
            setting = env_settings(container).get("TORCH_DISTRIBUTED_DEBUG")
            if setting is None or setting.value.strip().upper() != "DETAIL":
                continue
            where = " on its command line" if setting.on_command_line else ""
            yield self.finding(
                resource,
                f"{container.label} sets TORCH_DISTRIBUTED_DEBUG="
                f"{setting.value.strip()}{where}: every collective is preceded "
                "by a cross-rank monitored_barrier and shape check",
                path=setting.path,
            )
