"""SRV043 alb-idle-timeout-short-for-llm."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.ingress import (
    ALB_ATTRIBUTES,
    ALB_IDLE_DEFAULT_SECONDS,
    ALB_IDLE_KEY,
    LLM_RESPONSE_SECONDS,
    Controller,
    alb_attributes,
    alb_class_params,
    alb_group,
    alb_params_attributes,
    ingress_controller,
    whole_seconds,
)
from kubernai.model.resource import Path, Resource, get_str
from kubernai.model.route_backends import ingress_llm_backends
from kubernai.rules.base import Finding, Rule, Severity


class AlbIdleTimeoutShortForLlm(Rule):
    """AWS ALB in front of an LLM server closes connections idle for 60 s.

    ## Mechanism
    An Application Load Balancer closes a connection on which no data has been
    sent or received for its idle timeout, 60 s unless the load balancer
    attribute `idle_timeout.timeout_seconds` says otherwise, and the client gets
    `504 Gateway Timeout`. An LLM server sends nothing until its first token,
    and nothing at all until the completion is done when the client does not
    stream (the OpenAI API's default), so long completions and queued requests
    are cut off. The AWS Load Balancer Controller sets the attribute from the
    Ingress annotation `alb.ingress.kubernetes.io/load-balancer-attributes:
    idle_timeout.timeout_seconds=<n>` or from the IngressClassParams
    `spec.loadBalancerAttributes` of the Ingress's class, which wins. The rule
    fires for an ALB Ingress that routes to vLLM, TGI, SGLang or Triton (with
    its TensorRT-LLM or vLLM backend) when the idle timeout is under 300 s. It
    stays silent when the value may come from elsewhere: IngressClassParams that
    are not in the input, or an IngressGroup whose members in the input do not
    set it.

    ## Example
    ```yaml
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: llm
      annotations:
        alb.ingress.kubernetes.io/scheme: internet-facing
        alb.ingress.kubernetes.io/target-type: ip
    spec:
      ingressClassName: alb
      rules:
        - http:
            paths:
              - path: /
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
              command: ["vllm", "serve", "meta-llama/Llama-3.1-8B-Instruct"]
    ```

    ## Use instead
    ```yaml
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: llm
      annotations:
        alb.ingress.kubernetes.io/scheme: internet-facing
        alb.ingress.kubernetes.io/target-type: ip
        alb.ingress.kubernetes.io/load-balancer-attributes:
          idle_timeout.timeout_seconds=900
    spec:
      ingressClassName: alb
      rules:
        - http:
            paths:
              - path: /
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
              command: ["vllm", "serve", "meta-llama/Llama-3.1-8B-Instruct"]
    ```

    ## References
    - https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/#load-balancer-attributes
    - https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/ingress_class/#specloadbalancerattributes
    - https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html#connection-idle-timeout
    """

    code = "SRV043"
    name = "alb-idle-timeout-short-for-llm"
    severity = Severity.WARNING
    mechanism = "streaming-ingress-for-llm-responses"
    kinds = frozenset({"Ingress"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if ingress_controller(resource, graph) is not Controller.ALB:
            return
        params, known = alb_class_params(resource, graph)
        if not known:
            return
        value: str | None = None
        path: Path = ()
        where = ""
        if params is not None:
            found = alb_params_attributes(params).get(ALB_IDLE_KEY)
            if found is not None:
                value = found[0]
                where = f"IngressClassParams {params.name} sets {ALB_IDLE_KEY}"
        if value is None:
            raw = resource.annotations.get(ALB_ATTRIBUTES)
            if raw is not None and not isinstance(raw, str):
                return  # the API server rejects the Ingress: nothing to say
            own = alb_attributes(raw)
            if ALB_IDLE_KEY in own:
                value = own[ALB_IDLE_KEY]
                path = ("metadata", "annotations", ALB_ATTRIBUTES)
                where = f"{ALB_IDLE_KEY} is"
        if value is None:
            group = alb_group(resource, params)
            if group:
                value = self._group_value(resource, group, graph)
                if value is None:
                    return  # another member of the group may set it
                where = f"IngressGroup {group} sets {ALB_IDLE_KEY}"
        if value is None:
            seconds = ALB_IDLE_DEFAULT_SECONDS
            where = (
                f"no {ALB_IDLE_KEY} is set, so the ALB keeps its default idle "
                f"timeout of {seconds} s"
            )
        else:
            parsed = whole_seconds(value)
            if parsed is None:
                return
            seconds = parsed
            where = f"{where} {seconds} s"
        if seconds >= LLM_RESPONSE_SECONDS:
            return
        backends = ingress_llm_backends(resource, graph)
        if not backends:
            return
        yield self.finding(
            resource,
            f"{where} for an Ingress that routes to {backends[0].describe()}; "
            "a response that sends nothing for longer (time to first token, or "
            f"a whole unstreamed completion) gets 504 (use at least "
            f"{LLM_RESPONSE_SECONDS})",
            path=path or backends[0].path,
        )

    @staticmethod
    def _group_value(resource: Resource, group: str, graph: ObjectGraph) -> str | None:
        for member in graph.of_kind("Ingress"):
            if member is resource:
                continue
            if get_str(member.annotations, "alb.ingress.kubernetes.io/group.name") != (
                group
            ):
                continue
            value = alb_attributes(member.annotations.get(ALB_ATTRIBUTES)).get(
                ALB_IDLE_KEY
            )
            if value is not None:
                return value
        return None
