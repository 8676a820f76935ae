"""OPS061 gpu-pod-rejected-at-admission."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.events import (
    events_about,
    gpu_resource_named,
    latest,
    quoted,
    read_event,
    representative,
    seen,
)
from kubernai.model.gpu import requests_accelerator
from kubernai.model.graph import ObjectGraph
from kubernai.model.kubelet_failures import (
    TOPOLOGY_AFFINITY,
    UNEXPECTED_ADMISSION,
    AdmissionFailure,
    AdmissionProblem,
    parse_admission_failure,
)
from kubernai.model.pod_status import node_name, phase, pod_template, uid
from kubernai.model.resource import Resource, get_str
from kubernai.rules.base import Finding, Rule, Severity

REJECTIONS = frozenset({UNEXPECTED_ADMISSION, TOPOLOGY_AFFINITY})


class GpuPodRejectedAtAdmission(Rule):
    """GPU pod that the kubelet rejected because it could not allocate devices.

    ## Mechanism
    The scheduler places a pod by the node's `allocatable` GPU count; the
    kubelet then asks its device manager for concrete devices. When that
    fails, the kubelet rejects the pod: it records a Warning event
    `UnexpectedAdmissionError` with `Allocate failed due to <error>, which is
    unexpected` and sets the pod `Failed` with the same reason and the message
    `Pod was rejected: ...`. The pod is never retried; a controller creates a
    new pod and the Failed one stays behind. The device manager's errors say
    why: `requested number of devices unavailable for nvidia.com/gpu.
    Requested: 1, Available: 0` (fewer healthy free devices than the scheduler
    assumed: devices turned unhealthy, or are still held), `no healthy devices
    present; cannot allocate unhealthy devices nvidia.com/gpu` (every GPU of
    the node marked unhealthy, usually after an XID error), `previously
    allocated devices are no longer healthy`, `cannot allocate unregistered
    device nvidia.com/gpu` (no device plugin registered), or the device
    plugin's own refusal, such as `request for 'nvidia.com/gpu: 2' too large:
    maximum request size for shared resources is 1` for time-sliced GPUs. With
    the topology manager, `TopologyAffinityError` (`Resources cannot be
    allocated with Topology locality`) rejects pods whose GPUs and CPUs fit no
    NUMA node. Events of pods the input does not hold are reported only when
    it has no Pods of that namespace.

    ## Example
    ```yaml
    apiVersion: v1
    kind: Pod
    metadata:
      name: vllm-7d9f8-abcde
      namespace: serving
    spec:
      nodeName: gpu-node-3
      containers:
        - name: server
          image: vllm/vllm-openai:v0.6.3
          resources:
            limits:
              nvidia.com/gpu: 1
    status:
      phase: Failed
      reason: UnexpectedAdmissionError
      message: >-
        Pod was rejected: Allocate failed due to no healthy devices present;
        cannot allocate unhealthy devices nvidia.com/gpu, which is unexpected
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: Pod
    metadata:
      name: vllm-7d9f8-fghij
      namespace: serving
    spec:
      nodeName: gpu-node-4
      containers:
        - name: server
          image: vllm/vllm-openai:v0.6.3
          resources:
            limits:
              nvidia.com/gpu: 1
    status:
      phase: Running
    ```

    ## References
    - kubernetes `pkg/kubelet/cm/devicemanager/manager.go`
      (`devicesToAllocate`), `pkg/kubelet/cm/admission/errors.go`,
      `pkg/kubelet/kubelet.go` (`rejectPod`)
    - NVIDIA/k8s-device-plugin `internal/plugin/server.go` (`Allocate`)
    - https://kubernetes.io/docs/concepts/extend-kubernetes/compute-storage-net/device-plugins/
    """

    code = "OPS061"
    name = "gpu-pod-rejected-at-admission"
    severity = Severity.ERROR
    mechanism = "kubernetes-events-for-gpu-failures"
    kinds = frozenset({"Pod", "Event"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if resource.kind == "Pod":
            yield from self._pod(resource, graph)
        else:
            yield from self._event(resource, graph)

    def _pod(self, pod: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        reason = get_str(pod.raw, "status", "reason")
        if reason not in REJECTIONS or phase(pod) != "Failed":
            return
        message = get_str(pod.raw, "status", "message")
        failure = parse_admission_failure(reason, message)
        template = pod_template(pod)
        wants_gpu = template is not None and requests_accelerator(template)
        if failure is None or not (wants_gpu or gpu_resource_named(failure.resource)):
            return
        records = events_about(graph, "Pod", pod.namespace, pod.name)
        event = latest(records, REJECTIONS, uid(pod))
        when = f" {seen(event)}" if event is not None else ""
        yield self.finding(
            pod,
            f"GPU pod was rejected by the kubelet{_on(node_name(pod))}: "
            f"{quoted(message)}{when}: {_explain(failure)}; the pod stays Failed "
            "and is not retried",
            path=("status", "message"),
        )

    def _event(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        record = read_event(resource)
        if record is None or record.reason != UNEXPECTED_ADMISSION:
            return
        about = record.about
        if about.kind != "Pod" or graph.of_kind("Pod", about.namespace):
            return  # the Pod check reports; a pod missing from a snapshot is gone
        failure = parse_admission_failure(record.reason, record.message)
        if failure is None or not gpu_resource_named(failure.resource):
            return
        if not representative(record, graph, REJECTIONS):
            return
        yield self.finding(
            resource,
            f"GPU pod {about.namespace}/{about.name} was rejected by the kubelet"
            f"{_on(record.host)}: {quoted(record.message)} {seen(record)}: "
            f"{_explain(failure)}; the pod stays Failed and is not retried",
            path=record.message_path,
        )


def _on(node: str) -> str:
    return f" on node {node}" if node else ""


def _explain(failure: AdmissionFailure) -> str:
    resource = failure.resource or "the GPU resource"
    problem = failure.problem
    if problem == AdmissionProblem.DEVICES_UNAVAILABLE:
        return (
            f"the device manager had {failure.available} healthy free {resource} "
            f"for a request of {failure.requested}, fewer than the scheduler "
            "counted (devices turned unhealthy or are still held by other pods)"
        )
    if problem == AdmissionProblem.NO_HEALTHY_DEVICES:
        return (
            f"every {resource} of the node is marked unhealthy by its device "
            "plugin (look for XID errors on the node)"
        )
    if problem == AdmissionProblem.DEVICES_NO_LONGER_HEALTHY:
        return f"the {resource} devices the pod held were marked unhealthy"
    if problem == AdmissionProblem.UNREGISTERED:
        return (
            f"no device plugin for {resource} is registered with the kubelet "
            "(the plugin pod is not running on the node, or restarted)"
        )
    if problem == AdmissionProblem.PLUGIN_REJECTED:
        return f"the device plugin refused the allocation ({failure.detail})"
    return "the topology manager found no NUMA placement for the pod's devices and CPUs"
