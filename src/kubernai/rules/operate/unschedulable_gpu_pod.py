"""OPS060 unschedulable-gpu-pod."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.events import (
    ReasonKind,
    SchedulingFailure,
    SchedulingReason,
    events_about,
    gpu_resource_named,
    happened_after,
    latest,
    parse_scheduling_failure,
    quoted,
    read_event,
    representative,
    seen,
    total_count,
)
from kubernai.model.gpu import accelerator_names, requests_accelerator
from kubernai.model.graph import ObjectGraph
from kubernai.model.node_labels import label_terms
from kubernai.model.node_status import GPU_MODEL_LABELS, gpu_label_values
from kubernai.model.pod_status import condition, node_name, phase, pod_template, uid
from kubernai.model.podrequests import first_container_with, pod_request
from kubernai.model.quantity import format_quantity
from kubernai.model.resource import Path, Resource, get_list, get_path
from kubernai.model.workload import PodTemplate
from kubernai.rules.base import Finding, Rule, Severity

FAILED_SCHEDULING = frozenset({"FailedScheduling"})
SCHEDULED = frozenset({"Scheduled"})
_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"


class UnschedulableGpuPod(Rule):
    """GPU pod that the scheduler cannot place (FailedScheduling).

    ## Mechanism
    When no node passes the scheduler's filters, the pod stays Pending and the
    scheduler records a `FailedScheduling` Warning event (and the pod condition
    `PodScheduled=False`, reason `Unschedulable`) with one count per failing
    filter: `0/5 nodes are available: 1 Insufficient nvidia.com/gpu, 4 node(s)
    didn't match Pod's node affinity/selector. preemption: ...`. For GPU pods
    the usual reasons are `Insufficient nvidia.com/gpu` (no node has enough
    free GPUs, or the device plugin advertises none), an untolerated taint
    (`node(s) had untolerated taint {nvidia.com/gpu: present}`; since v1.35
    `node(s) had untolerated taint(s)`; up to v1.23 `node(s) had taint {...},
    that the pod didn't tolerate`), and a node selector or affinity that no
    node satisfies (`node(s) didn't match Pod's node affinity/selector`, before
    v1.21 `node(s) didn't match node selector`), often a GPU product label
    (`nvidia.com/gpu.product`) whose value is spelled differently on the nodes.
    The scheduler retries, so one stuck pod produces many events; this rule
    reports each pod once, with the latest text. When the input holds the Pod,
    its own condition is used and a pod that has since been scheduled is not
    reported; when nodes fail its node selection and the input holds Nodes,
    the GPU model the pod selects is compared with the values the Nodes
    carry. Events about pods that the input does not hold are reported only
    when the input has no Pods of that namespace (an events-only dump);
    otherwise the pod is gone.

    ## Example
    ```yaml
    apiVersion: v1
    kind: Pod
    metadata:
      name: finetune-0
      namespace: ml
    spec:
      nodeSelector:
        nvidia.com/gpu.product: NVIDIA-H100-80GB
      containers:
        - name: trainer
          image: nvcr.io/nvidia/pytorch:24.05-py3
          resources:
            limits:
              nvidia.com/gpu: 8
    status:
      phase: Pending
      conditions:
        - type: PodScheduled
          status: "False"
          reason: Unschedulable
          message: >-
            0/3 nodes are available: 3 node(s) didn't match Pod's node
            affinity/selector. preemption: 0/3 nodes are available: 3
            Preemption is not helpful for scheduling.
    ---
    apiVersion: v1
    kind: Node
    metadata:
      name: gpu-a
      labels:
        nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3
    status:
      capacity: {nvidia.com/gpu: "8"}
      allocatable: {nvidia.com/gpu: "8"}
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: Pod
    metadata:
      name: finetune-0
      namespace: ml
    spec:
      nodeName: gpu-a
      nodeSelector:
        nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3
      containers:
        - name: trainer
          image: nvcr.io/nvidia/pytorch:24.05-py3
          resources:
            limits:
              nvidia.com/gpu: 8
    status:
      phase: Running
      conditions:
        - type: PodScheduled
          status: "True"
    ```

    ## References
    - kubernetes `pkg/scheduler/framework/types.go` (`FitError.Error`) and the
      filter plugins `noderesources/fit.go`, `tainttoleration`, `nodeaffinity`
    - https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/
    - https://github.com/NVIDIA/k8s-device-plugin/issues/430
    - https://github.com/awslabs/amazon-eks-ami/issues/2342
    """

    code = "OPS060"
    name = "unschedulable-gpu-pod"
    severity = Severity.ERROR
    mechanism = "kubernetes-events-for-gpu-failures"
    kinds = frozenset({"Pod", "Event"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if resource.kind == "Pod":
            yield from self._pod(resource, graph)
        else:
            yield from self._event(resource, graph)

    def _pod(self, pod: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        template = pod_template(pod)
        if template is None or not requests_accelerator(template):
            return
        if node_name(pod) or phase(pod) not in ("", "Pending"):
            return
        scheduled = condition(pod, "PodScheduled")
        records = events_about(graph, "Pod", pod.namespace, pod.name)
        event = latest(records, FAILED_SCHEDULING, uid(pod))
        path: Path = ()
        if scheduled is not None:
            if scheduled.status != "False" or scheduled.reason != "Unschedulable":
                return  # scheduled, or gated (Kueue, scheduling gates)
            text = scheduled.message or (event.message if event else "")
            path = (*scheduled.path, "message")
        elif event is not None:
            text = event.message
        else:
            return
        failure = parse_scheduling_failure(text)
        if failure is None:
            return
        product = (
            _missing_model(pod, template, graph)
            if failure.of_kind(ReasonKind.NODE_AFFINITY)
            else None
        )
        notes = _diagnosis(failure, template, graph, affinity=product is None)
        if product is not None:
            notes.append(product[0])
            path = product[1]
        elif not path:
            path = _first_gpu_path(template)
        count = total_count(records, FAILED_SCHEDULING, uid(pod))
        where = f" {seen(event, count)}" if event is not None else ""
        detail = f": {'; '.join(notes)}" if notes else ""
        yield self.finding(
            pod,
            f"GPU pod is Pending: {quoted(failure.text)}{where}{detail}",
            path=path,
        )

    def _event(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        record = read_event(resource)
        if record is None or record.reason not in FAILED_SCHEDULING:
            return
        about = record.about
        if about.kind != "Pod" or graph.of_kind("Pod", about.namespace):
            return  # the Pod check reports; a pod missing from a snapshot is gone
        if not representative(record, graph, FAILED_SCHEDULING):
            return
        if happened_after(record, graph, SCHEDULED) is not None:
            return
        failure = parse_scheduling_failure(record.message)
        if failure is None or not _about_gpus(failure, graph):
            return
        notes = _diagnosis(failure, None, graph)
        count = total_count(
            events_about(graph, "Pod", about.namespace, about.name),
            FAILED_SCHEDULING,
            about.uid,
        )
        detail = f": {'; '.join(notes)}" if notes else ""
        yield self.finding(
            resource,
            f"GPU pod {about.namespace}/{about.name} cannot be scheduled: "
            f"{quoted(failure.text)} {seen(record, count)}{detail}",
            path=record.message_path,
        )


def _gpu_taint(reason: SchedulingReason, graph: ObjectGraph) -> bool:
    key = reason.taint_key
    if key is None:
        return False
    return (
        key == graph.facts.gpu_taint.key
        or "gpu" in key.lower()
        or "gpu" in (reason.taint_value or "").lower()
    )


def _about_gpus(failure: SchedulingFailure, graph: ObjectGraph) -> bool:
    """Whether a message without its pod shows that the pod wants GPUs."""
    return any(
        (r.kind == ReasonKind.INSUFFICIENT and gpu_resource_named(r.resource))
        or (r.kind == ReasonKind.TAINT and _gpu_taint(r, graph))
        for r in failure.reasons
    )


def _nodes(reason: SchedulingReason, verb: str, singular: str) -> str:
    """``3 nodes lack`` / ``1 node lacks`` / ``nodes lack``."""
    if reason.count == 1:
        return f"1 node {singular}"
    count = "nodes" if reason.count is None else f"{reason.count} nodes"
    return f"{count} {verb}"


def _diagnosis(
    failure: SchedulingFailure,
    template: PodTemplate | None,
    graph: ObjectGraph,
    *,
    affinity: bool = True,
) -> list[str]:
    notes: list[str] = []
    for reason in failure.of_kind(ReasonKind.INSUFFICIENT):
        if not gpu_resource_named(reason.resource):
            continue
        asked = ""
        if template is not None:
            amount = pod_request(template, reason.resource)
            if amount > 0:
                asked = f" (it requests {format_quantity(str(amount))} per pod)"
        notes.append(f"{_nodes(reason, 'lack', 'lacks')} free {reason.resource}{asked}")
    for reason in failure.of_kind(ReasonKind.TAINT):
        if reason.taint_key is None:
            notes.append(
                f"{_nodes(reason, 'have', 'has')} a taint it does not tolerate"
            )
            continue
        value = f"={reason.taint_value}" if reason.taint_value else ""
        gpu = " (the GPU taint)" if _gpu_taint(reason, graph) else ""
        notes.append(
            f"{_nodes(reason, 'have', 'has')} the taint {reason.taint_key}{value}"
            f"{gpu}, which it does not tolerate"
        )
    for reason in failure.of_kind(ReasonKind.NODE_AFFINITY) if affinity else ():
        notes.append(
            f"{_nodes(reason, 'fail', 'fails')} its node selector or required affinity"
        )
    for reason in failure.of_kind(ReasonKind.UNSCHEDULABLE):
        notes.append(f"{_nodes(reason, 'are', 'is')} cordoned")
    return notes


def _missing_model(
    pod: Resource, template: PodTemplate, graph: ObjectGraph
) -> tuple[str, Path] | None:
    """A GPU model the pod requires that no Node of the input carries."""
    present = gpu_label_values(graph)
    if not graph.of_kind("Node"):
        return None
    terms = get_path(template.spec, "affinity", "nodeAffinity", _REQUIRED)
    single_term = len(get_list(terms, "nodeSelectorTerms")) == 1
    for term in label_terms(pod):
        if term.key not in GPU_MODEL_LABELS or term.operator != "In" or not term.values:
            continue
        if term.where == "required node affinity" and not single_term:
            continue  # one of several alternatives: another may match
        if term.where not in ("nodeSelector", "required node affinity"):
            continue
        values = present.get(term.key, {})
        if any(v.text in values for v in term.values):
            continue
        wanted = ", ".join(v.text for v in term.values)
        if values:
            shown = ", ".join(
                f"{value} ({count} {'Node' if count == 1 else 'Nodes'})"
                for value, count in sorted(values.items())
            )
            have = f"the input's Nodes carry {shown}"
        else:
            have = f"no Node of the input carries {term.key}"
        return (
            f"its {term.where} requires {term.key}={wanted}, which no Node of the "
            f"input has ({have})",
            term.values[0].path,
        )
    return None


def _first_gpu_path(template: PodTemplate) -> Path:
    for container in template.containers:
        names = accelerator_names(container)
        if names:
            found = first_container_with(template, names[0])
            if found is not None:
                section = "limits" if names[0] in found.limits else "requests"
                return found.resource_path(section, names[0])
    return ()
