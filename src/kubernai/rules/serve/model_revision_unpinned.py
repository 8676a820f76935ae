"""SRV006 model-revision-unpinned."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import MODEL_DOWNLOADS
from kubernai.model.graph import ObjectGraph
from kubernai.model.model_download import SNAPSHOT_DOWNLOAD, downloads
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity

BRANCHES = frozenset({"main", "master"})


class ModelRevisionUnpinned(Rule):
    """Hugging Face download without a pinned revision.

    ## Mechanism
    `hf download REPO` (and `huggingface-cli download`, `snapshot_download`)
    fetch the head of the repository's `main` branch unless `--revision`
    (`revision=`) names something else. A model repository is mutable: its
    owner can push new weights, a changed tokenizer or chat template, or a new
    `config.json` at any time. Every pod that starts, every node that is
    added and every restart downloads again, so replicas of one Deployment can
    serve different model versions and a rollback of the manifest does not
    roll back the model. Pass the 40-character commit hash to `--revision` so
    that every download is the same. The rule reports downloads with no
    revision, or with the branch names `main` and `master`; tags are left
    alone. It is informational: in development following `main` is often what
    is wanted.

    ## Example
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: stage-qwen
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
                  hf download Qwen/Qwen2.5-7B-Instruct --local-dir /models/qwen
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
      name: stage-qwen
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
                  hf download Qwen/Qwen2.5-7B-Instruct --local-dir /models/qwen
                  --revision a09a35458c702b33eeacc393d103063234e8bc28
              volumeMounts:
                - name: models
                  mountPath: /models
          volumes:
            - name: models
              persistentVolumeClaim:
                claimName: models
    ```

    ## References
    - https://huggingface.co/docs/huggingface_hub/guides/cli#download-from-a-specific-revision
    - https://huggingface.co/docs/huggingface_hub/guides/download#from-specific-version
    """

    code = "SRV006"
    name = "model-revision-unpinned"
    severity = Severity.INFO
    mechanism = "model-registry-sidecar-pattern"
    workloads_only = True
    requires = frozenset({MODEL_DOWNLOADS})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            for container in template.containers:
                for download in downloads(container, graph):
                    if not download.from_hub or not download.source:
                        continue
                    revision = download.revision
                    if revision is not None and revision.strip() not in BRANCHES:
                        continue
                    option = (
                        "revision="
                        if download.tool == SNAPSHOT_DOWNLOAD
                        else "--revision"
                    )
                    how = (
                        f"with {option} {revision!r}, a branch"
                        if revision is not None
                        else f"without {option}"
                    )
                    what = download.source
                    branch = revision or "main"
                    yield self.finding(
                        resource,
                        f"{container.label} downloads {what} with {download.tool} "
                        f"{how}: each run fetches the current head of {branch}",
                        path=download.path,
                    )
