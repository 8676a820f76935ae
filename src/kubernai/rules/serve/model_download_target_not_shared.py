"""SRV001 model-download-target-not-shared."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import MODEL_DOWNLOADS
from kubernai.model.graph import ObjectGraph
from kubernai.model.model_download import Download, downloads, mount_for
from kubernai.model.resource import Resource, get_list, get_str, iter_maps
from kubernai.model.workload import PodTemplate
from kubernai.rules.base import Finding, Rule, Severity


class ModelDownloadTargetNotShared(Rule):
    """Init container downloads model weights to a place the server never sees.

    ## Mechanism
    In the model-download pattern an init container (`hf download`, `aws s3
    cp`, `s5cmd`, `gsutil`, `gcloud storage`, `azcopy`, `snapshot_download`,
    KServe's storage initializer) fetches the weights into a volume that the
    serving container mounts too. Each container has its own root file system:
    whatever the init container writes outside its `volumeMounts` lives in its
    writable layer and is deleted when it exits, and a volume only appears in
    the containers that mount it. So when the download target is not under one
    of the init container's mounts, or the volume it lands on is mounted by no
    app container, the download runs to completion, the init container
    succeeds, and the server starts without the files: vLLM then tries to treat
    the local path as a Hugging Face repository id, TGI and Triton fail on a
    missing directory, or a server given a hub id downloads the model a second
    time. A target on a mount marked `readOnly: true` fails at once with
    `Read-only file system`. The target is read from `--local-dir` /
    `--cache-dir` (else `HF_HUB_CACHE`, `HF_HOME`), the destination of the
    copy tools, or the second argument of the storage initializer; a target
    that uses a variable kubernai cannot resolve is not reported, nor is one
    that a later command of the same script moves or uploads.

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
          initContainers:
            - name: fetch-weights
              image: python:3.12-slim
              command:
                - sh
                - -c
                - >-
                  pip install 'huggingface_hub==0.36.0' &&
                  hf download meta-llama/Llama-3.1-8B-Instruct --local-dir /weights
              volumeMounts:
                - name: models
                  mountPath: /models
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.10.1
              args: ["--model", "/models/llama"]
              resources:
                limits:
                  nvidia.com/gpu: 1
              volumeMounts:
                - name: models
                  mountPath: /models
          volumes:
            - name: models
              emptyDir:
                sizeLimit: 40Gi
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
          initContainers:
            - name: fetch-weights
              image: python:3.12-slim
              command:
                - sh
                - -c
                - >-
                  pip install 'huggingface_hub==0.36.0' &&
                  hf download meta-llama/Llama-3.1-8B-Instruct --local-dir /models/llama
              volumeMounts:
                - name: models
                  mountPath: /models
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.10.1
              args: ["--model", "/models/llama"]
              resources:
                limits:
                  nvidia.com/gpu: 1
              volumeMounts:
                - name: models
                  mountPath: /models
                  readOnly: true
          volumes:
            - name: models
              emptyDir:
                sizeLimit: 40Gi
    ```

    ## References
    - https://kubernetes.io/docs/concepts/workloads/pods/init-containers/
    - https://kubernetes.io/docs/concepts/storage/volumes/#emptydir
    - https://huggingface.co/docs/huggingface_hub/guides/cli#download-to-a-local-folder
    - kserve/kserve pkg/webhook/admission/pod/storage_initializer_injector.go
      (init container `storage-initializer` and `kserve-container` share
      `/mnt/models`)
    """

    code = "SRV001"
    name = "model-download-target-not-shared"
    severity = Severity.ERROR
    mechanism = "model-registry-sidecar-pattern"
    workloads_only = True
    requires = frozenset({MODEL_DOWNLOADS})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            if not get_list(template.spec, "initContainers"):
                continue
            for container in template.containers:
                if not container.init:
                    continue
                for download in downloads(container, graph):
                    message = _problem(download, template)
                    if message:
                        what = _describe(download)
                        yield self.finding(
                            resource,
                            f"{container.label} {what}, {message}",
                            path=download.path,
                        )


def _describe(download: Download) -> str:
    source = f" {download.source}" if download.source else ""
    verb = "downloads" if download.source else "runs a download"
    where = download.target or "the default Hugging Face cache"
    how = (
        f" ({download.target_from})"
        if download.target_from not in ("destination", "the default cache")
        else ""
    )
    return f"{verb}{source} with {download.tool} to {where}{how}"


def _problem(download: Download, template: PodTemplate) -> str:
    container = download.container
    mounts = list(iter_maps(container.raw, "volumeMounts"))
    if download.target is None:
        if mounts or download.target_from != "the default cache":
            return ""  # a target kubernai cannot resolve: unknown
        return (
            "but the init container mounts no volume: the files stay in its own "
            "file system and are deleted when it exits"
        )
    if download.used_later:
        return ""
    found = mount_for(container, download.target)
    if found is None:
        shown = ", ".join(get_str(m, "mountPath") for _, m in mounts) or "none"
        return (
            f"which is not under any of its volumeMounts ({shown}): the files are "
            "deleted when the init container exits"
        )
    _, mount = found
    volume = get_str(mount, "name")
    if mount.get("readOnly") is True:
        return (
            f"but volume {volume!r} is mounted readOnly at "
            f"{get_str(mount, 'mountPath')}: the write fails with 'Read-only file "
            "system'"
        )
    apps = [c for c in template.containers if not c.init]
    if not template.complete or not apps:
        return ""  # another object adds containers; their mounts are unknown
    for other in apps:
        if any(
            get_str(m, "name") == volume
            for _, m in iter_maps(other.raw, "volumeMounts")
        ):
            return ""
    return (
        f"on volume {volume!r}, which no app container mounts: the server never "
        "sees the files"
    )
