"""CLU059 gpu-job-fails-on-first-disruption."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gpu import requests_accelerator
from kubernai.model.graph import ObjectGraph
from kubernai.model.quantity import parse_count
from kubernai.model.resource import (
    Path,
    Resource,
    get_list,
    get_map,
    get_str,
    iter_maps,
)
from kubernai.rules.base import Finding, Rule, Severity


class GpuJobFailsOnFirstDisruption(Rule):
    """GPU Job with `backoffLimit: 0`: one eviction or preemption fails it.

    ## Mechanism
    A Job counts every pod that ends `Failed` against `backoffLimit`, and a
    pod that is evicted (node pressure, `kubectl drain`, the Eviction API),
    preempted by a higher-priority pod or deleted by the taint manager ends
    `Failed` like one that crashed. With `backoffLimit: 0`, which training
    Jobs often set so that a bug does not burn GPU hours on retries, the
    first disruption fails the whole Job with reason `BackoffLimitExceeded`
    although the code never failed. Such pods carry the `DisruptionTarget`
    condition, and a `podFailurePolicy` rule with `action: Ignore` on it lets
    the Job replace them without counting them (the policy needs
    `restartPolicy: Never`). Jobs that Kueue preempts are suspended, not
    failed, but node-pressure eviction and drains still count.

    ## Example
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: finetune
    spec:
      backoffLimit: 0
      template:
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
      name: finetune
    spec:
      backoffLimit: 0
      podFailurePolicy:
        rules:
          - action: Ignore
            onPodConditions:
              - type: DisruptionTarget
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: trainer
              image: nvcr.io/nvidia/pytorch:24.05-py3
              resources:
                limits:
                  nvidia.com/gpu: 8
    ```

    ## References
    - https://kubernetes.io/docs/tasks/job/pod-failure-policy/
    - https://kubernetes.io/docs/concepts/workloads/controllers/job/#pod-failure-policy
    - https://kubernetes.io/docs/concepts/workloads/pods/disruptions/#pod-disruption-conditions
    """

    code = "CLU059"
    name = "gpu-job-fails-on-first-disruption"
    severity = Severity.WARNING
    mechanism = "eviction-and-gpu-workloads"
    kinds = frozenset({"Job", "CronJob"})
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if resource.group != "batch":
            return
        base: Path = (
            ("spec",)
            if resource.kind == "Job"
            else (
                "spec",
                "jobTemplate",
                "spec",
            )
        )
        spec = get_map(resource.raw, *base)
        if parse_count(spec.get("backoffLimit")) != 0 or isinstance(
            spec.get("backoffLimit"), bool
        ):
            return
        if spec.get("backoffLimitPerIndex") is not None:
            return  # per-index limits follow other rules
        if not any(requests_accelerator(t) for t in resource.templates):
            return
        for _, rule in iter_maps(spec, "podFailurePolicy", "rules"):
            if get_str(rule, "action") != "Ignore":
                continue
            for _, condition in iter_maps(rule, "onPodConditions"):
                if get_str(condition, "type") == "DisruptionTarget":
                    return
        has_policy = bool(get_list(spec, "podFailurePolicy", "rules"))
        detail = (
            "no podFailurePolicy rule ignores DisruptionTarget"
            if has_policy
            else "no podFailurePolicy"
        )
        yield self.finding(
            resource,
            f"backoffLimit is 0 and {detail}: the first eviction, preemption or "
            "drain of a pod fails the whole Job (BackoffLimitExceeded)",
            path=(*base, "backoffLimit"),
        )
