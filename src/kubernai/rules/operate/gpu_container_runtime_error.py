"""OPS067 gpu-container-runtime-error."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from kubernai.model.events import (
    EventRecord,
    events_about,
    happened_after,
    quoted,
    read_event,
    same_object,
    seen,
)
from kubernai.model.gpu import requests_accelerator
from kubernai.model.graph import ObjectGraph
from kubernai.model.kubelet_failures import (
    FAILED_SANDBOX,
    RuntimeFailure,
    RuntimeProblem,
    container_cli_hint,
    parse_runtime_failure,
)
from kubernai.model.pod_status import (
    node_name,
    phase,
    pod_template,
    state_messages,
    uid,
)
from kubernai.model.resource import Path, Resource, get_list, get_path, get_str
from kubernai.rules.base import Finding, Rule, Severity

RUNTIME_REASONS = frozenset({FAILED_SANDBOX, "Failed"})
STARTED = frozenset({"Started"})


class GpuContainerRuntimeError(Rule):
    """GPU pod whose containers the runtime cannot create on its node.

    ## Mechanism
    A pod bound to a node still has to get a sandbox and containers from the
    container runtime, and for GPU containers the NVIDIA Container Toolkit
    hooks into that. Two failures keep such pods in `ContainerCreating` or
    `CrashLoopBackOff` on one node while they would run on another:
    - the runtime handler the pod's RuntimeClass names is not configured in
      containerd or CRI-O on the node: event `FailedCreatePodSandBox` with
      `failed to get sandbox runtime: no runtime for "nvidia" is configured`
      (containerd), `RuntimeHandler "nvidia" not supported` (dockershim) or
      `failed to find runtime handler nvidia from runtime list` (CRI-O); the
      toolkit was never installed there, or its DaemonSet has not finished;
    - the NVIDIA container CLI fails while creating the container: event
      `Failed` (and the container's state) with `OCI runtime create failed:
      ... nvidia-container-cli: initialization error: nvml error: driver not
      loaded: unknown`, `... driver/library version mismatch`, `load library
      failed: libnvidia-ml.so.1 ...`, or `requirement error: unsatisfied
      condition: cuda>=12.4`: the node's driver is missing, half-upgraded or
      too old for the image.
    Each pod is reported once, with the latest message; a container that has
    started since is not reported. Events of pods the input does not hold are
    reported only when it has no Pods of that namespace.

    ## Example
    ```yaml
    apiVersion: v1
    kind: Pod
    metadata:
      name: llm-0
      namespace: serving
    spec:
      nodeName: gpu-node-9
      runtimeClassName: nvidia
      containers:
        - name: server
          image: vllm/vllm-openai:v0.6.3
          resources:
            limits: {nvidia.com/gpu: 1}
    status:
      phase: Pending
      containerStatuses:
        - name: server
          ready: false
          restartCount: 3
          state:
            waiting:
              reason: CrashLoopBackOff
          lastState:
            terminated:
              reason: StartError
              exitCode: 128
              message: >-
                failed to create containerd task: failed to create shim task:
                OCI runtime create failed: runc create failed: unable to start
                container process: error during container init: error running
                hook #0: error running hook: exit status 1, stdout: , stderr:
                Auto-detected mode as 'legacy'
                nvidia-container-cli: initialization error: nvml error: driver
                not loaded: unknown
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: Pod
    metadata:
      name: llm-0
      namespace: serving
    spec:
      nodeName: gpu-node-9
      runtimeClassName: nvidia
      containers:
        - name: server
          image: vllm/vllm-openai:v0.6.3
          resources:
            limits: {nvidia.com/gpu: 1}
    status:
      phase: Running
      containerStatuses:
        - name: server
          ready: true
          restartCount: 0
          state:
            running: {startedAt: "2025-05-01T10:12:00Z"}
    ```

    ## References
    - https://github.com/NVIDIA/gpu-operator/issues/549
    - https://github.com/NVIDIA/nvidia-container-toolkit/issues/173
    - https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/troubleshooting.html
    - NVIDIA/libnvidia-container `src/cli/main.c`, `src/error.c`
    """

    code = "OPS067"
    name = "gpu-container-runtime-error"
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
        wants_gpu = template is not None and requests_accelerator(template)
        if phase(pod) not in ("", "Pending", "Running"):
            return
        node = node_name(pod)
        if _all_ready(pod):
            return
        for state in state_messages(pod):
            failure = parse_runtime_failure(state.message)
            if failure is None or not _about_gpus(failure, wants_gpu):
                continue
            if state.path[3] == "lastState" and _running(pod, state.path[:3]):
                continue  # started again since
            who = f"container {state.container!r}" if state.container else "container"
            yield self.finding(
                pod,
                f"{who} of a GPU pod cannot be created{_on(node)}: {_explain(failure)}",
                path=state.path,
            )
            return
        if phase(pod) == "Running":
            return
        records = events_about(graph, "Pod", pod.namespace, pod.name)
        found = _last_failure(records, uid(pod), wants_gpu)
        if found is None:
            return
        record, failure = found
        if happened_after(record, graph, STARTED) is not None:
            return
        path: Path = ("spec", "runtimeClassName") if _has_class(pod) else ()
        yield self.finding(
            pod,
            f"GPU pod cannot start{_on(node or record.host)}: {_explain(failure)} "
            f"{seen(record)}",
            path=path,
        )

    def _event(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        record = read_event(resource)
        if record is None or record.reason not in RUNTIME_REASONS:
            return
        about = record.about
        if about.kind != "Pod" or graph.of_kind("Pod", about.namespace):
            return  # the Pod check reports; a pod missing from a snapshot is gone
        records = events_about(graph, about.kind, about.namespace, about.name)
        found = _last_failure(records, about.uid, False)
        if found is None or found[0] is not record:
            return
        if happened_after(record, graph, STARTED) is not None:
            return
        yield self.finding(
            resource,
            f"GPU pod {about.namespace}/{about.name} cannot start"
            f"{_on(record.host)}: {_explain(found[1])} {seen(record)}",
            path=record.message_path,
        )


def _on(node: str) -> str:
    return f" on node {node}" if node else ""


def _about_gpus(failure: RuntimeFailure, wants_gpu: bool) -> bool:
    if failure.problem == RuntimeProblem.CONTAINER_CLI:
        return True
    return wants_gpu or "nvidia" in failure.handler.lower()


def _last_failure(
    records: tuple[EventRecord, ...], pod_uid: str, wants_gpu: bool
) -> tuple[EventRecord, RuntimeFailure] | None:
    for record in reversed(records):
        if record.reason not in RUNTIME_REASONS or not same_object(record, pod_uid):
            continue
        failure = parse_runtime_failure(record.message)
        if failure is not None and _about_gpus(failure, wants_gpu):
            return record, failure
    return None


def _explain(failure: RuntimeFailure) -> str:
    if failure.problem == RuntimeProblem.HANDLER_MISSING:
        return (
            f'the container runtime has no handler "{failure.handler}" (the '
            "RuntimeClass handler): the NVIDIA Container Toolkit is not configured "
            "in containerd or CRI-O on that node"
        )
    hint = container_cli_hint(failure.detail)
    said = quoted(f"nvidia-container-cli: {failure.stage} error: {failure.detail}")
    return f"{said}" + (f": {hint}" if hint else "")


def _all_ready(pod: Resource) -> bool:
    items = get_list(pod.raw, "status", "containerStatuses")
    return bool(items) and all(get_path(i, "ready") is True for i in items)


def _running(pod: Resource, base: Path) -> bool:
    return isinstance(get_path(pod.raw, *base, "state", "running"), Mapping)


def _has_class(pod: Resource) -> bool:
    return bool(get_str(pod.raw, "spec", "runtimeClassName"))
