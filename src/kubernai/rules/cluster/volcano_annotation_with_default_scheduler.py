"""CLU070 volcano-annotation-with-default-scheduler."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gang import (
    VOLCANO_POD_ANNOTATIONS,
    scheduler_name,
    template_metadata_path,
    uses_default_scheduler,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class VolcanoAnnotationWithDefaultScheduler(Rule):
    """Pod template with a Volcano group or queue annotation but no Volcano scheduler.

    ## Mechanism
    Volcano gang-schedules a pod only when the pod names a Volcano scheduler:
    its scheduler and its PodGroup controller skip every pod whose
    `spec.schedulerName` is not one of theirs (`volcano` unless the chart
    renames it). The pod annotations `scheduling.k8s.io/group-name`,
    `scheduling.volcano.sh/group-name` (which PodGroup the pod belongs to)
    and `scheduling.volcano.sh/queue-name` (which Queue) are read by Volcano
    alone. On a pod left to kube-scheduler (no `schedulerName`, or
    `default-scheduler`) they do nothing: the pods are bound one at a time as
    nodes free up, the PodGroup's `minMember` is never consulted, and the
    queue's limits do not apply. A distributed job then starts with part of
    its ranks, which hold their GPUs while waiting for the others. Volcano
    Jobs and the Kubeflow, Ray and Trainer operators set `schedulerName`
    themselves and are not checked here; a Volcano admission webhook
    configured with resource groups can also set it, which a manifest does
    not show.

    ## Example
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: ddp
    spec:
      parallelism: 4
      completions: 4
      completionMode: Indexed
      template:
        metadata:
          annotations:
            scheduling.k8s.io/group-name: ddp-pg
        spec:
          restartPolicy: Never
          containers:
            - name: trainer
              image: nvcr.io/nvidia/pytorch:24.05-py3
              resources:
                limits:
                  nvidia.com/gpu: 8
    ```

    ## Use instead
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: ddp
    spec:
      parallelism: 4
      completions: 4
      completionMode: Indexed
      template:
        metadata:
          annotations:
            scheduling.k8s.io/group-name: ddp-pg
        spec:
          schedulerName: volcano
          restartPolicy: Never
          containers:
            - name: trainer
              image: nvcr.io/nvidia/pytorch:24.05-py3
              resources:
                limits:
                  nvidia.com/gpu: 8
    ```

    ## References
    - https://github.com/volcano-sh/apis/blob/master/pkg/apis/scheduling/v1beta1/labels.go
    - https://github.com/volcano-sh/volcano/blob/master/pkg/scheduler/cache/util.go
    - https://github.com/volcano-sh/volcano/blob/master/pkg/controllers/podgroup/pg_controller.go
    - https://volcano.sh/en/docs/podgroup/
    """

    code = "CLU070"
    name = "volcano-annotation-with-default-scheduler"
    severity = Severity.WARNING
    mechanism = "gang-scheduling-with-volcano"
    kinds = frozenset(
        {
            "Pod",
            "Deployment",
            "StatefulSet",
            "ReplicaSet",
            "ReplicationController",
            "DaemonSet",
            "Job",
            "CronJob",
            "JobSet",
            "LeaderWorkerSet",
        }
    )

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if resource.group == "batch.volcano.sh":
            return  # a Volcano Job gives its tasks spec.schedulerName (volcano)
        for template in resource.templates:
            keys = [k for k in VOLCANO_POD_ANNOTATIONS if k in template.annotations]
            if not keys or not uses_default_scheduler(template):
                continue
            meta = template_metadata_path(resource, template)
            if meta is None:
                continue
            found = ", ".join(f"{k}={template.annotations[k]!r}" for k in keys)
            name = scheduler_name(template)
            scheduler = f"schedulerName {name}" if name else "no schedulerName"
            role = f" ({template.role})" if template.role else ""
            yield self.finding(
                resource,
                f"pod template{role} has {found} but {scheduler}: kube-scheduler "
                "ignores Volcano annotations and binds the pods one by one, with no "
                "gang and no queue (set schedulerName: volcano)",
                path=(*meta, "annotations", keys[0]),
            )
