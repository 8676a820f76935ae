"""SRV003 model-cache-in-memory-emptydir."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from fractions import Fraction

from kubernai.model.graph import ObjectGraph
from kubernai.model.model_download import weight_volumes
from kubernai.model.quantity import format_quantity, parse_quantity
from kubernai.model.resource import Resource, get_path, get_str, iter_maps
from kubernai.model.workload import PodTemplate
from kubernai.rules.base import Finding, Rule, Severity

GIB = 2**30


class ModelCacheInMemoryEmptydir(Rule):
    """Model weights go to a memory-backed emptyDir that can fill the pod's memory.

    ## Mechanism
    `emptyDir.medium: Memory` is a tmpfs. Its pages are memory charged to the
    pod, not disk: the Kubernetes API documents that the usable size of a
    memory-medium emptyDir is the smaller of its `sizeLimit` and the sum of
    the memory limits of the pod's containers. Model weights written there
    (tens of gigabytes) therefore share the memory limit with the server
    process that then loads them, and with no `sizeLimit` below that limit the
    download itself can fill the pod's memory: the kernel OOM-kills a
    container (`OOMKilled`, exit code 137) and the pod restarts into the same
    download. Without memory limits the tmpfs is bounded only by the node's
    memory, which the scheduler never accounted for, and the node runs into
    memory-pressure evictions. The rule reports a memory emptyDir that holds
    weights (see SRV002 for what counts) when it has no `sizeLimit`, or a
    `sizeLimit` not below the pod's summed memory limit. A `/dev/shm` volume
    is reported only when weights are written into it.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: mistral
    spec:
      selector:
        matchLabels: {app: mistral}
      template:
        metadata:
          labels: {app: mistral}
        spec:
          containers:
            - name: tgi
              image: ghcr.io/huggingface/text-generation-inference:3.3.4
              args: ["--model-id", "mistralai/Mistral-7B-v0.3"]
              resources:
                limits:
                  nvidia.com/gpu: 1
                  memory: 24Gi
              volumeMounts:
                - name: data
                  mountPath: /data
          volumes:
            - name: data
              emptyDir:
                medium: Memory
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: mistral
    spec:
      selector:
        matchLabels: {app: mistral}
      template:
        metadata:
          labels: {app: mistral}
        spec:
          containers:
            - name: tgi
              image: ghcr.io/huggingface/text-generation-inference:3.3.4
              args: ["--model-id", "mistralai/Mistral-7B-v0.3"]
              resources:
                requests:
                  ephemeral-storage: 30Gi
                limits:
                  nvidia.com/gpu: 1
                  memory: 24Gi
                  ephemeral-storage: 40Gi
              volumeMounts:
                - name: data
                  mountPath: /data
          volumes:
            - name: data
              emptyDir:
                sizeLimit: 40Gi
    ```

    ## References
    - https://kubernetes.io/docs/concepts/storage/volumes/#emptydir
    - https://kubernetes.io/docs/reference/kubernetes-api/config-and-storage-resources/volume/#local-temporary-directory
    - https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
    """

    code = "SRV003"
    name = "model-cache-in-memory-emptydir"
    severity = Severity.WARNING
    mechanism = "model-registry-sidecar-pattern"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            problems = _memory_volume_problems(template)
            if not problems:
                continue  # no weights can make a finding: spare finding them
            for volume in weight_volumes(template, graph):
                problem = problems.get(volume.index)
                if not problem:
                    continue
                holder = volume.weight_dir
                yield self.finding(
                    resource,
                    f"memory-backed emptyDir {volume.name!r} holds model weights "
                    f"({holder.why}, mounted at {volume.mount_path} in "
                    f"{holder.container.label}) {problem}",
                    path=template.field_path(
                        "volumes", volume.index, "emptyDir", "medium"
                    ),
                )


def _memory_volume_problems(template: PodTemplate) -> dict[int, str]:
    """The problem of each memory-backed emptyDir, by index in ``spec.volumes``."""
    found: dict[int, str] = {}
    for index, volume in iter_maps(template.spec, "volumes"):
        settings = get_path(volume, "emptyDir")
        if isinstance(settings, Mapping) and get_str(settings, "medium") == "Memory":
            problem = _problem(template, settings.get("sizeLimit"))
            if problem:
                found[index] = problem
    return found


def _problem(template: PodTemplate, size_limit: object) -> str:
    apps = [c for c in template.containers if not c.init]
    limits = [parse_quantity(c.limits.get("memory")) for c in apps]
    size = parse_quantity(size_limit) if size_limit is not None else None
    if size_limit is not None and size is None:
        return ""  # a placeholder or a typo: not this rule's concern
    if not apps or any(limit is None for limit in limits):
        if size is not None:
            return ""
        unlimited = [
            c.label for c, limit in zip(apps, limits, strict=True) if not limit
        ]
        return (
            f"with no sizeLimit and no memory limit on {', '.join(unlimited)}: the "
            "files take node memory the scheduler never accounted for"
        )
    total = sum((limit for limit in limits if limit is not None), Fraction(0))
    if size is None:
        return (
            f"with no sizeLimit: the files count against the pod's memory limit "
            f"of {_gib(total)} (sum of container limits), together with the "
            "server's own memory"
        )
    if size >= total:
        return (
            f"with sizeLimit {format_quantity(size_limit)}, not below the pod's "
            f"memory limit of {_gib(total)}: the files can fill the memory the "
            "server needs"
        )
    return ""


def _gib(value: Fraction) -> str:
    gib = value / GIB
    return f"{float(gib):g}Gi" if gib >= 1 else f"{int(value / 2**20)}Mi"
