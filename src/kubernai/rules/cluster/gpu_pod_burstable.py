"""CLU053 gpu-pod-burstable."""

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
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class GpuPodBurstable(Rule):
    """GPU pod whose cpu and memory requests and limits are not all equal: Burstable.

    ## Mechanism
    A pod is Guaranteed only when every container, init containers included,
    has cpu and memory limits and the requests equal them (a request left out
    defaults to the limit). Otherwise it is Burstable. Under node memory
    pressure the kubelet evicts first the pods using more memory than they
    requested; a Guaranteed pod never does, a Burstable one with a memory
    request below its limit can, and then goes before Guaranteed pods, with
    no grace period on a hard threshold. With the static CPU manager policy
    only Guaranteed pods with whole CPUs get exclusive cores, which the
    topology manager can align with the GPU's NUMA node. This is advice, not
    a fault: Burstable is a sound choice when the node runs nothing else.

    Not reported: KServe and Knative services and PyTorchJob workers next to
    a Master, whose added containers make them Burstable whatever the
    manifest says, templates completed by a runtime at admission, and
    namespaces whose LimitRange (when in the input) fills in cpu or memory.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
    spec:
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.6.3
              resources:
                requests:
                  cpu: "8"
                  memory: 48Gi
                limits:
                  memory: 64Gi
                  nvidia.com/gpu: 1
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
    spec:
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.6.3
              resources:
                limits:
                  cpu: "8"
                  memory: 64Gi
                  nvidia.com/gpu: 1
    ```

    ## References
    - https://kubernetes.io/docs/concepts/workloads/pods/pod-qos/
    - https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/#pod-selection-for-kubelet-eviction
    - https://kubernetes.io/docs/tasks/administer-cluster/cpu-management-policies/
    - kubernetes/kubernetes pkg/apis/core/helper/qos/qos.go (ComputePodQOS)
    """

    code = "CLU053"
    name = "gpu-pod-burstable"
    severity = Severity.INFO
    mechanism = "eviction-and-gpu-workloads"
    workloads_only = True
    requires = frozenset({ACCELERATOR})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        checked_limit_ranges = False
        for template in resource.templates:
            if gpu_request(template) is None or added_containers(resource, template):
                continue
            qos = pod_qos(template)
            if qos is None or qos.qos_class is not QosClass.BURSTABLE:
                continue
            if not checked_limit_ranges:
                if limit_range_fills_qos(graph, resource.namespace):
                    return
                checked_limit_ranges = True
            role = f" ({template.role})" if template.role else ""
            yield self.finding(
                resource,
                f"pod template{role} is Burstable, not Guaranteed: {qos.reason}",
                path=qos.path,
            )
