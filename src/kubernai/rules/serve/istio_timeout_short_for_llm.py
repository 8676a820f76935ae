"""SRV047 istio-timeout-short-for-llm."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.ingress import LLM_RESPONSE_SECONDS, format_seconds, go_duration
from kubernai.model.resource import Resource, iter_maps
from kubernai.model.route_backends import virtual_service_llm_backends
from kubernai.rules.base import Finding, Rule, Severity


class IstioTimeoutShortForLlm(Rule):
    """Istio VirtualService timeout shorter than an LLM response takes.

    ## Mechanism
    An Istio `VirtualService` HTTP route has no request timeout unless `timeout`
    is set. When it is, the Envoy proxies enforce it as the route timeout, which
    runs until the response is complete: Envoy's documentation notes it is not
    compatible with streaming responses. A completion that takes longer,
    streamed or not, is ended with `504 upstream request timeout` (or a cut
    stream), and the GPU time spent on it is lost. The rule fires when an `http`
    route whose destinations are Services in the input selecting vLLM, TGI,
    SGLang or Triton (with its TensorRT-LLM or vLLM backend) pods sets `timeout`
    to a non-zero value under 300 s. `0s` turns the timeout off.

    ## Example
    ```yaml
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata:
      name: llm
    spec:
      hosts: [llm.example.com]
      gateways: [istio-system/public]
      http:
        - route:
            - destination: {host: vllm, port: {number: 8000}}
          timeout: 30s
    ---
    apiVersion: v1
    kind: Service
    metadata:
      name: vllm
    spec:
      selector: {app: vllm}
      ports: [{port: 8000}]
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
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.10.1
              args: ["--model", "Qwen/Qwen2.5-7B-Instruct"]
    ```

    ## Use instead
    ```yaml
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata:
      name: llm
    spec:
      hosts: [llm.example.com]
      gateways: [istio-system/public]
      http:
        - route:
            - destination: {host: vllm, port: {number: 8000}}
          timeout: 900s
    ---
    apiVersion: v1
    kind: Service
    metadata:
      name: vllm
    spec:
      selector: {app: vllm}
      ports: [{port: 8000}]
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
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.10.1
              args: ["--model", "Qwen/Qwen2.5-7B-Instruct"]
    ```

    ## References
    - https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRoute
    - https://istio.io/latest/docs/tasks/traffic-management/request-timeouts/
    - https://www.envoyproxy.io/docs/envoy/latest/faq/configuration/timeouts
    """

    code = "SRV047"
    name = "istio-timeout-short-for-llm"
    severity = Severity.WARNING
    mechanism = "streaming-ingress-for-llm-responses"
    kinds = frozenset({"VirtualService"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for index, http in iter_maps(resource.raw, "spec", "http"):
            text = http.get("timeout")
            seconds = go_duration(text)
            if seconds is None or not 0 < seconds < LLM_RESPONSE_SECONDS:
                continue
            backends = virtual_service_llm_backends(resource, index, http, graph)
            if not backends:
                continue
            yield self.finding(
                resource,
                f"http[{index}] sets timeout {text} ({format_seconds(seconds)}) "
                f"for {backends[0].describe()}: a completion that takes longer is "
                "cut off, streamed or not "
                f'(use at least {LLM_RESPONSE_SECONDS}s, or "0s")',
                path=("spec", "http", index, "timeout"),
            )
