"""CLU074 volcano-queue-capability-below-gang."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from kubernai.model.gang import (
    VOLCANO_QUEUE_REFERRERS,
    QueueRef,
    accelerator_demand,
    is_kubeflow_job,
    is_volcano_job,
    is_volcano_object,
    kubeflow_members,
    least_demand,
    scheduling_policy,
    volcano_job_gang,
    volcano_queue_refs,
    volcano_queues,
)
from kubernai.model.gpu import is_accelerator
from kubernai.model.graph import ObjectGraph
from kubernai.model.quantity import parse_count, parse_quantity
from kubernai.model.resource import Resource, get_map, is_placeholder
from kubernai.rules.base import Finding, Rule, Severity


class VolcanoQueueCapabilityBelowGang(Rule):
    """Gang that needs more accelerators than its Volcano Queue may ever hold.

    ## Mechanism
    A Volcano Queue's `spec.capability` is a hard ceiling on what the
    queue's jobs hold at once. The proportion plugin (in the default
    scheduler configuration) admits a PodGroup to `Inqueue` only while its
    `minResources` plus what the queue already holds stays within the
    queue's capability, and records `queue resource quota insufficient:
    insufficient nvidia.com/gpu` otherwise; the allocate step never lets
    the queue's allocation exceed the capability either. A gang whose
    minimum members need more GPUs than the capability can therefore never
    start, even on an empty cluster. The check compares the capability of
    each accelerator resource with a lower bound of the gang's need: the
    cheapest set of `minAvailable` pods that still honours each task's own
    minimum (Volcano Job), `runPolicy.schedulingPolicy` `minAvailable` or
    `minResources` (training-operator jobs), `spec.minResources`
    (PodGroup), or a single pod (anything else sent to the queue).

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
      queue: research
      tasks:
        - name: worker
          replicas: 4
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
        nvidia.com/gpu: 32
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
          replicas: 4
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
    - https://github.com/volcano-sh/volcano/blob/master/pkg/scheduler/plugins/proportion/proportion.go
    - https://github.com/volcano-sh/volcano/blob/master/pkg/controllers/job/job_controller_util.go
    - https://volcano.sh/en/docs/queue/
    """

    code = "CLU074"
    name = "volcano-queue-capability-below-gang"
    severity = Severity.ERROR
    mechanism = "gang-scheduling-with-volcano"
    kinds = VOLCANO_QUEUE_REFERRERS

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        refs = [r for r in volcano_queue_refs(resource) if r.name]
        if not refs:
            return
        queues = volcano_queues(graph.of_kind("Queue"))
        for ref in refs:
            queue = queues.get(ref.name)
            if queue is None:
                continue
            capability = get_map(queue.raw, "spec", "capability")
            for name, value in capability.items():
                if not isinstance(name, str) or not is_accelerator(name):
                    continue
                cap = parse_quantity(value)
                if cap is None or is_placeholder(value):
                    continue
                need = _need(resource, name)
                if need is None or need[0] <= cap:
                    continue
                amount, what = need
                yield self._report(resource, ref, name, cap, amount, what)

    def _report(
        self,
        resource: Resource,
        ref: QueueRef,
        name: str,
        cap: Fraction,
        amount: Fraction,
        what: str,
    ) -> Finding:
        return self.finding(
            resource,
            f"{ref.field} sends {what} needing at least {_show(amount)} {name} to "
            f"Volcano Queue {ref.name!r}, whose spec.capability caps {name} at "
            f'{_show(cap)}: it can never start ("queue resource quota '
            f'insufficient: insufficient {name}")',
            path=ref.path,
        )


def _need(resource: Resource, name: str) -> tuple[Fraction, str] | None:
    """A lower bound of ``name`` the object's gang holds at once, and what it is."""
    if is_volcano_job(resource):
        gang = volcano_job_gang(resource)
        if gang is None:
            return None
        amount = least_demand(
            gang.members,
            min_pods=gang.min_available,
            minimums=gang.task_minimums_enforced,
            name=name,
        )
        return amount, f"a gang of minAvailable={gang.min_available} pods"
    if is_volcano_object(resource, "PodGroup"):
        value = get_map(resource.raw, "spec", "minResources").get(name)
        declared = parse_quantity(value)
        if declared is None or is_placeholder(value):
            return None
        return declared, "a PodGroup (spec.minResources)"
    if is_kubeflow_job(resource):
        return _kubeflow_need(resource, name)
    per_pod = [accelerator_demand(t).get(name, Fraction(0)) for t in resource.templates]
    largest = max(per_pod, default=Fraction(0))
    return largest, "a pod"


def _kubeflow_need(resource: Resource, name: str) -> tuple[Fraction, str] | None:
    policy = scheduling_policy(resource)
    members = kubeflow_members(resource, written_only=True)
    floor = Fraction(0)
    declared = get_map(policy, "minResources").get(name)
    if declared is not None and not is_placeholder(declared):
        floor = parse_quantity(declared) or Fraction(0)
    if members is None:
        return (floor, "a gang") if floor else None
    total = sum(m.replicas for m in members)
    raw_min = policy.get("minAvailable")
    min_pods = total if raw_min is None else parse_count(raw_min)
    if min_pods is None:
        return None
    amount = least_demand(members, min_pods=min_pods, minimums=False, name=name)
    return max(amount, floor), f"a gang of {min_pods} pods"


def _show(amount: Fraction) -> str:
    return str(amount.numerator) if amount.denominator == 1 else str(float(amount))
