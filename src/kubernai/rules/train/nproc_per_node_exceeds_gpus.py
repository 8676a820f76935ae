"""TRN073 nproc-per-node-exceeds-gpus."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.pytorchjob import (
    REPLICA_TYPES,
    accelerator_count,
    is_pytorchjob,
    is_trainjob,
    nproc_per_node,
    pytorch_container,
    runtime_node_container,
    trainjob_policy,
)
from kubernai.model.quantity import parse_count
from kubernai.model.resource import Path, Resource, get_path
from kubernai.model.training import TORCHRUN, parse_launch
from kubernai.model.workload import Container
from kubernai.rules.base import Finding, Rule, Severity


class NprocPerNodeExceedsGpus(Rule):
    """PyTorchJob or TrainJob starts more torchrun processes per pod than it has GPUs.

    ## Mechanism
    The training operator passes `spec.nprocPerNode` (or the deprecated
    `spec.elasticPolicy.nProcPerNode`) to every container as
    `PET_NPROC_PER_NODE`; Kubeflow Trainer passes a TrainJob's
    `spec.trainer.numProcPerNode` the same way. torchrun reads it as its
    `--nproc-per-node` default and starts that many worker processes in
    each pod, giving them `LOCAL_RANK` 0..n-1. The usual training loop
    binds each process to `cuda:LOCAL_RANK`, so with more processes than
    GPUs the surplus ranks fail with `CUDA error: invalid device ordinal`
    (or several ranks share one GPU, run out of memory, and NCCL refuses
    two ranks on the same device: `Duplicate GPU detected`). The value
    `auto` or `gpu` counts the GPUs the container sees and cannot exceed
    them; `cpu` starts one process per CPU of the node (`os.cpu_count()`,
    not the container's CPU limit), which on a GPU pod is always too many.
    A `--nproc-per-node` written on the torchrun command line wins over
    the variable and is not judged here.

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: esm2-pretrain
    spec:
      nprocPerNode: "4"
      pytorchReplicaSpecs:
        Worker:
          replicas: 8
          template:
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/clara/bionemo-framework:1.7
                  command: ["python3", "-m", "torch.distributed.run", "pretrain.py"]
                  resources:
                    limits:
                      nvidia.com/gpu: 1
    ```

    ## Use instead
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: esm2-pretrain
    spec:
      nprocPerNode: "4"
      pytorchReplicaSpecs:
        Worker:
          replicas: 8
          template:
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/clara/bionemo-framework:1.7
                  command: ["python3", "-m", "torch.distributed.run", "pretrain.py"]
                  resources:
                    limits:
                      nvidia.com/gpu: 4
    ```

    ## References
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/controller.v1/pytorch/envvar.go
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/apis/kubeflow.org/v1/pytorch_types.go
    - https://github.com/kubeflow/trainer/blob/v2.3.0/pkg/runtime/framework/plugins/torch/torch.go
    - https://github.com/pytorch/pytorch/blob/main/torch/distributed/run.py
      (`determine_local_world_size`)
    - https://docs.pytorch.org/docs/stable/elastic/run.html
    """

    code = "TRN073"
    name = "nproc-per-node-exceeds-gpus"
    severity = Severity.ERROR
    mechanism = "training-operator-pytorchjob"
    kinds = frozenset({"PyTorchJob", "TrainJob"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if is_pytorchjob(resource):
            yield from self._pytorchjob(resource)
        elif is_trainjob(resource):
            yield from self._trainjob(resource, graph)

    def _pytorchjob(self, resource: Resource) -> Iterator[Finding]:
        nproc = nproc_per_node(resource)
        if nproc is None or not nproc.path:
            return  # unreadable, or the default "auto"
        count = nproc.count
        if count is None and nproc.text != "cpu":
            return  # auto / gpu count the visible GPUs
        short: list[str] = []
        for template in resource.templates:
            if template.role not in REPLICA_TYPES:
                continue
            container = pytorch_container(template)
            if container is None or not _reads_pet_nproc(container):
                continue
            gpus = accelerator_count(container)
            if gpus is None or gpus[0] == 0:
                continue
            if count is None or count > gpus[0]:
                short.append(f"{template.role} has {gpus[1]}={gpus[0]}")
        if not short:
            return
        pods = " and ".join(short)
        yield self.finding(
            resource,
            f"{nproc.field} is {nproc.text!r}, but {pods} in container 'pytorch': "
            f"torchrun (PET_NPROC_PER_NODE) starts {_processes(nproc.text)} "
            "per pod, more than its GPUs",
            path=nproc.path,
        )

    def _trainjob(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        value = get_path(resource.raw, "spec", "trainer", "numProcPerNode")
        count = parse_count(value)
        if count is None:
            return
        known = trainjob_policy(resource, graph)
        if known is None or known[0] != "torch":
            return
        runtime = known[1]
        node = runtime_node_container(runtime) if runtime is not None else None
        trainer = resource.templates[0].containers[0] if resource.templates else None
        gpus = accelerator_count(trainer) if trainer is not None else None
        gpu_path: Path | None = gpus[2] if gpus is not None else None
        if gpus is None and node is not None:
            gpus = accelerator_count(node)
        if gpus is None or gpus[0] == 0 or count <= gpus[0]:
            return
        command = trainer if trainer and "command" in trainer.raw else node
        if command is None or not _reads_pet_nproc(command):
            return
        where = (
            "spec.trainer.resourcesPerNode"
            if gpu_path or runtime is None
            else f"the node container of {runtime.kind} {runtime.name!r}"
        )
        yield self.finding(
            resource,
            f"spec.trainer.numProcPerNode is {count}, but {where} gives "
            f"{gpus[1]}={gpus[0]}: torchrun (PET_NPROC_PER_NODE) starts {count} "
            "processes per node, more than its GPUs",
            path=("spec", "trainer", "numProcPerNode"),
        )


def _reads_pet_nproc(container: Container) -> bool:
    """Whether it runs torchrun without ``--nproc-per-node`` on the command line."""
    launch = parse_launch(container)
    return (
        launch is not None
        and launch.kind == TORCHRUN
        and "--nproc-per-node" not in launch.options
    )


def _processes(text: str) -> str:
    if text == "cpu":
        return "one process per CPU of the node (os.cpu_count())"
    return f"{text} processes"
