"""CLU014 pod-priority-conflicts-with-class."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.priority import (
    PREEMPT_LOWER_PRIORITY,
    PREEMPTION_POLICIES,
    ResolvedPriority,
    int32_value,
    resolve_priority,
)
from kubernai.model.resource import Resource, is_placeholder
from kubernai.rules.base import Finding, Rule, Severity


class PodPriorityConflictsWithClass(Rule):
    """Pod template sets `priority` or `preemptionPolicy` unlike its PriorityClass.

    ## Mechanism
    A pod's `spec.priority` and `spec.preemptionPolicy` are filled in by the
    Priority admission plugin from the pod's PriorityClass (or from the
    `globalDefault` class, or 0 and `PreemptLowerPriority` when there is
    none). Setting them by hand does not change a pod's priority: when a
    value differs from the computed one the API server refuses the pod with
    `the integer value of priority (100) must not be provided in pod spec;
    priority admission controller computed 0 from the given PriorityClass
    name`, or the same for `PreemptionPolicy`. The workload object is
    accepted and its controller fails every pod creation. To make GPU
    serving pods non-preempting, set `preemptionPolicy: Never` on a
    PriorityClass and name that class instead. When the template names no
    class and the input has no `globalDefault` class, the check assumes the
    cluster has none either and says so.

    ## Example
    ```yaml
    apiVersion: scheduling.k8s.io/v1
    kind: PriorityClass
    metadata:
      name: serving-high
    value: 100000
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
    spec:
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          priorityClassName: serving-high
          preemptionPolicy: Never
          containers:
            - name: server
              image: vllm/vllm-openai:v0.6.3
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## Use instead
    ```yaml
    apiVersion: scheduling.k8s.io/v1
    kind: PriorityClass
    metadata:
      name: serving-high-nonpreempting
    value: 100000
    preemptionPolicy: Never
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
    spec:
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          priorityClassName: serving-high-nonpreempting
          containers:
            - name: server
              image: vllm/vllm-openai:v0.6.3
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## References
    - https://kubernetes.io/docs/concepts/scheduling-eviction/pod-priority-preemption/#non-preempting-priority-class
    - kubernetes plugin/pkg/admission/priority/admission.go: admitPod
    """

    code = "CLU014"
    name = "pod-priority-conflicts-with-class"
    severity = Severity.ERROR
    mechanism = "priority-preemption-for-ai-pods"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            priority = template.spec.get("priority")
            policy = template.spec.get("preemptionPolicy")
            if priority is None and policy is None:
                continue
            resolved = resolve_priority(template, graph)
            if resolved is None:
                continue  # unknown class: CLU010 reports it where it can
            role = f" ({template.role})" if template.role else ""
            wanted = int32_value(priority)
            if wanted is not None and wanted != resolved.value:
                yield self.finding(
                    resource,
                    f"pod template{role} sets priority {wanted}, but the Priority "
                    f"admission plugin computes {resolved.value} from "
                    f"{resolved.source}; the API server refuses its pods: the "
                    f"integer value of priority ({wanted}) must not be provided in "
                    f"pod spec; priority admission controller computed "
                    f"{resolved.value} from the given PriorityClass name",
                    path=template.field_path("priority"),
                )
            computed = _computed_policy(resolved)
            if (
                isinstance(policy, str)
                and not is_placeholder(policy)
                and computed
                and policy != computed
            ):
                yield self.finding(
                    resource,
                    f"pod template{role} sets preemptionPolicy {policy}, but the "
                    f"Priority admission plugin computes {computed} from "
                    f"{resolved.source}; the API server refuses its pods: the "
                    f"string value of PreemptionPolicy ({policy}) must not be "
                    f"provided in pod spec; priority admission controller computed "
                    f"{computed} from the given PriorityClass name",
                    path=template.field_path("preemptionPolicy"),
                )


def _computed_policy(resolved: ResolvedPriority) -> str:
    """The policy admission copies into the pod, ``""`` when the class is invalid."""
    found = resolved.priority_class
    if found is None or not found.preemption_policy:
        return PREEMPT_LOWER_PRIORITY
    return (
        found.preemption_policy
        if found.preemption_policy in PREEMPTION_POLICIES
        else ""
    )
