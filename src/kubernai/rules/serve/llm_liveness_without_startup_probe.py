"""SRV007 llm-liveness-without-startup-probe."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from kubernai.model.features import LLM_SERVER
from kubernai.model.graph import ObjectGraph
from kubernai.model.quantity import parse_count
from kubernai.model.resource import Resource, get_path
from kubernai.model.servers import servers
from kubernai.rules.base import Finding, Rule, Severity

LOAD_BUDGET_SECONDS = 300
"""Below this liveness budget a model server is reported: downloading and
loading the weights of a multi-billion-parameter model takes minutes."""

_DEFAULTS = {"initialDelaySeconds": 0, "failureThreshold": 3, "periodSeconds": 10}
"""Kubernetes probe defaults (core/v1 Probe)."""
_NAMES = {"vllm": "vLLM", "tgi": "TGI", "triton": "Triton", "sglang": "SGLang"}


class LlmLivenessWithoutStartupProbe(Rule):
    """LLM server has a short liveness probe and no startup probe.

    ## Mechanism
    vLLM, TGI, SGLang and Triton answer their health endpoints only once the
    model is downloaded (when the server fetches it itself), loaded onto the
    GPUs and warmed up (vLLM captures CUDA graphs), which takes minutes for a
    model of billions of parameters. The kubelet starts liveness probes
    `initialDelaySeconds` after the container starts and restarts the
    container after `failureThreshold` failures `periodSeconds` apart
    (defaults 0, 3 and 10): about `initialDelaySeconds + failureThreshold ×
    periodSeconds` seconds. A shorter budget than the load kills the server
    mid-load, with the events `Liveness probe failed: ...` and `Container
    <name> failed liveness probe, will be restarted`, and the pod enters
    `CrashLoopBackOff` without ever serving (vLLM logs `KeyboardInterrupt:
    terminated`). A `startupProbe` holds liveness and readiness probes back
    until it succeeds once, so it can allow for the load while liveness stays
    quick afterwards. The rule fires when a detected LLM server has a
    `livenessProbe`, no `startupProbe`, and a liveness budget under 300
    seconds; the load time is not known from the manifest, so the threshold
    is an assumption stated in the message.

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
              args: ["--model", "meta-llama/Llama-3.1-70B-Instruct", "-tp", "4"]
              resources:
                limits:
                  nvidia.com/gpu: 4
              livenessProbe:
                httpGet:
                  path: /health
                  port: 8000
                initialDelaySeconds: 60
                periodSeconds: 10
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
              args: ["--model", "meta-llama/Llama-3.1-70B-Instruct", "-tp", "4"]
              resources:
                limits:
                  nvidia.com/gpu: 4
              startupProbe:
                httpGet:
                  path: /health
                  port: 8000
                periodSeconds: 10
                failureThreshold: 90
              livenessProbe:
                httpGet:
                  path: /health
                  port: 8000
                periodSeconds: 10
    ```

    ## References
    - https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/
    - https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/#define-startup-probes
    - vllm-project/vllm docs/deployment/k8s.md (startup probe failures,
      `KeyboardInterrupt: terminated`)
    """

    code = "SRV007"
    name = "llm-liveness-without-startup-probe"
    severity = Severity.WARNING
    mechanism = "model-registry-sidecar-pattern"
    workloads_only = True
    requires = frozenset({LLM_SERVER})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            for server in servers(template):
                container = server.container
                liveness = get_path(container.raw, "livenessProbe")
                if not isinstance(liveness, Mapping) or not liveness:
                    continue
                if get_path(container.raw, "startupProbe") is not None:
                    continue
                values: dict[str, int] = {}
                for key, default in _DEFAULTS.items():
                    raw = liveness.get(key)
                    value = default if raw is None else parse_count(raw)
                    if value is None:
                        break  # a placeholder or a typo: budget unknown
                    values[key] = value
                else:
                    budget = (
                        values["initialDelaySeconds"]
                        + values["failureThreshold"] * values["periodSeconds"]
                    )
                    if budget >= LOAD_BUDGET_SECONDS:
                        continue
                    model = f", model {server.model}" if server.model else ""
                    yield self.finding(
                        resource,
                        f"{container.label} ({_NAMES[server.kind]}{model}) has a "
                        "livenessProbe and no startupProbe: it is restarted after "
                        f"about {budget} s of failed probes (initialDelaySeconds "
                        f"{values['initialDelaySeconds']} + failureThreshold "
                        f"{values['failureThreshold']} × periodSeconds "
                        f"{values['periodSeconds']}), under the "
                        f"{LOAD_BUDGET_SECONDS} s assumed for loading the weights",
                        path=(*container.path, "livenessProbe"),
                    )
