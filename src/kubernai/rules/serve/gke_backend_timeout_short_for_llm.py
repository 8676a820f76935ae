"""SRV044 gke-backend-timeout-short-for-llm."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.ingress import (
    GCE_BACKEND_TIMEOUT_DEFAULT_SECONDS,
    LLM_RESPONSE_SECONDS,
    Controller,
    gce_backend_config_name,
    ingress_controller,
)
from kubernai.model.resource import Resource, get_path
from kubernai.model.route_backends import ingress_llm_backends
from kubernai.rules.base import Finding, Rule, Severity


class GkeBackendTimeoutShortForLlm(Rule):
    """GKE Ingress cuts LLM responses at the 30 s backend service timeout.

    ## Mechanism
    A GKE Ingress (`kubernetes.io/ingress.class: gce`, `gce-internal` or
    `gce-regional-external`) becomes a Google Cloud Application Load Balancer
    with one backend service per Service port. The backend service timeout is
    not an idle timeout: for HTTP it is the time the load balancer waits for the
    backend to return the complete response, 30 s by default. An LLM completion
    that takes longer, streamed or not, is cut off: the client gets an error
    status, or a stream that stops mid-answer. The timeout is set with a
    BackendConfig's `spec.timeoutSec`, which the Service selects with the
    annotation `cloud.google.com/backend-config` (`{"default": "<name>"}` or per
    port under `ports`). The rule fires for a GKE Ingress that routes to vLLM,
    TGI, SGLang or Triton (with its TensorRT-LLM or vLLM backend) when the
    Service names no BackendConfig, or names one in the input whose `timeoutSec`
    is missing or under 300. A BackendConfig that is not in the input is unknown
    and not reported.

    ## Example
    ```yaml
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: triton
      annotations:
        kubernetes.io/ingress.class: gce
    spec:
      defaultBackend:
        service: {name: triton, port: {number: 8000}}
    ---
    apiVersion: v1
    kind: Service
    metadata:
      name: triton
    spec:
      type: ClusterIP
      selector: {app: triton}
      ports: [{name: http, port: 8000}]
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: triton
    spec:
      selector:
        matchLabels: {app: triton}
      template:
        metadata:
          labels: {app: triton}
        spec:
          containers:
            - name: triton
              image: nvcr.io/nvidia/tritonserver:25.06-trtllm-python-py3
              command: ["tritonserver", "--model-repository=/models"]
    ```

    ## Use instead
    ```yaml
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: triton
      annotations:
        kubernetes.io/ingress.class: gce
    spec:
      defaultBackend:
        service: {name: triton, port: {number: 8000}}
    ---
    apiVersion: v1
    kind: Service
    metadata:
      name: triton
      annotations:
        cloud.google.com/backend-config: '{"default": "llm-timeout"}'
    spec:
      type: ClusterIP
      selector: {app: triton}
      ports: [{name: http, port: 8000}]
    ---
    apiVersion: cloud.google.com/v1
    kind: BackendConfig
    metadata:
      name: llm-timeout
    spec:
      timeoutSec: 900
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: triton
    spec:
      selector:
        matchLabels: {app: triton}
      template:
        metadata:
          labels: {app: triton}
        spec:
          containers:
            - name: triton
              image: nvcr.io/nvidia/tritonserver:25.06-trtllm-python-py3
              command: ["tritonserver", "--model-repository=/models"]
    ```

    ## References
    - https://cloud.google.com/kubernetes-engine/docs/how-to/ingress-configuration
    - https://cloud.google.com/load-balancing/docs/https#timeout-bes
    - https://cloud.google.com/compute/docs/reference/rest/v1/backendServices
    - https://github.com/kubernetes/ingress-gce/blob/master/pkg/backendconfig/utils.go
    """

    code = "SRV044"
    name = "gke-backend-timeout-short-for-llm"
    severity = Severity.WARNING
    mechanism = "streaming-ingress-for-llm-responses"
    kinds = frozenset({"Ingress"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if ingress_controller(resource, graph) is not Controller.GCE:
            return
        reported: set[str] = set()
        for backend in ingress_llm_backends(resource, graph):
            service = backend.target
            name, known = gce_backend_config_name(service, backend.port)
            if not known:
                continue
            if name is None:
                detail = (
                    f"Service {service.name} names no BackendConfig, so the "
                    f"backend service timeout stays at the default "
                    f"{GCE_BACKEND_TIMEOUT_DEFAULT_SECONDS} s"
                )
            else:
                config = graph.get("BackendConfig", service.namespace, name)
                if config is None:
                    continue  # not in the input: unknown
                timeout = get_path(config.raw, "spec", "timeoutSec")
                if timeout is None:
                    detail = (
                        f"BackendConfig {name} sets no timeoutSec, so the backend "
                        f"service timeout stays at the default "
                        f"{GCE_BACKEND_TIMEOUT_DEFAULT_SECONDS} s"
                    )
                elif isinstance(timeout, int) and not isinstance(timeout, bool):
                    if timeout >= LLM_RESPONSE_SECONDS:
                        continue
                    detail = f"BackendConfig {name} sets timeoutSec {timeout}"
                else:
                    continue
            if detail in reported:
                continue
            reported.add(detail)
            yield self.finding(
                resource,
                f"{detail} for {backend.describe()}: the load balancer cuts every "
                "response, streamed or not, that takes longer to complete "
                f"(set timeoutSec to at least {LLM_RESPONSE_SECONDS})",
                path=backend.path,
            )
