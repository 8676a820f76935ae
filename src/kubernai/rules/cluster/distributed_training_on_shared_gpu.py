"""CLU087 distributed-training-on-shared-gpu."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gpu import NVIDIA_GPU, is_nvidia_gpu
from kubernai.model.graph import ObjectGraph
from kubernai.model.mig import mig_profile
from kubernai.model.resource import Resource
from kubernai.model.shared_gpus import requested_count, resource_path, shared_use
from kubernai.model.sharing import (
    MPS,
    PRODUCT_LABEL,
    TIME_SLICING,
    SharingIndex,
    selected_values,
    sharing_index,
)
from kubernai.model.workload import Container, PodTemplate
from kubernai.rules.base import Finding, Rule, Severity

_TRAINING = frozenset(
    {
        ("kubeflow.org", "PyTorchJob"),
        ("kubeflow.org", "TFJob"),
        ("kubeflow.org", "MPIJob"),
        ("kubeflow.org", "PaddleJob"),
        ("kubeflow.org", "XGBoostJob"),
        ("kubeflow.org", "JAXJob"),
        ("trainer.kubeflow.org", "TrainJob"),
        ("trainer.kubeflow.org", "TrainingRuntime"),
        ("trainer.kubeflow.org", "ClusterTrainingRuntime"),
    }
)
_MIG_WHY = (
    "MIG instances have no GPU-to-GPU peer path (no NVLink, no CUDA IPC), so NCCL "
    "traffic between ranks goes through host memory or the network"
)
_TIME_SLICED_WHY = (
    "time-sliced replicas share the physical GPU and its memory with other pods, "
    "in one fault domain, and every collective waits for the slowest rank"
)
_SHARED_WHY = (
    "shared replicas put the rank on a GPU that other pods use too, and every "
    "collective waits for the slowest rank"
)
_MPS_WHY = (
    "each MPS client is capped at 1/replicas of the GPU's memory and compute, and "
    "every collective waits for the slowest rank"
)


class DistributedTrainingOnSharedGpu(Rule):
    """Multi-rank training job placed on MIG slices or time-sliced/MPS-shared GPUs.

    ## Mechanism
    Data- and model-parallel training synchronises all ranks at every step
    (all-reduce, all-gather), so a step takes as long as the slowest rank
    and its slowest link. On a time-sliced GPU the rank shares compute and
    memory with whatever else runs there, without isolation and in the same
    fault domain ("if one workload crashes, they all do"); under MPS each
    client is capped at 1/replicas of the GPU's memory and compute. MIG
    slices are isolated, but MIG gives up GPU-to-GPU peer access: no CUDA
    IPC, no NVLink or NVSwitch between instances, so NCCL falls back to
    host memory or the network even between slices of one GPU. The job runs,
    far slower than the GPU count suggests, or fails when a co-tenant fills
    the shared memory. The rule looks at Kubeflow training jobs and
    runtimes with more than one GPU rank in total whose pods request a MIG
    resource (`nvidia.com/mig-*`, or `nvidia.com/gpu` on nodes selected by a
    single-strategy `-MIG-` product label) or a shared one (see
    `shared-gpu-request-above-one` for how sharing is recognised).

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: ddp-finetune
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 4
          template:
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.07-py3
                  resources:
                    limits:
                      nvidia.com/mig-3g.40gb: 1
    ```

    ## Use instead
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: ddp-finetune
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 1
          template:
            spec:
              containers:
                - name: pytorch
                  image: nvcr.io/nvidia/pytorch:24.07-py3
                  resources:
                    limits:
                      nvidia.com/gpu: 4
    ```

    ## References
    - https://docs.nvidia.com/datacenter/tesla/mig-user-guide/
    - https://docs.rapids.ai/deployment/stable/guides/mig (no CUDA IPC or NVLink)
    - https://github.com/NVIDIA/k8s-device-plugin#shared-access-to-gpus
    """

    code = "CLU087"
    name = "distributed-training-on-shared-gpu"
    severity = Severity.WARNING
    mechanism = "mig-vs-mps-vs-time-slicing"
    kinds = frozenset(kind for _, kind in _TRAINING)
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if (resource.group, resource.kind) not in _TRAINING:
            return
        index = sharing_index(graph)
        ranks, unknown = 0, False
        first: tuple[Container, str, str, PodTemplate] | None = None
        for template in resource.templates:
            per_pod = 0
            for container in template.containers:
                if container.init:
                    continue
                for name in container.names:
                    count = (
                        requested_count(container, name) if is_nvidia_gpu(name) else 0
                    )
                    if not count:
                        continue
                    per_pod += count
                    if first is None:
                        why = _why(name, template, resource, index)
                        if why:
                            first = (container, name, why, template)
            if per_pod and template.replicas is None:
                unknown = True
            elif per_pod and template.replicas is not None:
                ranks += template.replicas * per_pod
        if first is None or ranks <= 1:
            return
        container, name, why, template = first
        role = f" ({template.role})" if template.role else ""
        more = " or more" if unknown else ""
        yield self.finding(
            resource,
            f"{resource.kind} runs {ranks}{more} GPU ranks and {container.label}"
            f"{role} gets {name}: {why}",
            path=resource_path(container, name),
        )


def _why(
    name: str, template: PodTemplate, resource: Resource, index: SharingIndex
) -> str:
    if mig_profile(name) is not None:
        return _MIG_WHY
    if name == NVIDIA_GPU:
        products = selected_values(template, PRODUCT_LABEL)
        if products and all("-MIG-" in p for p in products):
            return _MIG_WHY
    use = shared_use(name, template, resource, index)
    if use is None:
        return ""
    why = {MPS: _MPS_WHY, TIME_SLICING: _TIME_SLICED_WHY}.get(use.method, _SHARED_WHY)
    return f"{why} ({use.reason})"
