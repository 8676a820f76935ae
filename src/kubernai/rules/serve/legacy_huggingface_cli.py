"""SRV005 legacy-huggingface-cli."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.model_download import LEGACY_HF_CLI, hub_install
from kubernai.model.resource import Resource
from kubernai.model.servers import command_tokens
from kubernai.rules.base import Finding, Rule, Severity


class LegacyHuggingfaceCli(Rule):
    """Command line runs `huggingface-cli`, which huggingface_hub 1.0 removed.

    ## Mechanism
    huggingface_hub 0.34.0 introduced the `hf` command (`hf download`, `hf
    auth login`, `hf upload`) and kept `huggingface-cli` as a deprecated
    alias; 1.0.0 dropped the alias: its wheel installs only the `hf` and
    `tiny-agents` console scripts. A download step written as `pip install
    huggingface_hub && huggingface-cli download ...` therefore broke the day
    1.0 was published, with `huggingface-cli: command not found` (exit code
    127) in the init container or Job and the server never getting its
    weights; an image that bundles an older hub keeps working only until
    it is rebuilt. The rule reports the first `huggingface-cli` word of each
    container, and is silent when the same command line installs
    huggingface_hub pinned below 1.0.

    ## Example
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: fetch-llama
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: download
              image: python:3.12-slim
              command:
                - sh
                - -c
                - >-
                  pip install huggingface_hub &&
                  huggingface-cli download meta-llama/Llama-3.1-8B-Instruct
                  --local-dir /models/llama
              volumeMounts:
                - name: models
                  mountPath: /models
          volumes:
            - name: models
              persistentVolumeClaim:
                claimName: models
    ```

    ## Use instead
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: fetch-llama
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: download
              image: python:3.12-slim
              command:
                - sh
                - -c
                - >-
                  pip install 'huggingface_hub>=0.34' &&
                  hf download meta-llama/Llama-3.1-8B-Instruct
                  --local-dir /models/llama
              volumeMounts:
                - name: models
                  mountPath: /models
          volumes:
            - name: models
              persistentVolumeClaim:
                claimName: models
    ```

    ## References
    - https://huggingface.co/docs/huggingface_hub/guides/cli
    - https://github.com/huggingface/huggingface_hub/releases/tag/v1.0.0
    - huggingface_hub wheels 0.34.0, 0.36.0 and 1.0.0 on PyPI, `entry_points.txt`
    """

    code = "SRV005"
    name = "legacy-huggingface-cli"
    severity = Severity.WARNING
    mechanism = "model-registry-sidecar-pattern"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            for container in template.containers:
                tokens = command_tokens(container)
                for position, token in enumerate(tokens):
                    if token.text.rsplit("/", 1)[-1] != LEGACY_HF_CLI:
                        continue
                    installed = hub_install(container)
                    if installed is not None and installed[1]:
                        break  # pinned below 1.0: the alias still exists
                    following = tokens[position + 1 : position + 2]
                    shown = LEGACY_HF_CLI + (
                        f" {following[0].text}" if following else ""
                    )
                    detail = (
                        f"; the command line installs {installed[0]!r} with no "
                        "version below 1.0, which has no huggingface-cli, so it "
                        "fails with 'command not found'"
                        if installed is not None
                        else ""
                    )
                    yield self.finding(
                        resource,
                        f"{container.label} runs {shown!r}, removed in "
                        f"huggingface_hub 1.0.0 (use 'hf', since 0.34.0){detail}",
                        path=token.path,
                    )
                    break
