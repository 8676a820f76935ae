"""CLU001 gpu-pod-without-gpu-toleration."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import ACCELERATOR
from kubernai.model.gpu import (
    accelerator_names,
    is_nvidia_gpu,
    tolerations,
    tolerations_added_elsewhere,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class GpuPodWithoutGpuToleration(Rule):
    """GPU pod template without a toleration for the GPU node taint.

    ## Mechanism
    GPU node pools are usually tainted (`nvidia.com/gpu:NoSchedule` on GKE
    and in the EKS and Karpenter examples) so that CPU-only pods stay off
    them. The scheduler's TaintToleration filter then rejects every GPU node
    for a pod that does not tolerate the taint, and the pod stays Pending
    with `node(s) had untolerated taint {nvidia.com/gpu: ...}` (newer
    releases hide the key: `node(s) had untolerated taint(s)`). The
    ExtendedResourceToleration admission plugin adds the toleration for pods
    that request `nvidia.com/gpu`, but it is off by default; GKE and AKS run
    it. The taint key, value and effect, and whether the plugin runs, are
    cluster facts: set them under `cluster:` in `.kubernai.yaml`. Templates
    whose tolerations come from elsewhere (a KServe runtime, a Kueue
    ResourceFlavor, GKE accelerator pools) are not reported, and while the
    taint is only assumed, neither are templates that tolerate another
    dedicated-node taint (AKS guides use `sku=gpu:NoSchedule`): they were
    written for a cluster whose GPU nodes carry that taint.

    ## Example
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: finetune
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: trainer
              image: nvcr.io/nvidia/pytorch:24.05-py3
              resources:
                limits:
                  nvidia.com/gpu: 8
    ```

    ## Use instead
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: finetune
    spec:
      template:
        spec:
          restartPolicy: Never
          tolerations:
            - key: nvidia.com/gpu
              operator: Exists
              effect: NoSchedule
          containers:
            - name: trainer
              image: nvcr.io/nvidia/pytorch:24.05-py3
              resources:
                limits:
                  nvidia.com/gpu: 8
    ```

    ## References
    - https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/
    - https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#extendedresourcetoleration
    - https://cloud.google.com/kubernetes-engine/docs/how-to/gpus
    """

    code = "CLU001"
    name = "gpu-pod-without-gpu-toleration"
    severity = Severity.WARNING
    mechanism = "taints-and-tolerations-for-gpu-nodes"
    workloads_only = True
    requires = frozenset({ACCELERATOR})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        taint = graph.facts.gpu_taint
        if taint.effect == "PreferNoSchedule":
            return  # only scored, never filtered: the pod still schedules
        nvidia_taint = taint.key.startswith("nvidia.com/")
        for template in resource.templates:
            requested = [
                (container, name)
                for container in template.containers
                for name in accelerator_names(container)
                if is_nvidia_gpu(name) or not nvidia_taint
            ]
            if not requested or tolerations_added_elsewhere(resource, template):
                continue
            names = {name for _, name in requested}
            if (
                graph.facts.extended_resource_toleration
                and taint.effect == "NoSchedule"
                and taint.key in names
            ):
                continue
            own = list(tolerations(template))
            if any(t.tolerates(taint) for t in own):
                continue
            if graph.facts.assumed and any(_dedicated(t.key, taint.key) for t in own):
                continue  # written for a cluster whose GPU nodes carry another taint
            container, name = requested[0]
            section = "limits" if name in container.limits else "requests"
            shown = (
                f"{taint.key}={taint.value}" if taint.value is not None else taint.key
            )
            near = [t for t in own if t.key == taint.key]
            detail = (
                f"; tolerations[{near[0].index}] has key {taint.key} but does not "
                "match "
                f"(operator {near[0].operator or 'Equal'}, value {near[0].value!r}, "
                f"effect {near[0].effect or 'any'})"
                if near
                else ""
            )
            role = f" ({template.role})" if template.role else ""
            assumed = (
                " (assumed cluster fact: set cluster.gpu_taint and "
                "cluster.extended_resource_toleration in .kubernai.yaml)"
                if graph.facts.assumed
                else ""
            )
            yield self.finding(
                resource,
                f"pod template{role} requests {name} in {container.label} but does not "
                f"tolerate the GPU taint {shown}:{taint.effect}{detail}{assumed}",
                path=container.resource_path(section, name),
            )


_SYSTEM_TAINT_PREFIXES = ("node.kubernetes.io/", "node.cloudprovider.kubernetes.io/")


def _dedicated(key: str, gpu_key: str) -> bool:
    """A toleration for a cluster's own dedicated-node taint (``sku=gpu``)."""
    return (
        bool(key)
        and key != gpu_key
        and key != "CriticalAddonsOnly"
        and not key.startswith(_SYSTEM_TAINT_PREFIXES)
    )
