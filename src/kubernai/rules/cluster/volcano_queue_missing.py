"""CLU073 volcano-queue-missing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePath

from kubernai.model.gang import (
    VOLCANO_QUEUE_REFERRERS,
    is_checkable_queue_name,
    is_volcano_job,
    is_volcano_object,
    volcano_queue_refs,
    volcano_queues,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class VolcanoQueueMissing(Rule):
    """Workload sent to a Volcano Queue that the manifests do not define.

    ## Mechanism
    Every Volcano PodGroup belongs to a Queue (`default` unless named), and
    a PodGroup whose queue does not exist is never scheduled. Volcano's
    admission webhook refuses such objects outright: a Volcano Job fails
    with `unable to find job queue: queue.scheduling.volcano.sh "<name>" not
    found`, a PodGroup with `unable to find queue: ...`. When the queue is
    named on something Volcano builds a PodGroup for (a pod's
    `scheduling.volcano.sh/queue-name` annotation, a RayCluster's
    `volcano.sh/queue-name` label, a PyTorchJob's
    `runPolicy.schedulingPolicy.queue`), the PodGroup cannot be created and
    the pods stay Pending. Queues are cluster-scoped and often created by
    an administrator, so this is reported only when the input defines
    Volcano Queues in the same folder as the object and no Queue of the
    input has the name; `default` and `root`, which Volcano creates on
    install, are never reported.

    ## Example
    ```yaml
    apiVersion: scheduling.volcano.sh/v1beta1
    kind: Queue
    metadata:
      name: research
    spec:
      weight: 1
      capability:
        nvidia.com/gpu: 16
    ---
    apiVersion: batch.volcano.sh/v1alpha1
    kind: Job
    metadata:
      name: ddp
    spec:
      schedulerName: volcano
      queue: reserach
      tasks:
        - name: worker
          replicas: 2
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
    apiVersion: scheduling.volcano.sh/v1beta1
    kind: Queue
    metadata:
      name: research
    spec:
      weight: 1
      capability:
        nvidia.com/gpu: 16
    ---
    apiVersion: batch.volcano.sh/v1alpha1
    kind: Job
    metadata:
      name: ddp
    spec:
      schedulerName: volcano
      queue: research
      tasks:
        - name: worker
          replicas: 2
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
    - https://github.com/volcano-sh/apis/blob/master/pkg/apis/scheduling/v1beta1/types.go
    - https://github.com/volcano-sh/volcano/blob/master/pkg/webhooks/admission/jobs/validate/admit_job.go
    - https://github.com/volcano-sh/volcano/blob/master/pkg/webhooks/admission/podgroups/validate/validate_podgroup.go
    - https://volcano.sh/en/docs/queue/
    """

    code = "CLU073"
    name = "volcano-queue-missing"
    severity = Severity.ERROR
    mechanism = "gang-scheduling-with-volcano"
    kinds = VOLCANO_QUEUE_REFERRERS

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        refs = [
            r for r in volcano_queue_refs(resource) if is_checkable_queue_name(r.name)
        ]
        if not refs:
            return
        queues = volcano_queues(graph.of_kind("Queue"))
        here = PurePath(resource.source.file).parent
        if not any(PurePath(q.source.file).parent == here for q in queues.values()):
            return  # no Queue defined next to the object: its queues are unknown
        for ref in refs:
            if ref.name in queues:
                continue
            known = sorted(queues)
            shown = ", ".join(known[:5]) + (", ..." if len(known) > 5 else "")
            yield self.finding(
                resource,
                f"{ref.field} names Volcano Queue {ref.name!r}, which is not among "
                f"the Queues in the input ({shown}): {_consequence(resource)}",
                path=ref.path,
            )


def _consequence(resource: Resource) -> str:
    if is_volcano_job(resource):
        return (
            'Volcano\'s admission webhook refuses the Job ("unable to find job queue")'
        )
    if is_volcano_object(resource, "PodGroup"):
        return (
            "Volcano's admission webhook refuses the PodGroup (\"unable to find "
            'queue"), and a PodGroup without its queue is never scheduled'
        )
    return (
        "the PodGroup for these pods is refused or never scheduled, so they never run"
    )
