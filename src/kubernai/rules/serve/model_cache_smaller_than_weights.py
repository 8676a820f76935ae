"""SRV008 model-cache-smaller-than-weights."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from kubernai.calc.catalog import ModelArch, find_model
from kubernai.calc.kv_cache import GIB, CalcError, dtype_bytes
from kubernai.model.graph import ObjectGraph
from kubernai.model.model_download import weight_volumes
from kubernai.model.quantity import format_quantity, parse_quantity
from kubernai.model.resource import Resource, get_path
from kubernai.rules.base import Finding, Rule, Severity


class ModelCacheSmallerThanWeights(Rule):
    """emptyDir sizeLimit is smaller than the model weights stored in it.

    ## Mechanism
    The kubelet measures every `emptyDir` with a `sizeLimit` and evicts the
    pod as soon as the volume grows past it: the pod fails with reason
    `Evicted` and the message `Usage of EmptyDir volume "<name>" exceeds the
    limit "<sizeLimit>".`, and its replacement downloads the same files and
    is evicted again. The limit applies to memory-backed emptyDirs too (the
    API documents it as the cap on their usage), so there the download
    cannot complete either. A
    checkpoint needs at least parameters × bytes per parameter (2 for
    bfloat16/float16, 1 for fp8); a whole-repository download is often
    larger (Llama repositories also carry an `original/` copy of the
    weights). The rule reports a weight volume (see SRV002) whose model is
    named in the manifest (the repository an `hf download`/
    `snapshot_download` of the whole repository fetches, or the Hugging Face
    id a server loads into its cache) and is in kubernai's model catalog,
    when the `sizeLimit` is below that lower bound.

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
              args: ["--model", "meta-llama/Llama-3.1-8B-Instruct"]
              resources:
                limits:
                  nvidia.com/gpu: 1
              volumeMounts:
                - name: hf-cache
                  mountPath: /root/.cache/huggingface
          volumes:
            - name: hf-cache
              emptyDir:
                sizeLimit: 10Gi
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
              args: ["--model", "meta-llama/Llama-3.1-8B-Instruct"]
              resources:
                limits:
                  nvidia.com/gpu: 1
              volumeMounts:
                - name: hf-cache
                  mountPath: /root/.cache/huggingface
          volumes:
            - name: hf-cache
              emptyDir:
                sizeLimit: 40Gi
    ```

    ## References
    - https://kubernetes.io/docs/concepts/storage/volumes/#emptydir
    - https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/
    - kubernetes pkg/kubelet/eviction/helpers.go (`emptyDirMessageFmt`)
    - src/kubernai/data/models.json (parameter counts and checkpoint dtypes)
    """

    code = "SRV008"
    name = "model-cache-smaller-than-weights"
    severity = Severity.ERROR
    mechanism = "model-registry-sidecar-pattern"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            for volume in weight_volumes(template, graph):
                if not volume.model:
                    continue
                settings = get_path(volume.volume, "emptyDir")
                if not isinstance(settings, Mapping):
                    continue
                raw_limit = settings.get("sizeLimit")
                limit = parse_quantity(raw_limit)
                if limit is None or limit <= 0:
                    continue
                model = find_model(volume.model)
                per_param = _bytes_per_param(model) if model is not None else None
                if model is None or per_param is None:
                    continue
                weights = model.params * per_param
                if limit >= weights:
                    continue
                yield self.finding(
                    resource,
                    f"emptyDir {volume.name!r} (mounted at {volume.mount_path} in "
                    f"{volume.weight_dir.container.label}) has sizeLimit "
                    f"{format_quantity(raw_limit)}, below the "
                    f"{weights / GIB:.1f} GiB that the weights of {volume.model} "
                    f"take at least ({model.params / 1e9:.2f}B params × "
                    f"{per_param:g} bytes, kubernai model catalog)",
                    path=template.field_path(
                        "volumes", volume.index, "emptyDir", "sizeLimit"
                    ),
                )


def _bytes_per_param(model: ModelArch) -> float | None:
    if model.weights_bytes_per_param:
        return model.weights_bytes_per_param
    try:
        return float(dtype_bytes(model.dtype))
    except CalcError:
        return None
