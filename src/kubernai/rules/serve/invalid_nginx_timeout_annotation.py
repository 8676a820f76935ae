"""SRV042 invalid-nginx-timeout-annotation."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.ingress import (
    NGINX_TIMEOUTS,
    Controller,
    ingress_controller,
    nginx_annotation,
    nginx_is_canary,
    nginx_seconds,
)
from kubernai.model.resource import Resource
from kubernai.model.route_backends import ingress_llm_backends
from kubernai.rules.base import Finding, Rule, Severity


class InvalidNginxTimeoutAnnotation(Rule):
    """ingress-nginx timeout annotation on an LLM route that nginx will not use.

    ## Mechanism
    ingress-nginx reads `proxy-read-timeout`, `proxy-send-timeout` and
    `proxy-connect-timeout` as a bare number of seconds ("All timeout values are
    unitless and in seconds"): the annotation is validated and parsed with Go's
    `strconv.Atoi`. A value with a unit (`"300s"`, `"10m"`), a decimal point or
    spaces fails; the controller (with annotation validation on, the default)
    logs `validation error on ingress <ns>/<name>: annotation proxy-read-timeout
    contains invalid value 300s` and uses its default instead (60 s for read and
    send, 5 s for connect). The Ingress is accepted, so the mistake shows only
    as 504s once a completion takes longer than a minute. An annotation written
    as a YAML number (`proxy-read-timeout: 600`) does not get that far: the API
    server rejects the Ingress, because annotation values are strings. The rule
    checks Ingresses served by ingress-nginx that route to vLLM, TGI, SGLang or
    Triton (with its TensorRT-LLM or vLLM backend).

    ## Example
    ```yaml
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: chat
      annotations:
        nginx.ingress.kubernetes.io/proxy-read-timeout: "3600s"
    spec:
      ingressClassName: nginx
      rules:
        - http:
            paths:
              - path: /
                pathType: Prefix
                backend:
                  service: {name: sglang, port: {number: 30000}}
    ---
    apiVersion: v1
    kind: Service
    metadata:
      name: sglang
    spec:
      selector: {app: sglang}
      ports: [{port: 30000}]
    ---
    apiVersion: apps/v1
    kind: StatefulSet
    metadata:
      name: sglang
    spec:
      selector:
        matchLabels: {app: sglang}
      template:
        metadata:
          labels: {app: sglang}
        spec:
          containers:
            - name: sglang
              image: lmsysorg/sglang:v0.4.9-cu126
              command: ["python3", "-m", "sglang.launch_server"]
              args: ["--model-path", "Qwen/Qwen2.5-7B-Instruct", "--port", "30000"]
    ```

    ## Use instead
    ```yaml
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: chat
      annotations:
        nginx.ingress.kubernetes.io/proxy-read-timeout: "3600"
    spec:
      ingressClassName: nginx
      rules:
        - http:
            paths:
              - path: /
                pathType: Prefix
                backend:
                  service: {name: sglang, port: {number: 30000}}
    ---
    apiVersion: v1
    kind: Service
    metadata:
      name: sglang
    spec:
      selector: {app: sglang}
      ports: [{port: 30000}]
    ---
    apiVersion: apps/v1
    kind: StatefulSet
    metadata:
      name: sglang
    spec:
      selector:
        matchLabels: {app: sglang}
      template:
        metadata:
          labels: {app: sglang}
        spec:
          containers:
            - name: sglang
              image: lmsysorg/sglang:v0.4.9-cu126
              command: ["python3", "-m", "sglang.launch_server"]
              args: ["--model-path", "Qwen/Qwen2.5-7B-Instruct", "--port", "30000"]
    ```

    ## References
    - https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#custom-timeouts
    - https://github.com/kubernetes/ingress-nginx/blob/main/internal/ingress/annotations/proxy/main.go
    - https://github.com/kubernetes/ingress-nginx/blob/main/internal/ingress/annotations/parser/validators.go
    - https://kubernetes.io/docs/concepts/overview/working-with-objects/annotations/
    """

    code = "SRV042"
    name = "invalid-nginx-timeout-annotation"
    severity = Severity.ERROR
    mechanism = "streaming-ingress-for-llm-responses"
    kinds = frozenset({"Ingress"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if nginx_is_canary(resource):
            return
        problems = []
        for name in NGINX_TIMEOUTS:
            annotation = nginx_annotation(resource, name)
            if annotation is None:
                continue
            value, path = annotation
            if isinstance(value, str):
                if value == "" or nginx_seconds(value) is not None:
                    continue  # an empty value is not validated: the default
                default = "5" if name == "proxy-connect-timeout" else "60"
                problems.append(
                    (
                        f"{name} {value!r} is not a bare number of seconds: "
                        f"ingress-nginx ignores it and uses its default "
                        f"({default} s unless the controller ConfigMap changes it)",
                        path,
                    )
                )
            elif isinstance(value, int | float) and not isinstance(value, bool):
                hint = f' (write "{value}")' if isinstance(value, int) else ""
                problems.append(
                    (
                        f"{name} is the YAML number {value}, not a string: the API "
                        f"server rejects the Ingress{hint}",
                        path,
                    )
                )
        if not problems:
            return
        if ingress_controller(resource, graph) is not Controller.INGRESS_NGINX:
            return
        backends = ingress_llm_backends(resource, graph)
        if not backends:
            return
        for message, path in problems:
            yield self.finding(
                resource,
                f"{message}; the Ingress routes to {backends[0].describe()}",
                path=path,
            )
