"""CLU072 gang-min-available-below-world-size."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gang import (
    KUBEFLOW_JOBS,
    describe_members,
    distributed_marker,
    has_accelerators,
    is_kubeflow_job,
    is_volcano_job,
    kubeflow_members,
    scheduling_policy,
    volcano_job_gang,
    volcano_plugins,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.quantity import parse_count
from kubernai.model.resource import Path, Resource, get_list, get_path
from kubernai.rules.base import Finding, Rule, Severity


class GangMinAvailableBelowWorldSize(Rule):
    """Distributed GPU job whose gang minimum is smaller than its world size.

    ## Mechanism
    Gang scheduling holds a job back until `minAvailable` of its pods fit
    at once, then binds them; the remaining pods are placed one by one as
    GPUs free up. That suits elastic work, but the ranks of a PyTorch DDP,
    MPI or TensorFlow job block in their rendezvous until every rank of
    the fixed world has joined. With `minAvailable` below the world size,
    Volcano starts a partial job whose ranks hold their GPUs and wait, and
    two such jobs can each hold part of the cluster forever: the deadlock
    gang scheduling exists to prevent. A Volcano Job's effective minimum is
    `spec.minAvailable`, or the sum of its tasks' `minAvailable` (each
    defaulting to the task's `replicas`); when `spec.minAvailable` is below
    that sum, the scheduler ignores the task minimums. Volcano's `pytorch`
    plugin sets `WORLD_SIZE` to the master and worker replicas, and the `mpi`
    and `tensorflow` plugins list every replica as a host. For a
    training-operator job, `runPolicy.schedulingPolicy.minAvailable` becomes
    the PodGroup's `minMember`. Reported only for jobs that request
    accelerators and show a fixed world (a Volcano `pytorch`, `mpi` or
    `tensorflow` plugin, `WORLD_SIZE`/`MASTER_ADDR`/`TF_CONFIG` in the
    environment, or a launcher such as `torchrun` or `mpirun`); a PyTorchJob
    with an `elasticPolicy` is left alone.

    ## Example
    ```yaml
    apiVersion: batch.volcano.sh/v1alpha1
    kind: Job
    metadata:
      name: ddp
    spec:
      schedulerName: volcano
      minAvailable: 1
      plugins:
        pytorch: ["--master=master", "--worker=worker"]
      tasks:
        - name: master
          replicas: 1
          template:
            spec:
              restartPolicy: OnFailure
              containers:
                - name: trainer
                  image: nvcr.io/nvidia/pytorch:24.05-py3
                  resources:
                    limits:
                      nvidia.com/gpu: 8
        - name: worker
          replicas: 3
          template:
            spec:
              restartPolicy: OnFailure
              containers:
                - name: trainer
                  image: nvcr.io/nvidia/pytorch:24.05-py3
                  resources:
                    limits:
                      nvidia.com/gpu: 8
    ```

    ## Use instead
    ```yaml
    apiVersion: batch.volcano.sh/v1alpha1
    kind: Job
    metadata:
      name: ddp
    spec:
      schedulerName: volcano
      minAvailable: 4
      plugins:
        pytorch: ["--master=master", "--worker=worker"]
      tasks:
        - name: master
          replicas: 1
          template:
            spec:
              restartPolicy: OnFailure
              containers:
                - name: trainer
                  image: nvcr.io/nvidia/pytorch:24.05-py3
                  resources:
                    limits:
                      nvidia.com/gpu: 8
        - name: worker
          replicas: 3
          template:
            spec:
              restartPolicy: OnFailure
              containers:
                - name: trainer
                  image: nvcr.io/nvidia/pytorch:24.05-py3
                  resources:
                    limits:
                      nvidia.com/gpu: 8
    ```

    ## References
    - https://github.com/volcano-sh/apis/blob/master/pkg/apis/batch/v1alpha1/job.go
    - https://github.com/volcano-sh/volcano/blob/master/pkg/webhooks/admission/jobs/mutate/mutate_job.go
    - https://github.com/volcano-sh/volcano/blob/master/pkg/scheduler/api/job_info.go
    - https://github.com/volcano-sh/volcano/blob/master/pkg/controllers/job/plugins/distributed-framework/pytorch/pytorch.go
    - https://www.kubeflow.org/docs/components/trainer/legacy-v1/user-guides/job-scheduling/
    """

    code = "CLU072"
    name = "gang-min-available-below-world-size"
    severity = Severity.WARNING
    mechanism = "gang-scheduling-with-volcano"
    kinds = frozenset({"Job", *KUBEFLOW_JOBS})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if is_volcano_job(resource):
            yield from self._volcano_job(resource)
        elif is_kubeflow_job(resource):
            yield from self._kubeflow_job(resource)

    def _volcano_job(self, resource: Resource) -> Iterator[Finding]:
        gang = volcano_job_gang(resource)
        if gang is None or not has_accelerators(gang.members):
            return
        total = gang.total_replicas
        if total < 2 or gang.min_available >= total:
            return
        plugins = volcano_plugins(resource)
        world = f"plugin {plugins[0]}" if plugins else ""
        if not world:
            world = next(
                (m for t in resource.templates if (m := distributed_marker(t))), ""
            )
        if not world:
            return
        path: Path = ("spec", "minAvailable")
        if not gang.min_available_set:
            tasks = get_list(resource.raw, "spec", "tasks")
            short = next(m for m in gang.members if m.minimum < m.replicas)
            if get_path(tasks, short.index, "minAvailable") is not None:
                path = ("spec", "tasks", short.index, "minAvailable")
        source = (
            "spec.minAvailable"
            if gang.min_available_set
            else "the tasks' minAvailable (spec.minAvailable unset)"
        )
        yield self.finding(
            resource,
            f"{source} lets Volcano start {gang.min_available} of the job's {total} "
            f"pods ({describe_members(gang.members)}), which form one world "
            f"({world}): the started ranks hold their GPUs while they wait for the "
            f"rest (set minAvailable: {total})",
            path=path,
        )

    def _kubeflow_job(self, resource: Resource) -> Iterator[Finding]:
        if get_path(resource.raw, "spec", "elasticPolicy") is not None:
            return
        minimum = parse_count(scheduling_policy(resource).get("minAvailable"))
        if minimum is None:
            return
        members = kubeflow_members(resource, written_only=True)
        if members is None or not has_accelerators(members):
            return
        total = sum(m.replicas for m in members)
        if total < 2 or minimum >= total:
            return
        yield self.finding(
            resource,
            f"runPolicy.schedulingPolicy.minAvailable={minimum} lets the gang "
            f"scheduler start {minimum} of the job's {total} pods "
            f"({describe_members(members)}), which form one {resource.kind} world: "
            "the started ranks hold their GPUs while they wait for the rest "
            f"(set minAvailable: {total} or remove it)",
            path=("spec", "runPolicy", "schedulingPolicy", "minAvailable"),
        )
