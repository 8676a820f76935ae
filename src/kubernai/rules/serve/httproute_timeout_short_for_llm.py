"""SRV045 httproute-timeout-short-for-llm."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.ingress import (
    LLM_RESPONSE_SECONDS,
    format_seconds,
    gateway_duration,
)
from kubernai.model.resource import Resource, get_map
from kubernai.model.route_backends import iter_route_rules, route_rule_llm_backends
from kubernai.rules.base import Finding, Rule, Severity


class HttprouteTimeoutShortForLlm(Rule):
    """HTTPRoute timeout shorter than an LLM response takes.

    ## Mechanism
    Gateway API `HTTPRoute` rules take `timeouts.request` (the whole
    request-response transaction at the gateway) and `timeouts.backendRequest`
    (one request to a backend, until its full response is received). Both run
    until the response is complete, so they cut streamed completions too: when
    the deadline passes the gateway ends the response, with a timeout error
    (`504` from Envoy-based gateways) if nothing was sent yet or a truncated
    event stream otherwise, and the tokens generated so far are lost. A
    completion of a few thousand tokens at tens of tokens per second takes
    minutes. The rule fires when a rule whose backends (Services, or inference
    extension InferencePools) select vLLM, TGI, SGLang or Triton (with its
    TensorRT-LLM or vLLM backend) pods sets either timeout to a non-zero value
    under 300 s. `0s` disables the timeout. When the fields are unset the
    behaviour is implementation-specific (Envoy Gateway documents Envoy's 15 s
    route default, Istio sets no timeout) and the rule stays silent.

    ## Example
    ```yaml
    apiVersion: gateway.networking.k8s.io/v1
    kind: HTTPRoute
    metadata:
      name: llm
    spec:
      parentRefs: [{name: inference-gateway}]
      rules:
        - backendRefs:
            - {name: vllm, port: 8000}
          timeouts:
            request: 30s
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
    apiVersion: gateway.networking.k8s.io/v1
    kind: HTTPRoute
    metadata:
      name: llm
    spec:
      parentRefs: [{name: inference-gateway}]
      rules:
        - backendRefs:
            - {name: vllm, port: 8000}
          timeouts:
            request: 15m
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
    - https://gateway-api.sigs.k8s.io/reference/spec/#httproutetimeouts
    - https://gateway-api.sigs.k8s.io/geps/gep-1742/
    - https://www.envoyproxy.io/docs/envoy/latest/faq/configuration/timeouts
    - https://gateway.envoyproxy.io/latest/tasks/traffic/http-timeouts/
    """

    code = "SRV045"
    name = "httproute-timeout-short-for-llm"
    severity = Severity.WARNING
    mechanism = "streaming-ingress-for-llm-responses"
    kinds = frozenset({"HTTPRoute"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for index, rule in iter_route_rules(resource):
            timeouts = get_map(rule, "timeouts")
            short = []
            for field in ("request", "backendRequest"):
                seconds = gateway_duration(timeouts.get(field))
                if seconds is not None and 0 < seconds < LLM_RESPONSE_SECONDS:
                    short.append((field, timeouts[field], seconds))
            if not short:
                continue
            backends = route_rule_llm_backends(resource, index, rule, graph)
            if not backends:
                continue
            for field, text, seconds in short:
                yield self.finding(
                    resource,
                    f"rule {index} sets timeouts.{field} {text} "
                    f"({format_seconds(seconds)}) for {backends[0].describe()}: "
                    "a completion that takes longer is cut off, streamed or "
                    f'not (use at least {LLM_RESPONSE_SECONDS}s, or "0s")',
                    path=("spec", "rules", index, "timeouts", field),
                )
