"""CLU052 gpu-pod-best-effort."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.eviction import (
    QosClass,
    added_containers,
    gpu_request,
    limit_range_fills_qos,
    pod_qos,
)
from kubernai.model.features import ACCELERATOR
from kubernai.model.graph import ObjectGraph
from kubernai.model.quantity import format_quantity
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class GpuPodBestEffort(Rule):
    """GPU pod with no cpu or memory requests or limits: QoS class BestEffort.

    ## Mechanism
    Only cpu and memory decide a pod's QoS class; `nvidia.com/gpu` and other
    extended resources do not count. A pod whose containers set nothing but a
    GPU limit is therefore BestEffort. Under node memory pressure the kubelet
    evicts first the pods whose memory use exceeds their request, and a
    BestEffort pod's request is zero, so it is always in that first group;
    hard eviction thresholds give it no grace period at all. The kernel OOM
    killer also picks it first (`oom_score_adj` 1000). The scheduler, seeing
    no memory request, may place it on a node already full of other pods'
    memory. For a job holding eight GPUs that is a restart from the last
    checkpoint. Set cpu and memory requests, and limits equal to them for a
    Guaranteed pod.

    Not reported: KServe and Knative services, whose added containers change
    the class, templates completed by a runtime at admission, and
    namespaces whose LimitRange (when in the input) fills in cpu or memory.

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
          containers:
            - name: trainer
              image: nvcr.io/nvidia/pytorch:24.05-py3
              resources:
                limits:
                  cpu: "32"
                  memory: 512Gi
                  nvidia.com/gpu: 8
    ```

    ## References
    - https://kubernetes.io/docs/concepts/workloads/pods/pod-qos/
    - https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/#pod-selection-for-kubelet-eviction
    - kubernetes/kubernetes pkg/apis/core/helper/qos/qos.go (ComputePodQOS)
    """

    code = "CLU052"
    name = "gpu-pod-best-effort"
    severity = Severity.WARNING
    mechanism = "eviction-and-gpu-workloads"
    workloads_only = True
    requires = frozenset({ACCELERATOR})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        checked_limit_ranges = False
        for template in resource.templates:
            request = gpu_request(template)
            if request is None or added_containers(resource, template):
                continue
            qos = pod_qos(template)
            if qos is None or qos.qos_class is not QosClass.BEST_EFFORT:
                continue
            if not checked_limit_ranges:
                if limit_range_fills_qos(graph, resource.namespace):
                    return
                checked_limit_ranges = True
            container, name = request
            section = "limits" if name in container.limits else "requests"
            amount = format_quantity(getattr(container, section).get(name))
            role = f" ({template.role})" if template.role else ""
            yield self.finding(
                resource,
                f"pod template{role} is BestEffort: {container.label} requests "
                f"{name}={amount} but no container sets cpu or memory requests or "
                "limits",
                path=container.resource_path(section, name),
            )
