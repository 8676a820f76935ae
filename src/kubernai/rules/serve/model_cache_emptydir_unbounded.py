"""SRV002 model-cache-emptydir-unbounded."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.eviction import has_unbounded_empty_dir, unbounded_empty_dir
from kubernai.model.graph import ObjectGraph
from kubernai.model.model_download import weight_volumes
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity

EPHEMERAL_STORAGE = "ephemeral-storage"


class ModelCacheEmptydirUnbounded(Rule):
    """Model weights go to a disk emptyDir with no size limit and no storage request.

    ## Mechanism
    An `emptyDir` without `medium` lives on the node's disk (the kubelet root
    or the container runtime's ephemeral storage) and counts as the pod's
    ephemeral storage. Model weights are tens to hundreds of gigabytes. When
    the volume has no `sizeLimit` and no container of the pod requests
    `ephemeral-storage`, the scheduler does not account for that disk at all:
    several such pods land on one node, the node's disk fills, the kubelet
    reports `DiskPressure` and evicts pods with `The node was low on resource:
    ephemeral-storage.` (not necessarily the pod that filled it), and every
    restart downloads the weights again. A `sizeLimit` turns an overrun into
    an eviction of this pod only (`Usage of EmptyDir volume "..." exceeds the
    limit "..."`), and an `ephemeral-storage` request makes the scheduler
    place the pod on a node with room. The volume counts as a weight cache
    when a download writes to it, when it is mounted at a Hugging Face cache
    (`HF_HOME`, `HF_HUB_CACHE`, `/root/.cache/huggingface`, TGI's `/data`), at
    a server's `--download-dir` or local model path, or at `/models` or
    `/mnt/models`. Memory-backed emptyDirs are SRV003's concern.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: qwen
    spec:
      selector:
        matchLabels: {app: qwen}
      template:
        metadata:
          labels: {app: qwen}
        spec:
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.10.1
              args: ["--model", "Qwen/Qwen2.5-32B"]
              resources:
                limits:
                  nvidia.com/gpu: 2
              volumeMounts:
                - name: hf-cache
                  mountPath: /root/.cache/huggingface
          volumes:
            - name: hf-cache
              emptyDir: {}
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: qwen
    spec:
      selector:
        matchLabels: {app: qwen}
      template:
        metadata:
          labels: {app: qwen}
        spec:
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.10.1
              args: ["--model", "Qwen/Qwen2.5-32B"]
              resources:
                requests:
                  ephemeral-storage: 80Gi
                limits:
                  nvidia.com/gpu: 2
                  ephemeral-storage: 100Gi
              volumeMounts:
                - name: hf-cache
                  mountPath: /root/.cache/huggingface
          volumes:
            - name: hf-cache
              emptyDir:
                sizeLimit: 90Gi
    ```

    ## References
    - https://kubernetes.io/docs/concepts/storage/volumes/#emptydir
    - https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#local-ephemeral-storage
    - https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/
    - https://huggingface.co/docs/huggingface_hub/package_reference/environment_variables
    """

    code = "SRV002"
    name = "model-cache-emptydir-unbounded"
    severity = Severity.WARNING
    mechanism = "model-registry-sidecar-pattern"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            if not has_unbounded_empty_dir(template) or any(
                EPHEMERAL_STORAGE in c.requests or EPHEMERAL_STORAGE in c.limits
                for c in template.containers
            ):
                continue
            for volume in weight_volumes(template, graph):
                if not unbounded_empty_dir(volume.volume):
                    continue
                holder = volume.weight_dir
                yield self.finding(
                    resource,
                    f"emptyDir {volume.name!r} holds model weights ({holder.why}, "
                    f"mounted at {volume.mount_path} in {holder.container.label}) "
                    "with no sizeLimit, and no container requests ephemeral-storage",
                    path=template.field_path("volumes", volume.index, "emptyDir"),
                )
