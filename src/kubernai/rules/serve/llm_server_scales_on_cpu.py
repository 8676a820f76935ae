"""SRV030 llm-server-scales-on-cpu."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.autoscaling import AUTOSCALER_KINDS, metrics, scale_target
from kubernai.model.gpu import accelerator_names
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.servers import servers
from kubernai.rules.base import Finding, Rule, Severity

SERVER_NAMES = {"vllm": "vLLM", "tgi": "TGI", "triton": "Triton", "sglang": "SGLang"}


class LlmServerScalesOnCpu(Rule):
    """Autoscaler scales a GPU inference server on CPU or memory only.

    ## Mechanism
    An HPA (or the HPA that a KEDA ScaledObject creates) adds replicas when
    `ceil(replicas × current / target)` grows. For a vLLM, TGI, SGLang or
    Triton server on a GPU, CPU and host memory say little about load: the
    decode loop runs on the GPU, one or two cores stay busy whether 2 or 200
    requests wait, and the weights and KV cache sit in GPU memory that the
    resource metrics API does not report. So the autoscaler stays at
    `minReplicas` while the queue and time to first token grow, and when
    CPU does move (tokenisation bursts, a busy sidecar) it scales for the
    wrong reason. An HPA without `metrics` counts too: the API server fills
    in cpu at 80 % utilization. Scale on a signal of the server's own
    queue: `vllm:num_requests_waiting`, `tgi_queue_size`,
    `nv_inference_pending_request_count`, through a Pods or External metric
    (prometheus-adapter) or a KEDA `prometheus` trigger. Reported only when
    the target is in the input, runs one of these servers and requests an
    accelerator, and when no metric other than cpu and memory is listed
    (the HPA follows the largest proposal, so a queue metric next to cpu
    is fine).

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: llama
    spec:
      selector:
        matchLabels: {app: llama}
      template:
        metadata:
          labels: {app: llama}
        spec:
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.10.1
              args: [--model=meta-llama/Llama-3.1-8B-Instruct]
              resources:
                requests: {cpu: "4", memory: 32Gi}
                limits: {nvidia.com/gpu: 1}
    ---
    apiVersion: autoscaling/v2
    kind: HorizontalPodAutoscaler
    metadata:
      name: llama
    spec:
      scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: llama}
      minReplicas: 1
      maxReplicas: 4
      metrics:
        - type: Resource
          resource:
            name: cpu
            target: {type: Utilization, averageUtilization: 70}
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: llama
    spec:
      selector:
        matchLabels: {app: llama}
      template:
        metadata:
          labels: {app: llama}
        spec:
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.10.1
              args: [--model=meta-llama/Llama-3.1-8B-Instruct]
              resources:
                requests: {cpu: "4", memory: 32Gi}
                limits: {nvidia.com/gpu: 1}
    ---
    apiVersion: autoscaling/v2
    kind: HorizontalPodAutoscaler
    metadata:
      name: llama
    spec:
      scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: llama}
      minReplicas: 1
      maxReplicas: 4
      metrics:
        - type: Pods
          pods:
            metric: {name: vllm_num_requests_waiting}
            target: {type: AverageValue, averageValue: "5"}
    ```

    ## References
    - https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#algorithm-details
    - kubernetes `pkg/apis/autoscaling/v2/defaults.go` (no metrics: cpu
      `Utilization` 80 %)
    - https://keda.sh/docs/latest/scalers/prometheus/
    - https://docs.vllm.ai/en/latest/design/metrics.html
    - vllm-project/production-stack `helm/templates/scaledobject-vllm.yaml`
      (default trigger `vllm:num_requests_waiting`)
    """

    code = "SRV030"
    name = "llm-server-scales-on-cpu"
    severity = Severity.WARNING
    mechanism = "hpa-for-token-throughput"
    kinds = AUTOSCALER_KINDS

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        found = metrics(resource)
        if not found or not all(m.on_host_resource for m in found):
            return
        target = scale_target(graph, resource)
        if target is None:
            return
        for template in target.templates:
            gpus = sorted(
                {n for c in template.containers for n in accelerator_names(c)}
            )
            server = next(servers(template), None)
            if not gpus or server is None:
                continue
            used = ", ".join(m.describe() for m in found)
            yield self.finding(
                resource,
                f"scales {target.kind} {target.name!r}, a "
                f"{SERVER_NAMES.get(server.kind, server.kind)} server with "
                f"{', '.join(gpus)}, only on {used}",
                path=found[0].path,
            )
            return
