"""SRV046 invalid-httproute-timeout."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from kubernai.model.graph import ObjectGraph
from kubernai.model.ingress import (
    gateway_duration,
)
from kubernai.model.resource import Path, Resource, get_map
from kubernai.model.route_backends import iter_route_rules, route_rule_llm_backends
from kubernai.rules.base import Finding, Rule, Severity


class InvalidHttprouteTimeout(Rule):
    """HTTPRoute timeout on an LLM route that the API server rejects.

    ## Mechanism
    `timeouts.request` and `timeouts.backendRequest` of an `HTTPRoute` rule are
    Gateway API Durations (GEP-2257): one to four groups of up to five digits,
    each followed by `h`, `m`, `s` or `ms`, validated by the CRD pattern
    `^([0-9]{1,5}(h|m|s|ms)){1,4}$`. A bare number (`600`), a decimal (`1.5m`),
    a space or a unit such as `d` fails it, and `kubectl apply` answers
    `spec.rules[0].timeouts.request in body should match ...`. The CRD's CEL
    rule also rejects a `backendRequest` longer than a non-zero `request`
    (`backendRequest timeout cannot be longer than request timeout`). The whole
    HTTPRoute is refused, so the route to the model server is not created or not
    updated. The rule checks rules whose backends select vLLM, TGI, SGLang or
    Triton (with its TensorRT-LLM or vLLM backend) pods.

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
            - {name: tgi, port: 80}
          timeouts:
            request: "600"
    ---
    apiVersion: v1
    kind: Service
    metadata:
      name: tgi
    spec:
      selector: {app: tgi}
      ports: [{port: 80, targetPort: 8080}]
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: tgi
    spec:
      selector:
        matchLabels: {app: tgi}
      template:
        metadata:
          labels: {app: tgi}
        spec:
          containers:
            - name: tgi
              image: ghcr.io/huggingface/text-generation-inference:3.3.5
              env:
                - {name: MODEL_ID, value: meta-llama/Llama-3.1-8B-Instruct}
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
            - {name: tgi, port: 80}
          timeouts:
            request: 600s
    ---
    apiVersion: v1
    kind: Service
    metadata:
      name: tgi
    spec:
      selector: {app: tgi}
      ports: [{port: 80, targetPort: 8080}]
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: tgi
    spec:
      selector:
        matchLabels: {app: tgi}
      template:
        metadata:
          labels: {app: tgi}
        spec:
          containers:
            - name: tgi
              image: ghcr.io/huggingface/text-generation-inference:3.3.5
              env:
                - {name: MODEL_ID, value: meta-llama/Llama-3.1-8B-Instruct}
    ```

    ## References
    - https://gateway-api.sigs.k8s.io/geps/gep-2257/
    - https://gateway-api.sigs.k8s.io/reference/spec/#httproutetimeouts
    - https://github.com/kubernetes-sigs/gateway-api/blob/main/apis/v1/shared_types.go
    - https://github.com/kubernetes-sigs/gateway-api/blob/main/apis/v1/httproute_types.go
    """

    code = "SRV046"
    name = "invalid-httproute-timeout"
    severity = Severity.ERROR
    mechanism = "streaming-ingress-for-llm-responses"
    kinds = frozenset({"HTTPRoute"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for index, rule in iter_route_rules(resource):
            timeouts = get_map(rule, "timeouts")
            if not timeouts:
                continue
            problems: list[tuple[str, Path]] = []
            parsed: dict[str, Fraction] = {}
            for field in ("request", "backendRequest"):
                if field not in timeouts or timeouts[field] is None:
                    continue
                value = timeouts[field]
                path: Path = ("spec", "rules", index, "timeouts", field)
                seconds = gateway_duration(value)
                if seconds is not None:
                    parsed[field] = seconds
                elif isinstance(value, str):
                    problems.append(
                        (
                            f"timeouts.{field} {value!r} is not a Gateway API "
                            "Duration (digits with h, m, s or ms, e.g. 600s or 10m)",
                            path,
                        )
                    )
                else:
                    problems.append(
                        (
                            f"timeouts.{field} is {value!r}, not a Duration string "
                            "(e.g. 600s or 10m)",
                            path,
                        )
                    )
            request = parsed.get("request")
            backend = parsed.get("backendRequest")
            if request and backend is not None and backend > request:
                problems.append(
                    (
                        f"timeouts.backendRequest {timeouts['backendRequest']} is "
                        f"longer than timeouts.request {timeouts['request']}",
                        ("spec", "rules", index, "timeouts", "backendRequest"),
                    )
                )
            if not problems:
                continue
            backends = route_rule_llm_backends(resource, index, rule, graph)
            if not backends:
                continue
            for message, path in problems:
                yield self.finding(
                    resource,
                    f"rule {index}: {message}; the API server rejects the HTTPRoute "
                    f"that routes to {backends[0].describe()}",
                    path=path,
                )
