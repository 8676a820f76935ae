"""SRV033 scale-down-faster-than-startup."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kubernai.model.autoscaling import (
    AUTOSCALER_KINDS,
    DEFAULT_SCALE_DOWN_WINDOW_S,
    HPA,
    KEDA_DEFAULT_MAX_REPLICAS,
    SCALED_OBJECT,
    Window,
    keda_cooldown,
    keda_min_replicas,
    keda_scales_to_zero,
    measured_containers,
    scale_down_window,
    scale_target,
)
from kubernai.model.gpu import requests_accelerator
from kubernai.model.graph import ObjectGraph
from kubernai.model.quantity import parse_count
from kubernai.model.resource import Path, Resource, get_path, get_str
from kubernai.rules.base import Finding, Rule, Severity

_PROBES = ("startupProbe", "readinessProbe")


@dataclass(frozen=True, slots=True)
class _Startup:
    """The earliest a new pod can be Ready, as its probes declare it."""

    seconds: int
    probe: str
    container: str


class ScaleDownFasterThanStartup(Rule):
    """Autoscaler removes GPU server pods sooner than a new one can become Ready.

    ## Mechanism
    The HPA scales down to the highest replica count it recommended during
    the last `behavior.scaleDown.stabilizationWindowSeconds` (default 300 s,
    the kube-controller-manager flag
    `--horizontal-pod-autoscaler-downscale-stabilization`). An LLM server
    pod needs minutes before it serves: node provisioning, image pull,
    weight download and load, CUDA graph capture. When the window is
    shorter than that, a lull in the queue longer than the window removes
    pods, and the ReplicaSet deletes pods that are not Ready yet first, so
    replicas still loading their weights are the ones killed; when load
    returns the same start-up is paid again, and the time to first token
    follows the oscillation. KEDA's `cooldownPeriod` (default 300 s) plays
    the same part for the last replica when `minReplicaCount` is 0: after
    that many idle seconds the server is gone and the next request waits for
    a full cold start. The check takes the start-up that the manifest
    itself declares, the largest `initialDelaySeconds` of a
    `startupProbe` or `readinessProbe` (the kubelet does not probe, so the
    pod is not Ready, before it), and compares it with the window. It
    looks only at targets in the input that request an accelerator, and
    skips autoscalers whose scale-down is disabled (`selectPolicy:
    Disabled`) or that cannot scale (`minReplicas` equal to `maxReplicas`).

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: llama-70b
    spec:
      selector:
        matchLabels: {app: llama-70b}
      template:
        metadata:
          labels: {app: llama-70b}
        spec:
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.10.1
              args:
                - --model=meta-llama/Llama-3.1-70B-Instruct
                - --tensor-parallel-size=4
              readinessProbe:
                httpGet: {path: /health, port: 8000}
                initialDelaySeconds: 600
              resources:
                limits: {nvidia.com/gpu: 4}
    ---
    apiVersion: autoscaling/v2
    kind: HorizontalPodAutoscaler
    metadata:
      name: llama-70b
    spec:
      scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: llama-70b}
      minReplicas: 1
      maxReplicas: 4
      metrics:
        - type: Pods
          pods:
            metric: {name: vllm_num_requests_waiting}
            target: {type: AverageValue, averageValue: "5"}
      behavior:
        scaleDown:
          stabilizationWindowSeconds: 60
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: llama-70b
    spec:
      selector:
        matchLabels: {app: llama-70b}
      template:
        metadata:
          labels: {app: llama-70b}
        spec:
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.10.1
              args:
                - --model=meta-llama/Llama-3.1-70B-Instruct
                - --tensor-parallel-size=4
              readinessProbe:
                httpGet: {path: /health, port: 8000}
                initialDelaySeconds: 600
              resources:
                limits: {nvidia.com/gpu: 4}
    ---
    apiVersion: autoscaling/v2
    kind: HorizontalPodAutoscaler
    metadata:
      name: llama-70b
    spec:
      scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: llama-70b}
      minReplicas: 1
      maxReplicas: 4
      metrics:
        - type: Pods
          pods:
            metric: {name: vllm_num_requests_waiting}
            target: {type: AverageValue, averageValue: "5"}
      behavior:
        scaleDown:
          stabilizationWindowSeconds: 1200
    ```

    ## References
    - https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#stabilization-window
    - https://kubernetes.io/docs/reference/command-line-tools-reference/kube-controller-manager/
      (`--horizontal-pod-autoscaler-downscale-stabilization`, default 5m0s)
    - kubernetes `pkg/controller/replicaset/replica_set.go` (`getPodsToDelete`)
      and `pkg/controller/controller_utils.go` (`ActivePodsWithRanks`: pods
      that are not Ready are deleted first)
    - https://keda.sh/docs/latest/reference/scaledobject-spec/#cooldownperiod
    - https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/
    """

    code = "SRV033"
    name = "scale-down-faster-than-startup"
    severity = Severity.WARNING
    mechanism = "hpa-for-token-throughput"
    kinds = AUTOSCALER_KINDS

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        target = scale_target(graph, resource)
        if target is None:
            return
        startup = _declared_startup(target)
        if startup is None:
            return
        ready = (
            f"a new pod of {target.kind} {target.name!r} is not Ready before "
            f"{startup.seconds}s ({startup.probe}.initialDelaySeconds of "
            f"container {startup.container!r})"
        )
        if _can_scale_down(resource):
            window = scale_down_window(resource)
            if window.seconds is not None and window.seconds < startup.seconds:
                where = (
                    "behavior.scaleDown.stabilizationWindowSeconds"
                    if resource.kind == HPA
                    else "advanced.horizontalPodAutoscalerConfig.behavior.scaleDown"
                    ".stabilizationWindowSeconds"
                )
                told = _told(window, where)
                yield self.finding(
                    resource,
                    f"scale-down stabilization window is {told}, but {ready}",
                    path=window.path,
                )
        if resource.kind == SCALED_OBJECT and keda_scales_to_zero(resource):
            cooldown = keda_cooldown(resource)
            if cooldown.seconds is not None and cooldown.seconds < startup.seconds:
                told = _told(cooldown, "cooldownPeriod")
                yield self.finding(
                    resource,
                    f"KEDA scales to zero after {told} without activity, but {ready}",
                    path=cooldown.path,
                )


def _told(window: Window, field: str) -> str:
    if window.explicit:
        return f"{window.seconds}s ({field})"
    if field == "cooldownPeriod":
        return f"{window.seconds}s (cooldownPeriod default)"
    return (
        f"{DEFAULT_SCALE_DOWN_WINDOW_S}s (the kube-controller-manager default, assumed)"
    )


def _can_scale_down(scaler: Resource) -> bool:
    """False when scale-down is disabled or the replica range is a single value."""
    if scaler.kind == HPA:
        behavior: Path = ("spec", "behavior")
        low = get_path(scaler.raw, "spec", "minReplicas")
        least = 1 if low is None else parse_count(low)
        most = parse_count(get_path(scaler.raw, "spec", "maxReplicas"))
    else:
        behavior = ("spec", "advanced", "horizontalPodAutoscalerConfig", "behavior")
        floor = keda_min_replicas(scaler)
        least = None if floor is None else max(floor, 1)
        high = get_path(scaler.raw, "spec", "maxReplicaCount")
        most = KEDA_DEFAULT_MAX_REPLICAS if high is None else parse_count(high)
    if get_str(scaler.raw, *behavior, "scaleDown", "selectPolicy") == "Disabled":
        return False
    return least is None or most is None or least < most


def _declared_startup(target: Resource) -> _Startup | None:
    """The longest declared delay before a pod of an accelerator template is Ready."""
    best: _Startup | None = None
    for template in target.templates:
        if not requests_accelerator(template):
            continue
        for container in measured_containers(template):
            for probe in _PROBES:
                delay = parse_count(
                    get_path(container.raw, probe, "initialDelaySeconds")
                )
                if delay is not None and (best is None or delay > best.seconds):
                    best = _Startup(delay, probe, container.name or "(unnamed)")
    return best
