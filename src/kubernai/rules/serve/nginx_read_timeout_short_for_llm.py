"""SRV041 nginx-read-timeout-short-for-llm."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.ingress import (
    LLM_RESPONSE_SECONDS,
    Controller,
    ingress_controller,
    nginx_annotation,
    nginx_global,
    nginx_is_canary,
    nginx_seconds,
    nginx_snippets,
)
from kubernai.model.resource import Resource
from kubernai.model.route_backends import ingress_llm_backends
from kubernai.rules.base import Finding, Rule, Severity


class NginxReadTimeoutShortForLlm(Rule):
    """ingress-nginx gives an LLM server less than 300 s between two reads.

    ## Mechanism
    `proxy-read-timeout` is nginx's `proxy_read_timeout`: how long nginx waits
    between two reads from the upstream. It defaults to 60 s. An LLM server
    sends nothing until the first token, and with the OpenAI API's default
    `"stream": false` nothing until the whole completion is done; a long
    completion, a long prompt or a queue in front of a busy server easily takes
    minutes. When the timeout passes, nginx closes the upstream connection, logs
    `upstream timed out (110: Connection timed out) while reading response
    header from upstream`, and the client gets `504 Gateway Time-out`, losing
    the GPU time already spent on it. The rule fires for an Ingress served by
    ingress-nginx that routes to vLLM, TGI, SGLang or Triton (with its
    TensorRT-LLM or vLLM backend) when the effective read timeout (the
    annotation, else the controller ConfigMap when it is in the input, else the
    default of 60) is under 300 s. An annotation that is not a bare number is
    reported by SRV042 instead; canary Ingresses and Ingresses whose snippets
    set `proxy_read_timeout` are skipped.

    ## Example
    ```yaml
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: chat
    spec:
      ingressClassName: nginx
      rules:
        - http:
            paths:
              - path: /v1
                pathType: Prefix
                backend:
                  service: {name: tgi, port: {number: 80}}
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
              args: ["--model-id", "meta-llama/Llama-3.1-8B-Instruct"]
    ```

    ## Use instead
    ```yaml
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: chat
      annotations:
        nginx.ingress.kubernetes.io/proxy-read-timeout: "900"
        nginx.ingress.kubernetes.io/proxy-send-timeout: "900"
    spec:
      ingressClassName: nginx
      rules:
        - http:
            paths:
              - path: /v1
                pathType: Prefix
                backend:
                  service: {name: tgi, port: {number: 80}}
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
              args: ["--model-id", "meta-llama/Llama-3.1-8B-Instruct"]
    ```

    ## References
    - https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#custom-timeouts
    - https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/configmap/#proxy-read-timeout
    - https://github.com/kubernetes/ingress-nginx/blob/main/internal/ingress/controller/config/config.go
    - https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_read_timeout
    """

    code = "SRV041"
    name = "nginx-read-timeout-short-for-llm"
    severity = Severity.WARNING
    mechanism = "streaming-ingress-for-llm-responses"
    kinds = frozenset({"Ingress"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if nginx_is_canary(resource) or "proxy_read_timeout" in nginx_snippets(
            resource
        ):
            return
        if ingress_controller(resource, graph) is not Controller.INGRESS_NGINX:
            return
        annotation = nginx_annotation(resource, "proxy-read-timeout")
        if annotation is not None:
            seconds = nginx_seconds(annotation[0])
            if seconds is None:
                return  # not a number: SRV042
            where = f"proxy-read-timeout is {seconds} s"
        else:
            setting = nginx_global(graph, "proxy-read-timeout")
            seconds = nginx_seconds(setting.value)
            if seconds is None:
                return
            where = (
                f"proxy-read-timeout is not set, and {setting.source} gives {seconds} s"
                if setting.source
                else f"proxy-read-timeout is not set: the controller default "
                f"{seconds} s applies (assumed: the controller ConfigMap is not "
                "in the input)"
            )
        if not 0 < seconds < LLM_RESPONSE_SECONDS:
            return
        backends = ingress_llm_backends(resource, graph)
        if not backends:
            return
        yield self.finding(
            resource,
            f"{where} for an Ingress that routes to {backends[0].describe()}; "
            f"a response that takes longer to start or, unstreamed, to finish "
            f"gets 504 (use at least {LLM_RESPONSE_SECONDS})",
            path=annotation[1] if annotation is not None else backends[0].path,
        )
