"""TRN064 training-without-dev-shm."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.distributed_env import env_settings
from kubernai.model.features import LAUNCHER
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Path, Resource
from kubernai.model.server_parallelism import device_limit, shm_provided
from kubernai.model.training import ACCELERATE, DEEPSPEED, TORCHRUN, Launch, launches
from kubernai.model.workload import PodTemplate
from kubernai.model.world_size import launch_world_size
from kubernai.rules.base import Finding, Rule, Severity

_NCCL_DEVICES = ("nvidia.com/gpu", "amd.com/gpu")  # NCCL and AMD's RCCL
_WORKER_OPTIONS = frozenset(
    {
        "--dataloader-num-workers",
        "--num-workers",
        "--workers",
        "--data-workers",
        "--dataloader-workers",
        "--num-data-workers",
    }
)
"""Script options that set the DataLoader's worker processes (HF Trainer and
the PyTorch examples' spellings)."""
_WORKER_KEYS = frozenset({"num_workers", "dataloader_num_workers"})
"""The last key of a Hydra / OmegaConf override (``data.num_workers=8``)."""
_NPROC = {
    TORCHRUN: "--nproc-per-node",
    DEEPSPEED: "--num-gpus",
    ACCELERATE: "--num-processes",
}


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def _workers(launch: Launch) -> tuple[int, str, Path] | None:
    """DataLoader workers the script's command line asks for, when above 0."""
    args = launch.script_args
    for index, token in enumerate(args):
        text = token.text
        name, equals, value = text.partition("=")
        if name.startswith("--"):
            option = "--" + name.lstrip("-").replace("_", "-")
            if option not in _WORKER_OPTIONS:
                continue
            if not equals:
                value = args[index + 1].text if index + 1 < len(args) else ""
            count = _int(value)
        elif equals and name.lstrip("+").rsplit(".", 1)[-1] in _WORKER_KEYS:
            count = _int(value)
        else:
            continue
        if count is not None and count > 0:
            how = f"{name} {count}" if name.startswith("--") else f"{name}={count}"
            return count, how, token.path
    return None


def _processes(
    resource: Resource, template: PodTemplate, launch: Launch, graph: ObjectGraph
) -> tuple[int, str, Path] | None:
    """Processes the launcher starts in one pod, when two or more GPUs are used."""
    devices = device_limit(launch.container)
    if devices is None or devices.resource not in _NCCL_DEVICES or devices.count < 2:
        return None  # one GPU: NCCL has no peer in the pod
    world = launch_world_size(resource, template, launch, graph)
    option = _NPROC.get(launch.kind, "")
    written = launch.paths.get(option)
    if world is not None and world.per_node is not None:
        count, how = world.per_node, world.how
    else:
        given = _int(launch.get(option)) if option else None
        if given is None:
            return None
        count, how = given, f"{option} {given}"
    if count < 2:
        return None
    return count, how, written if written is not None else devices.path


class TrainingWithoutDevShm(Rule):
    """A multi-GPU or DataLoader-worker training pod keeps the 64 MiB /dev/shm.

    ## Mechanism
    Kubernetes gives each pod the container runtime's own `/dev/shm`, a
    64 MiB tmpfs (containerd's and Docker's default); no pod field resizes
    it. Training uses it in two ways:

    - DataLoader workers (`num_workers > 0`) hand every batch to the training
      process through shared memory. When a batch does not fit, the worker
      dies with `ERROR: Unexpected bus error encountered in worker. This might
      be caused by insufficient shared memory (shm).` and the step fails with
      `RuntimeError: DataLoader worker (pid(s) ...) exited unexpectedly`.
    - NCCL creates shared-memory segments in `/dev/shm` to communicate between
      the processes of a pod, and uses them as the transport when GPUs cannot
      reach each other peer to peer (common on PCIe cloud instances). When
      they do not fit, NCCL fails to initialise: `NCCL WARN Error: failed to
      extend /dev/shm/nccl-03v824 to 4194660 bytes` or `Error while creating
      shared memory segment /dev/shm/nccl-...`.

    Whether a run fails depends on batch sizes and GPU topology, so it often
    shows up only on a new node type or a larger batch. Mount an `emptyDir`
    with `medium: Memory` (and a `sizeLimit`) at `/dev/shm`, as the PyTorch,
    Kubeflow and cloud training examples do; `hostIPC: true` shares the
    node's instead. `NCCL_SHM_DISABLE=1` avoids NCCL's use (slower), not the
    DataLoader's. kubernai reports a torchrun, `deepspeed` or `accelerate
    launch` container that runs two or more processes on NCCL GPUs, or whose
    script asks for DataLoader workers (`--dataloader_num_workers`,
    `--num_workers`, `--workers`, `data.num_workers=`), with nothing mounted
    at `/dev/shm`. Inference servers are rule SRV022.

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
              command: ["torchrun", "--nproc-per-node", "4", "train.py"]
              resources:
                limits:
                  nvidia.com/gpu: 4
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
              command: ["torchrun", "--nproc-per-node", "4", "train.py"]
              resources:
                limits:
                  nvidia.com/gpu: 4
              volumeMounts:
                - name: dshm
                  mountPath: /dev/shm
          volumes:
            - name: dshm
              emptyDir:
                medium: Memory
                sizeLimit: 16Gi
    ```

    ## References
    - pytorch/pytorch `torch/csrc/DataLoader.cpp` (the SIGBUS handler's
      message) and `README.md` ("PyTorch uses shared memory to share data
      between processes ... increase shared memory size either with
      `--ipc=host` or `--shm-size`")
    - https://github.com/pytorch/tutorials/pull/2475 (NCCL segfault in
      `ncclShmOpen` with the default shm size)
    - https://docs.nvidia.com/deeplearning/nccl/user-guide/docs/troubleshooting/runtime_and_mpi_issues.html
      ("Shared memory", "Docker")
    - containerd `pkg/cri` sandbox `defaultShmSize = int64(1024 * 1024 * 64)`
    - https://kubernetes.io/docs/concepts/storage/volumes/#emptydir
    """

    code = "TRN064"
    name = "training-without-dev-shm"
    severity = Severity.WARNING
    mechanism = "pytorch-ddp-vs-fsdp"
    workloads_only = True
    requires = frozenset({LAUNCHER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            if not template.complete:
                continue  # a training runtime or preset may add the volume
            for launch in launches(template):
                container = launch.container
                if shm_provided(template, container):
                    continue
                reasons: list[str] = []
                path: Path | None = None
                processes = _processes(resource, template, launch, graph)
                shm_off = env_settings(container).get("NCCL_SHM_DISABLE")
                if processes is not None and not (
                    shm_off is not None and shm_off.value.strip() == "1"
                ):
                    count, how, path = processes
                    reasons.append(f"{count} GPU processes ({how})")
                workers = _workers(launch)
                if workers is not None:
                    count, how, where = workers
                    reasons.append(f"{count} DataLoader workers ({how})")
                    path = path or where
                if not reasons or path is None:
                    continue
                yield self.finding(
                    resource,
                    f"{container.label} runs {' and '.join(reasons)} but mounts "
                    "nothing at /dev/shm and does not set hostIPC: the pod keeps "
                    "the runtime's 64 MiB /dev/shm",
                    path=path,
                )
