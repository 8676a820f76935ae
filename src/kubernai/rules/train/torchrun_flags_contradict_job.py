"""TRN075 torchrun-flags-contradict-job."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.pytorchjob import (
    MASTER,
    REPLICA_TYPES,
    find_runtime,
    is_elastic,
    is_pytorchjob,
    is_trainjob,
    replica_spec,
    runtime_ref,
    total_replicas,
)
from kubernai.model.quantity import parse_count
from kubernai.model.resource import Resource, get_path
from kubernai.model.training import TORCHRUN, Launch, parse_launch, parse_nnodes
from kubernai.model.workload import Container
from kubernai.rules.base import Finding, Rule, Severity


class TorchrunFlagsContradictJob(Rule):
    """torchrun `--nnodes` or `--node-rank` on the command line contradicts the job.

    ## Mechanism
    The operators tell torchrun how many nodes take part and which one each
    pod is through environment variables: the training operator sets
    `PET_NNODES` to the number of pods of a PyTorchJob (or the elastic
    policy's `min:max`) and `PET_NODE_RANK` to each pod's index (Master 0,
    Worker i is i+1); Kubeflow Trainer sets `PET_NNODES` to a TrainJob's
    `numNodes` and `PET_NODE_RANK` to the Job completion index. An option
    written on the torchrun command line takes precedence over its
    variable. A `--nnodes` that asks for more nodes than the job creates
    leaves the rendezvous waiting for nodes that never come until it fails
    at its timeout, holding every GPU meanwhile; one that accepts fewer
    leaves the extra pods out (the static rendezvous hands them ranks
    beyond the world size). A fixed `--node-rank` in a template that makes
    several pods gives them all the same rank, so the static rendezvous
    (the default without an elastic policy) cannot complete; the dynamic
    backends assign ranks themselves and ignore it. Commands copied from a
    single-node or differently sized job keep these flags. Leave them out
    and let the operator's variables set them.

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: imagenet
    spec:
      elasticPolicy:
        rdzvBackend: c10d
        minReplicas: 1
        maxReplicas: 4
      pytorchReplicaSpecs:
        Worker:
          replicas: 2
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/imagenet:1.0
                  command: ["torchrun", "--nproc-per-node=1", "--nnodes=3", "main.py"]
                  resources:
                    limits:
                      nvidia.com/gpu: 1
    ```

    ## Use instead
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: imagenet
    spec:
      elasticPolicy:
        rdzvBackend: c10d
        minReplicas: 1
        maxReplicas: 4
      pytorchReplicaSpecs:
        Worker:
          replicas: 2
          template:
            spec:
              containers:
                - name: pytorch
                  image: ghcr.io/acme/imagenet:1.0
                  command: ["torchrun", "--nproc-per-node=1", "main.py"]
                  resources:
                    limits:
                      nvidia.com/gpu: 1
    ```

    ## References
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/controller.v1/pytorch/envvar.go
    - https://github.com/kubeflow/training-operator/blob/release-1.9/pkg/controller.v1/pytorch/elastic.go
    - https://github.com/kubeflow/trainer/blob/v2.3.0/pkg/runtime/framework/plugins/torch/torch.go
    - https://github.com/pytorch/pytorch/blob/main/torch/distributed/argparse_util.py
      (`env` action: `PET_*` defaults)
    - https://github.com/pytorch/pytorch/blob/main/torch/distributed/run.py
      (only the static rendezvous reads `--node-rank`)
    """

    code = "TRN075"
    name = "torchrun-flags-contradict-job"
    severity = Severity.ERROR
    mechanism = "training-operator-pytorchjob"
    kinds = frozenset({"PyTorchJob", "TrainJob"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if is_pytorchjob(resource):
            yield from self._pytorchjob(resource)
        elif is_trainjob(resource):
            yield from self._trainjob(resource, graph)

    def _pytorchjob(self, resource: Resource) -> Iterator[Finding]:
        pods = total_replicas(resource)
        if not pods:
            return
        has_master = replica_spec(resource, MASTER) is not None
        for template in resource.templates:
            if template.role not in REPLICA_TYPES:
                continue
            for container in template.containers:
                launch = None if container.init else parse_launch(container)
                if launch is None or launch.kind != TORCHRUN:
                    continue
                yield from self._nnodes(resource, launch, pods, "the job runs", "pod")
                if not _static(launch, is_elastic(resource)):
                    continue
                count = template.replicas
                if count is None:
                    continue
                first = 0 if template.role == MASTER or not has_master else 1
                ranks = (
                    str(first)
                    if count == 1
                    else f"{first}..{first + count - 1}, one per pod"
                )
                yield from self._node_rank(
                    resource, launch, count, first, f"{template.role} pods get {ranks}"
                )

    def _trainjob(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        nodes = _trainjob_nodes(resource, graph)
        if nodes is None or not resource.templates:
            return
        launch = parse_launch(resource.templates[0].containers[0])
        if launch is None or launch.kind != TORCHRUN:
            return
        yield from self._nnodes(resource, launch, nodes, "the TrainJob runs", "node")
        if _static(launch, elastic=False):
            ranks = "0" if nodes == 1 else f"0..{nodes - 1}, one per node"
            yield from self._node_rank(
                resource, launch, nodes, 0, f"its nodes get {ranks}"
            )

    def _nnodes(
        self, resource: Resource, launch: Launch, pods: int, runs: str, noun: str
    ) -> Iterator[Finding]:
        written = launch.options.get("--nnodes")
        bounds = parse_nnodes(written)
        if bounds is None or written is None:
            return
        low, high = bounds
        if low <= pods <= high:
            return
        if pods < low:
            outcome = (
                f"the rendezvous waits for {low} nodes that never come and fails "
                "at its timeout"
            )
        else:
            outcome = f"the {noun}s beyond {high} cannot take part"
        plural = "s" if pods != 1 else ""
        yield self.finding(
            resource,
            f"{_where(launch.container)} runs torchrun --nnodes={written}, but "
            f"{runs} {pods} {noun}{plural}: {outcome} (the command line wins over "
            "PET_NNODES)",
            path=launch.path_of("--nnodes"),
        )

    def _node_rank(
        self, resource: Resource, launch: Launch, count: int, first: int, ranks: str
    ) -> Iterator[Finding]:
        written = launch.options.get("--node-rank")
        rank = parse_count(written)
        if written is None or rank is None or (count == 1 and rank == first):
            return
        yield self.finding(
            resource,
            f"{_where(launch.container)} runs torchrun --node-rank={written}, but "
            f"{ranks} (PET_NODE_RANK, which the command line overrides): ranks "
            "collide and the static rendezvous cannot complete",
            path=launch.path_of("--node-rank"),
        )


def _static(launch: Launch, elastic: bool) -> bool:
    """Whether torchrun uses the static rendezvous (the only one that reads ranks)."""
    backend = launch.get("--rdzv-backend")
    if backend is None:
        return not elastic  # the operator sets PET_RDZV_BACKEND for elastic jobs
    return backend == "static"


def _where(container: Container) -> str:
    if container.resources_key == "resourcesPerNode":
        return "spec.trainer"  # a TrainJob's trainer
    return container.label


def _trainjob_nodes(resource: Resource, graph: ObjectGraph) -> int | None:
    value = get_path(resource.raw, "spec", "trainer", "numNodes")
    if value is not None:
        return parse_count(value)
    ref = runtime_ref(resource)
    runtime = find_runtime(resource, ref, graph) if ref is not None else None
    if runtime is None:
        return None
    return parse_count(get_path(runtime.raw, "spec", "mlPolicy", "numNodes") or 1)
