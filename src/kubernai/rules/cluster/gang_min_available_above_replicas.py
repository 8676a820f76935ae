"""CLU071 gang-min-available-above-replicas."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gang import (
    KUBEFLOW_JOBS,
    describe_members,
    is_kubeflow_job,
    is_volcano_job,
    kubeflow_members,
    scheduling_policy,
    volcano_job_gang,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.quantity import parse_count
from kubernai.model.resource import Resource, get_list
from kubernai.rules.base import Finding, Rule, Severity


class GangMinAvailableAboveReplicas(Rule):
    """Gang minimum larger than the number of pods the job creates.

    ## Mechanism
    A gang starts only when `minAvailable` of its pods can be placed
    together. A Volcano Job whose `spec.minAvailable` exceeds the sum of its
    tasks' `replicas`, or a task whose `minAvailable` exceeds its own
    `replicas`, is refused when it is created: Volcano's admission policy
    answers `job 'minAvailable' should not be greater than total replicas in
    tasks` or `'minAvailable' is greater than 'replicas' in task`. A
    training-operator job (PyTorchJob, MPIJob, TFJob...) gets no such check:
    with gang scheduling on, its `runPolicy.schedulingPolicy.minAvailable`
    becomes the PodGroup's `minMember`, the PodGroup can never gather that
    many pods, and Volcano's gang plugin keeps it Pending with `Not enough
    valid tasks for gang-scheduling, valid: <pods>, min: <minAvailable>`.
    Counts are compared only where every `replicas` is written out.

    ## Example
    ```yaml
    apiVersion: batch.volcano.sh/v1alpha1
    kind: Job
    metadata:
      name: ddp
    spec:
      schedulerName: volcano
      minAvailable: 5
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
    - https://github.com/volcano-sh/volcano/blob/master/installer/helm/chart/volcano/policy/jobs-validating.yaml
    - https://github.com/volcano-sh/volcano/blob/master/pkg/webhooks/admission/jobs/validate/admit_job.go
    - https://github.com/volcano-sh/volcano/blob/master/pkg/scheduler/plugins/gang/gang.go
    - https://www.kubeflow.org/docs/components/trainer/legacy-v1/user-guides/job-scheduling/
    """

    code = "CLU071"
    name = "gang-min-available-above-replicas"
    severity = Severity.ERROR
    mechanism = "gang-scheduling-with-volcano"
    kinds = frozenset({"Job", *KUBEFLOW_JOBS})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if is_volcano_job(resource):
            yield from self._volcano_job(resource)
        elif is_kubeflow_job(resource):
            yield from self._kubeflow_job(resource)

    def _volcano_job(self, resource: Resource) -> Iterator[Finding]:
        gang = volcano_job_gang(resource)
        if gang is None:
            return
        tasks = get_list(resource.raw, "spec", "tasks")
        for member in gang.members:
            task = tasks[member.index]
            if "minAvailable" in task and member.minimum > member.replicas:
                yield self.finding(
                    resource,
                    f"task {member.role!r} has minAvailable={member.minimum} but "
                    f"replicas={member.replicas}: Volcano refuses the Job "
                    "(\"'minAvailable' is greater than 'replicas' in task\")",
                    path=("spec", "tasks", member.index, "minAvailable"),
                )
        total = gang.total_replicas
        if gang.min_available_set and gang.min_available > total:
            yield self.finding(
                resource,
                f"spec.minAvailable={gang.min_available} but the tasks have "
                f"{total} replicas in all ({describe_members(gang.members)}): Volcano "
                "refuses the Job (\"job 'minAvailable' should not be greater than "
                'total replicas in tasks")',
                path=("spec", "minAvailable"),
            )

    def _kubeflow_job(self, resource: Resource) -> Iterator[Finding]:
        policy = scheduling_policy(resource)
        minimum = parse_count(policy.get("minAvailable"))
        if minimum is None:
            return
        members = kubeflow_members(resource, written_only=True)
        if members is None:
            return
        total = sum(m.replicas for m in members)
        if minimum > total:
            yield self.finding(
                resource,
                f"runPolicy.schedulingPolicy.minAvailable={minimum} but the job has "
                f"{total} pods ({describe_members(members)}): its PodGroup can never "
                'gather minMember pods and the gang scheduler keeps it Pending ("Not '
                f"enough valid tasks for gang-scheduling, valid: {total}, min: "
                f'{minimum}")',
                path=("spec", "runPolicy", "schedulingPolicy", "minAvailable"),
            )
