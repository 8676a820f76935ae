"""TRN062 nccl-debug-left-on."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.distributed_env import env_settings, training_containers
from kubernai.model.features import DISTRIBUTED_TRAINING
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity

_VERBOSE = frozenset({"INFO", "TRACE"})


class NcclDebugLeftOn(Rule):
    """A training container runs with NCCL_DEBUG=INFO or TRACE.

    ## Mechanism
    `NCCL_DEBUG` sets how much the NCCL library logs: `VERSION`, `WARN`,
    `INFO` or `TRACE`. NVIDIA's logging guide lists `WARN` (warnings and
    errors) as the production minimum and `INFO` as the level to diagnose
    runtime issues. At `INFO` every rank prints, for every communicator it
    creates, its topology detection, channels, rings and trees and the
    transport chosen for each peer; FSDP, pipeline and tensor parallelism
    create many communicators, so a job on many GPUs can write thousands of
    lines at every start and restart into the cluster's log pipeline, where the one
    `NCCL WARN` line that matters is hard to find. `TRACE` (in builds made
    with tracing) adds a line per call. `NCCL_DEBUG_SUBSYS` widens or narrows
    what `INFO` prints.

    It is a debugging setting copied from examples into long-running jobs.
    Set it while investigating a hang or a slow collective, and leave `WARN`
    (or nothing) otherwise; `NCCL_DEBUG_FILE` sends the output to a file
    instead of the log. Benchmarks (`all_reduce_perf` and the other
    nccl-tests) are not reported.

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: fsdp
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 2
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/train:1
                  command: ["torchrun", "train.py"]
                  env:
                    - name: NCCL_DEBUG
                      value: INFO
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
          replicas: 2
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/train:1
                  command: ["torchrun", "train.py"]
                  env:
                    - name: NCCL_DEBUG
                      value: WARN
                  resources:
                    limits:
                      nvidia.com/gpu: 8
    ```

    ## References
    - https://docs.nvidia.com/deeplearning/nccl/user-guide/docs/troubleshooting/logging.html
      (levels; "WARN ... Production minimum", "INFO ... Diagnose runtime issues")
    - https://docs.nvidia.com/deeplearning/nccl/user-guide/docs/env.html#nccl-debug
    - https://github.com/NVIDIA/nccl/issues/197 (TRACE needs a build with TRACE=1)
    """

    code = "TRN062"
    name = "nccl-debug-left-on"
    severity = Severity.INFO
    mechanism = "pytorch-ddp-vs-fsdp"
    workloads_only = True
    requires = frozenset({DISTRIBUTED_TRAINING})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for _, container in training_containers(resource):
            settings = env_settings(container)
            debug = settings.get("NCCL_DEBUG")
            if debug is None or debug.value.strip().upper() not in _VERBOSE:
                continue
            if "NCCL_DEBUG_FILE" in settings:
                continue  # written to files, not to the container log
            subsys = settings.get("NCCL_DEBUG_SUBSYS")
            extra = f" with NCCL_DEBUG_SUBSYS={subsys.value}" if subsys else ""
            where = " on its command line" if debug.on_command_line else ""
            yield self.finding(
                resource,
                f"{container.label} sets NCCL_DEBUG={debug.value.strip()}{extra}"
                f"{where}: every rank logs NCCL's setup of each communicator; "
                "WARN is the production level",
                path=debug.path,
            )
