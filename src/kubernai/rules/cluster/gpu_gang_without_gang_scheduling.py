"""CLU075 gpu-gang-without-gang-scheduling."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from kubernai.model.features import ACCELERATOR
from kubernai.model.gang import (
    KUBEFLOW_JOBS,
    accelerator_demand,
    distributed_marker,
    gang_marker,
    is_kubeflow_job,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.quantity import parse_count
from kubernai.model.resource import Path, Resource, get_map, get_path, get_str
from kubernai.rules.base import Finding, Rule, Severity


@dataclass(frozen=True, slots=True)
class _Gang:
    """Accelerator pods that must run together, and how to describe them."""

    pods: int
    resource_names: tuple[str, ...]
    shape: str
    path: Path
    hint: str = ""


class GpuGangWithoutGangScheduling(Rule):
    """Multi-pod GPU job whose pods must all run, with no gang scheduling.

    ## Mechanism
    kube-scheduler places pods one at a time. The ranks of a distributed
    training job (or the pods of one LeaderWorkerSet group) are useless
    until all of them run: each started rank holds its GPUs and blocks in
    the rendezvous or NCCL initialisation. When two such jobs compete for
    fewer GPUs than both need, each can be granted part of what it needs
    and both wait forever, since no component gives the held GPUs back; a
    single job on a busy cluster holds GPUs idle until the last rank fits.
    Gang scheduling (Volcano, KAI, scheduler-plugins Coscheduling) binds
    all pods of a group at once or none, and Kueue admits a whole job
    against its quota before any pod exists. Reported for
    training-operator jobs, JobSets, LeaderWorkerSet groups, RayJobs with
    fixed GPU workers and `batch/v1` Jobs that launch a multi-node world
    (`torchrun`, `mpirun`, `WORLD_SIZE`...), when at least two pods request
    accelerators and the manifest names no gang mechanism: no
    `schedulerName` other than the default, no Volcano or Coscheduling
    pod-group, no `kueue.x-k8s.io/queue-name`, no
    `runPolicy.schedulingPolicy`. Gang scheduling can also be switched on for
    every job of an operator (`--gang-scheduler-name` in the training
    operator, `--gang-scheduling` in the MPI operator, the batch scheduler of
    KubeRay) or by a Kueue default queue, which a manifest does not show:
    hence the informational severity.

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: ddp
    spec:
      pytorchReplicaSpecs:
        Master:
          replicas: 1
          template:
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.05-py3
                  resources:
                    limits:
                      nvidia.com/gpu: 8
        Worker:
          replicas: 3
          template:
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.05-py3
                  resources:
                    limits:
                      nvidia.com/gpu: 8
    ```

    ## Use instead
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: ddp
      labels:
        kueue.x-k8s.io/queue-name: training
    spec:
      pytorchReplicaSpecs:
        Master:
          replicas: 1
          template:
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.05-py3
                  resources:
                    limits:
                      nvidia.com/gpu: 8
        Worker:
          replicas: 3
          template:
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.05-py3
                  resources:
                    limits:
                      nvidia.com/gpu: 8
    ```

    ## References
    - https://www.kubeflow.org/docs/components/trainer/legacy-v1/user-guides/job-scheduling/
    - https://volcano.sh/en/docs/podgroup/
    - https://kueue.sigs.k8s.io/docs/concepts/
    - https://github.com/kubernetes-sigs/scheduler-plugins/blob/master/pkg/coscheduling/README.md
    - https://lws.sigs.k8s.io/docs/
    """

    code = "CLU075"
    name = "gpu-gang-without-gang-scheduling"
    severity = Severity.INFO
    mechanism = "gang-scheduling-with-volcano"
    kinds = frozenset({*KUBEFLOW_JOBS, "JobSet", "LeaderWorkerSet", "RayJob", "Job"})
    requires = frozenset({ACCELERATOR})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        gang = _gang(resource)
        if gang is None or gang.pods < 2 or gang_marker(resource):
            return
        names = ", ".join(gang.resource_names)
        yield self.finding(
            resource,
            f"{gang.pods} pods request {names} and must run together ({gang.shape}), "
            "but nothing gang-schedules them (no Volcano/KAI/Coscheduling "
            "schedulerName or pod group, no kueue.x-k8s.io/queue-name label"
            f"{gang.hint}): kube-scheduler binds them one by one, so competing "
            "jobs can each hold part of the accelerators and wait forever",
            path=gang.path,
        )


def _gang(resource: Resource) -> _Gang | None:
    if is_kubeflow_job(resource):
        return _kubeflow(resource)
    group, kind = resource.group, resource.kind
    if kind == "JobSet" and group == "jobset.x-k8s.io":
        return _jobset(resource)
    if kind == "LeaderWorkerSet" and group == "leaderworkerset.x-k8s.io":
        return _leader_worker_set(resource)
    if kind == "RayJob" and group == "ray.io":
        return _ray_job(resource)
    if kind == "Job" and group == "batch":
        return _batch_job(resource)
    return None


def _names(demands: Iterable[Mapping[str, object]]) -> tuple[str, ...]:
    return tuple(sorted({name for demand in demands for name in demand}))


def _kubeflow(resource: Resource) -> _Gang | None:
    if get_path(resource.raw, "spec", "elasticPolicy") is not None:
        return None  # elastic rendezvous starts with the ranks it has
    pods, demands, shape, path = 0, [], [], None
    for template in resource.templates:
        demand = accelerator_demand(template)
        if not demand:
            continue
        if template.replicas is None:
            return None
        pods += template.replicas
        demands.append(demand)
        shape.append(f"{template.role} {template.replicas}")
        if path is None:
            path = (*template.path[:3], "replicas")
    if path is None:
        return None
    return _Gang(
        pods,
        _names(demands),
        ", ".join(shape),
        path,
        ", no runPolicy.schedulingPolicy; the operator may still gang-schedule "
        "every job",
    )


def _jobset(resource: Resource) -> _Gang | None:
    pods, demands, shape, path = 0, [], [], None
    for template in resource.templates:
        demand = accelerator_demand(template)
        if not demand:
            continue
        if template.replicas is None:
            return None
        pods += template.replicas
        demands.append(demand)
        shape.append(f"replicatedJob {template.role} {template.replicas} pods")
        if path is None:
            path = (*template.path[:3], "replicas")
    if path is None:
        return None
    return _Gang(pods, _names(demands), ", ".join(shape), path)


def _leader_worker_set(resource: Resource) -> _Gang | None:
    base = ("spec", "leaderWorkerTemplate")
    size = parse_count(get_path(resource.raw, *base, "size") or 1)
    if size is None:
        return None
    demands = [d for t in resource.templates if (d := accelerator_demand(t))]
    if not demands:
        return None
    return _Gang(
        size,
        _names(demands),
        f"each group of leaderWorkerTemplate.size={size}",
        (*base, "size"),
    )


def _ray_job(resource: Resource) -> _Gang | None:
    cluster = get_map(resource.raw, "spec", "rayClusterSpec")
    if cluster.get("enableInTreeAutoscaling") is True:
        return None  # an autoscaled cluster grows to what the job asks
    pods, demands, shape, path = 0, [], [], None
    for template in resource.templates:
        demand = accelerator_demand(template)
        if not demand or template.role in ("head", "submitter"):
            continue
        if template.replicas is None:
            return None
        pods += template.replicas
        demands.append(demand)
        shape.append(f"worker group {template.role} {template.replicas}")
        if path is None:
            path = (*template.path[:4], "replicas")
    if path is None:
        return None
    return _Gang(pods, _names(demands), ", ".join(shape), path)


def _batch_job(resource: Resource) -> _Gang | None:
    raw = get_path(resource.raw, "spec", "parallelism")
    parallelism = parse_count(raw) if raw is not None else 1
    if parallelism is None or parallelism < 2:
        return None
    (template,) = resource.templates or (None,)
    if template is None:
        return None
    demand = accelerator_demand(template)
    marker = distributed_marker(template)
    if not demand or not marker:
        return None
    mode = get_str(resource.raw, "spec", "completionMode") or "NonIndexed"
    return _Gang(
        parallelism,
        _names([demand]),
        f"parallelism {parallelism}, {mode}, {marker}",
        ("spec", "parallelism"),
    )
