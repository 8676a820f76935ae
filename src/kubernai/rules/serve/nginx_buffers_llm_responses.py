"""SRV040 nginx-buffers-llm-responses."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.ingress import (
    Controller,
    ingress_controller,
    nginx_annotation,
    nginx_global,
    nginx_is_canary,
    nginx_snippets,
)
from kubernai.model.resource import Resource
from kubernai.model.route_backends import ingress_llm_backends
from kubernai.rules.base import Finding, Rule, Severity


class NginxBuffersLlmResponses(Rule):
    """ingress-nginx buffers the responses of an LLM server.

    ## Mechanism
    With `proxy_buffering on`, nginx collects the upstream response in its
    buffers (`proxy_buffers`, a few KiB each) instead of passing every chunk to
    the client as it arrives. A streamed completion (`"stream": true`,
    Server-Sent Events of a few bytes per token) then reaches the client late
    and in bursts, or all at once at the end, and a chat UI looks frozen
    although the server produces tokens at full speed. With buffering off, nginx
    passes the response on synchronously. ingress-nginx turns buffering off by
    default (ConfigMap `proxy-buffering: "off"`); the annotation
    `nginx.ingress.kubernetes.io/proxy-buffering: "on"` on the Ingress, or
    `proxy-buffering: "on"` in the controller ConfigMap (when that ConfigMap is
    in the input and the Ingress does not override it), turns it on. The rule
    fires only for an Ingress that routes to a Service whose pods run vLLM, TGI,
    SGLang or Triton (with its TensorRT-LLM or vLLM backend). Canary Ingresses
    are skipped (their nginx annotations are ignored), and so are Ingresses
    whose snippet annotations set `proxy_buffering` themselves.

    ## Example
    ```yaml
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: chat
      annotations:
        nginx.ingress.kubernetes.io/proxy-buffering: "on"
    spec:
      ingressClassName: nginx
      rules:
        - http:
            paths:
              - path: /v1
                pathType: Prefix
                backend:
                  service: {name: vllm, port: {number: 8000}}
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
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: chat
      annotations:
        nginx.ingress.kubernetes.io/proxy-buffering: "off"
    spec:
      ingressClassName: nginx
      rules:
        - http:
            paths:
              - path: /v1
                pathType: Prefix
                backend:
                  service: {name: vllm, port: {number: 8000}}
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
    - https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#proxy-buffering
    - https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/configmap/#proxy-buffering
    - https://github.com/kubernetes/ingress-nginx/blob/main/internal/ingress/annotations/proxy/main.go
    - https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_buffering
    """

    code = "SRV040"
    name = "nginx-buffers-llm-responses"
    severity = Severity.WARNING
    mechanism = "streaming-ingress-for-llm-responses"
    kinds = frozenset({"Ingress"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if nginx_is_canary(resource) or "proxy_buffering" in nginx_snippets(resource):
            return
        if ingress_controller(resource, graph) is not Controller.INGRESS_NGINX:
            return
        annotation = nginx_annotation(resource, "proxy-buffering")
        if annotation is None:
            setting = nginx_global(graph, "proxy-buffering")
            if setting.value is None or setting.value.strip() != "on":
                return
            where = f'{setting.source} sets proxy-buffering "on"'
        else:
            value, _ = annotation
            # The annotation is validated as exactly "on" or "off" (trimmed);
            # anything else falls back to the controller's setting.
            if not isinstance(value, str) or value.strip() != "on":
                return
            where = 'nginx.ingress.kubernetes.io/proxy-buffering is "on"'
        backends = ingress_llm_backends(resource, graph)
        if not backends:
            return
        path = backends[0].path if annotation is None else annotation[1]
        yield self.finding(
            resource,
            f"{where} for an Ingress that routes to {backends[0].describe()}: "
            "streamed tokens are held in nginx's buffers",
            path=path,
        )
