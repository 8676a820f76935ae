"""SRV004 hf-token-in-plain-text."""

from __future__ import annotations

import re
from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.model_download import HF_TOKEN_ENV
from kubernai.model.resource import Resource, get_str, is_placeholder, iter_maps
from kubernai.model.workload import env_names
from kubernai.rules.base import Finding, Rule, Severity

_KUBELET_REFERENCE = re.compile(r"\$\([A-Za-z_][A-Za-z0-9_]*\)")


class HfTokenInPlainText(Rule):
    """Hugging Face token written into the pod spec instead of read from a Secret.

    ## Mechanism
    huggingface_hub, vLLM, TGI and SGLang read the access token for gated
    and private models from `HF_TOKEN`, or from the older
    `HUGGING_FACE_HUB_TOKEN`. Set with `value:`, the token becomes ordinary
    object data: `kubectl get -o yaml` and `kubectl describe` show it to
    everyone who may read Deployments or Pods (usually a wider group than
    those who may read Secrets), it is copied into every ReplicaSet and Pod,
    it is left out of any encryption at rest configured for Secrets, and it
    is committed to Git with the manifest. A placeholder filled in by
    `envsubst`, Helm or a CI step ends the same way: the rendered object
    carries the token. Read it with `valueFrom.secretKeyRef` instead; a
    `$(VAR)` reference to another variable is not reported. The message
    never repeats the value.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: gemma
    spec:
      selector:
        matchLabels: {app: gemma}
      template:
        metadata:
          labels: {app: gemma}
        spec:
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.10.1
              args: ["--model", "google/gemma-2-9b"]
              env:
                - name: HF_TOKEN
                  value: hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ012345
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: gemma
    spec:
      selector:
        matchLabels: {app: gemma}
      template:
        metadata:
          labels: {app: gemma}
        spec:
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.10.1
              args: ["--model", "google/gemma-2-9b"]
              env:
                - name: HF_TOKEN
                  valueFrom:
                    secretKeyRef:
                      name: hf-token
                      key: token
    ```

    ## References
    - https://kubernetes.io/docs/concepts/configuration/secret/#using-secrets-as-environment-variables
    - https://kubernetes.io/docs/concepts/security/secrets-good-practices/
    - https://huggingface.co/docs/huggingface_hub/package_reference/environment_variables#hftoken
    - huggingface_hub 1.0.0 `utils/_auth.py` (`HF_TOKEN`, then `HUGGING_FACE_HUB_TOKEN`)
    """

    code = "SRV004"
    name = "hf-token-in-plain-text"
    severity = Severity.ERROR
    mechanism = "model-registry-sidecar-pattern"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            for container in template.containers:
                if env_names(container).isdisjoint(HF_TOKEN_ENV):
                    continue
                for index, item in iter_maps(container.raw, "env"):
                    name = get_str(item, "name")
                    if name not in HF_TOKEN_ENV:
                        continue
                    value = item.get("value")
                    if value is None or isinstance(value, bool | dict | list):
                        continue
                    text = str(value).strip()
                    if not text or _KUBELET_REFERENCE.fullmatch(text):
                        continue
                    how = (
                        "a placeholder for the token"
                        if is_placeholder(text)
                        else "a literal token"
                    )
                    yield self.finding(
                        resource,
                        f"{container.label} sets {name} with value: ({how}) instead "
                        "of valueFrom.secretKeyRef",
                        path=(*container.path, "env", index, "value"),
                    )
