"""CLU010 unknown-priority-class."""

from __future__ import annotations

from collections.abc import Iterator
from difflib import get_close_matches

from kubernai.model.graph import ObjectGraph
from kubernai.model.priority import class_name_of, class_named, input_classes
from kubernai.model.resource import Resource, is_placeholder
from kubernai.rules.base import Finding, Rule, Severity


class UnknownPriorityClass(Rule):
    """Pod template names a PriorityClass that the input does not define.

    ## Mechanism
    The Priority admission plugin looks up `priorityClassName` when a pod is
    created and copies the class's value into `spec.priority`. When no
    PriorityClass has that name, the API server refuses the pod:
    `pods "trainer-0" is forbidden: no PriorityClass with name
    high-priorty was found`. A Deployment, Job or training operator is still
    accepted, because nothing checks the name in a pod template; its
    controller then fails every pod creation with `FailedCreate` events, and
    the workload waits with no pods and no GPUs. The built-in classes
    `system-cluster-critical` and `system-node-critical` exist in every
    cluster. This check runs only when the input defines PriorityClasses: a
    class created elsewhere (another repository, a cluster add-on) is
    unknown, not missing, so lint the PriorityClasses together with the
    workloads that use them.

    ## Example
    ```yaml
    apiVersion: scheduling.k8s.io/v1
    kind: PriorityClass
    metadata:
      name: training-low
    value: 100
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: finetune
    spec:
      template:
        spec:
          restartPolicy: Never
          priorityClassName: training-lo
          containers:
            - name: trainer
              image: nvcr.io/nvidia/pytorch:24.05-py3
              resources:
                limits:
                  nvidia.com/gpu: 8
    ```

    ## Use instead
    ```yaml
    apiVersion: scheduling.k8s.io/v1
    kind: PriorityClass
    metadata:
      name: training-low
    value: 100
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: finetune
    spec:
      template:
        spec:
          restartPolicy: Never
          priorityClassName: training-low
          containers:
            - name: trainer
              image: nvcr.io/nvidia/pytorch:24.05-py3
              resources:
                limits:
                  nvidia.com/gpu: 8
    ```

    ## References
    - https://kubernetes.io/docs/concepts/scheduling-eviction/pod-priority-preemption/#pod-priority
    - kubernetes plugin/pkg/admission/priority/admission.go: admitPod
    - kubernetes pkg/apis/scheduling/v1/helpers.go: the system classes
    """

    code = "CLU010"
    name = "unknown-priority-class"
    severity = Severity.ERROR
    mechanism = "priority-preemption-for-ai-pods"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        known: list[str] | None = None
        for template in resource.templates:
            wanted = class_name_of(template)
            if not wanted or is_placeholder(wanted):
                continue
            if class_named(graph, wanted) is not None:
                continue
            if known is None:
                known = sorted({c.name for c in input_classes(graph) if c.name})
            if not known:
                return  # the input defines no PriorityClass: the name is unknown
            close = get_close_matches(wanted.lower(), known, n=1, cutoff=0.9)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            shown = ", ".join(known[:6]) + (", ..." if len(known) > 6 else "")
            role = f" ({template.role})" if template.role else ""
            yield self.finding(
                resource,
                f"pod template{role} sets priorityClassName {wanted!r}, which is "
                f"neither built in nor among the PriorityClasses in the input "
                f"({shown}); the API server refuses its pods: no PriorityClass "
                f"with name {wanted} was found{hint}",
                path=template.field_path("priorityClassName"),
            )
