"""SRV027 service-link-overrides-server-env."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import LLM_SERVER
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, get_str
from kubernai.model.server_cache import template_servers
from kubernai.model.server_release import tgi_release
from kubernai.model.servers import TGI, VLLM
from kubernai.model.workload import env_names
from kubernai.rules.base import Finding, Rule, Severity

# Service name → the variable its link sets (<NAME>_PORT=tcp://IP:PORT), for the
# variables each server parses as a number at startup, with the first release
# that reads it.
_COLLISIONS = {
    VLLM: (("vllm", "VLLM_PORT", None),),
    TGI: (
        ("master", "MASTER_PORT", None),
        ("prometheus", "PROMETHEUS_PORT", (3, 3, 0)),
    ),
}


class ServiceLinkOverridesServerEnv(Rule):
    """A Service's link variable lands on an env var the inference server parses.

    ## Mechanism
    Unless a pod sets `enableServiceLinks: false`, the kubelet gives every
    container Docker-link variables for each Service in its namespace,
    among them `<NAME>_PORT=tcp://<cluster IP>:<port>`. A Service named
    `vllm` thus sets `VLLM_PORT`, which vLLM reads as its internal port and
    parses as an integer: startup fails with `ValueError: VLLM_PORT
    'tcp://10.96.0.12:8000' appears to be a URI. This may be caused by a
    Kubernetes service discovery issue` (older releases: `invalid literal for
    int()`). vLLM's docs warn not to name the Service `vllm`. TGI's launcher
    reads every flag from the environment, so a Service named `master` sets
    `MASTER_PORT` and one named `prometheus` (TGI 3.3+) sets
    `PROMETHEUS_PORT`, and clap exits with `invalid value 'tcp://...' for
    '--master-port <MASTER_PORT>'`. The pod crash-loops as soon as it is
    (re)started after the Service exists. Reported when the Service is in the
    input, in the same namespace, has a cluster IP (headless and ExternalName
    Services get no variables), and the container does not set the variable
    itself.

    ## Example
    ```yaml
    apiVersion: v1
    kind: Service
    metadata:
      name: vllm
    spec:
      selector: {app: vllm}
      ports:
        - {port: 8000, targetPort: 8000}
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
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: Service
    metadata:
      name: vllm
    spec:
      selector: {app: vllm}
      ports:
        - {port: 8000, targetPort: 8000}
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
          enableServiceLinks: false
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.10.1
              args: ["--model", "Qwen/Qwen2.5-7B-Instruct"]
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## References
    - https://docs.vllm.ai/en/stable/configuration/env_vars/ ("please do not
      name the service as `vllm`")
    - vllm-project/vllm `vllm/envs.py` (`get_vllm_port`: "appears to be a URI")
    - huggingface/text-generation-inference `launcher/src/main.rs`
      (`#[clap(long, env)]` on `master_port`, `prometheus_port`)
    - https://kubernetes.io/docs/concepts/services-networking/service/#environment-variables
    """

    code = "SRV027"
    name = "service-link-overrides-server-env"
    severity = Severity.ERROR
    mechanism = "triton-vs-vllm-vs-tgi"
    workloads_only = True
    requires = frozenset({LLM_SERVER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            if template.spec.get("enableServiceLinks") is False:
                continue
            for server in template_servers(template):
                collisions = _COLLISIONS.get(server.kind)
                if not collisions:
                    continue
                own = env_names(server.container)
                for service_name, variable, since in collisions:
                    if variable in own:
                        continue
                    if since is not None:
                        release = tgi_release(server.container)
                        if release is not None and release < since:
                            continue
                    service = graph.get("Service", resource.namespace, service_name)
                    if service is None or not _has_cluster_ip(service):
                        continue
                    where = (
                        f" in namespace {resource.namespace}"
                        if resource.namespace
                        else ""
                    )
                    yield self.finding(
                        resource,
                        f"Service {service_name!r}{where} makes the kubelet set "
                        f"{variable}=tcp://<cluster IP>:<port> in "
                        f"{server.container.label}, which the server parses as "
                        "a port number",
                        path=server.container.path,
                    )


def _has_cluster_ip(service: Resource) -> bool:
    """The kubelet skips headless and ExternalName Services (no cluster IP)."""
    if get_str(service.raw, "spec", "type") == "ExternalName":
        return False
    return get_str(service.raw, "spec", "clusterIP") != "None"
