"""CLU021 gpu-toleration-value-mismatch."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gpu import (
    Toleration,
    accelerator_names,
    requests_accelerator,
    tolerations,
    tolerations_added_elsewhere,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, get_path
from kubernai.model.taints import DeclaredTaint, gpu_node_selection, observed_taints
from kubernai.model.workload import PodTemplate
from kubernai.rules.base import Finding, Rule, Severity


def _known_taints(graph: ObjectGraph) -> list[DeclaredTaint]:
    """The GPU taints with a known value: configured, else declared in the input."""
    taint = graph.facts.gpu_taint
    if taint.value is not None:
        if taint.effect == "PreferNoSchedule":
            return []
        return [DeclaredTaint((), taint, "cluster.gpu_taint in .kubernai.yaml")]
    return [
        declared
        for declared in observed_taints(graph)
        if declared.taint.key == taint.key
        and declared.taint.effect != "PreferNoSchedule"
    ]


class GpuTolerationValueMismatch(Rule):
    """`operator: Equal` toleration for the GPU taint key names the wrong value.

    ## Mechanism
    A toleration with `operator: Equal` (the default operator) matches a taint
    only when key, value and effect all agree. GPU taint values differ by
    provider and by team: GKE's automatic GPU taint is usually shown as
    `nvidia.com/gpu=present:NoSchedule` (KServe's GKE support assumes
    `present`), while the EKS and Karpenter examples use
    `nvidia.com/gpu=true:NoSchedule`. A manifest copied from one cluster to
    another keeps tolerating a value no node carries, so the
    scheduler rejects every GPU node with `node(s) had untolerated taint
    {nvidia.com/gpu: ...}` and a DaemonSet gets no pod there at all.
    `operator: Exists` ignores the value and works everywhere. The taint's value
    comes from `cluster.gpu_taint.value` in `.kubernai.yaml` or, when that is
    not set, from Nodes, Karpenter NodePools or Provisioners and eksctl
    ClusterConfigs in the input; the rule is silent while the value is unknown.
    It reports DaemonSets and pods that select GPU nodes by label; pods that
    request GPUs are reported by `gpu-pod-without-gpu-toleration` once the value
    is configured, and here only while it is merely observed. Pods that ask for
    no GPU and select no GPU node are left alone: the broken toleration keeps
    them where they belong.

    ## Example
    ```yaml
    apiVersion: karpenter.sh/v1
    kind: NodePool
    metadata:
      name: gpu
    spec:
      template:
        spec:
          nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: gpu}
          taints:
            - key: nvidia.com/gpu
              value: "true"
              effect: NoSchedule
    ---
    apiVersion: apps/v1
    kind: DaemonSet
    metadata:
      name: nvidia-device-plugin
      namespace: kube-system
    spec:
      selector:
        matchLabels: {name: nvidia-device-plugin}
      template:
        metadata:
          labels: {name: nvidia-device-plugin}
        spec:
          tolerations:
            - key: nvidia.com/gpu
              operator: Equal
              value: present
              effect: NoSchedule
          containers:
            - name: nvidia-device-plugin-ctr
              image: nvcr.io/nvidia/k8s-device-plugin:v0.17.0
    ```

    ## Use instead
    ```yaml
    apiVersion: karpenter.sh/v1
    kind: NodePool
    metadata:
      name: gpu
    spec:
      template:
        spec:
          nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: gpu}
          taints:
            - key: nvidia.com/gpu
              value: "true"
              effect: NoSchedule
    ---
    apiVersion: apps/v1
    kind: DaemonSet
    metadata:
      name: nvidia-device-plugin
      namespace: kube-system
    spec:
      selector:
        matchLabels: {name: nvidia-device-plugin}
      template:
        metadata:
          labels: {name: nvidia-device-plugin}
        spec:
          tolerations:
            - key: nvidia.com/gpu
              operator: Exists
              effect: NoSchedule
          containers:
            - name: nvidia-device-plugin-ctr
              image: nvcr.io/nvidia/k8s-device-plugin:v0.17.0
    ```

    ## References
    - https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/
    - https://cloud.google.com/kubernetes-engine/docs/how-to/gpus
    - https://docs.aws.amazon.com/eks/latest/userguide/ml-node-pools.html
    - https://karpenter.sh/docs/concepts/nodepools/
    """

    code = "CLU021"
    name = "gpu-toleration-value-mismatch"
    severity = Severity.WARNING
    mechanism = "taints-and-tolerations-for-gpu-nodes"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        key = graph.facts.gpu_taint.key
        known: list[DeclaredTaint] | None = None
        for template in resource.templates:
            own = list(tolerations(template))
            equal = [t for t in own if t.key == key and t.operator in ("", "Equal")]
            if not equal:
                continue
            if known is None:
                known = _known_taints(graph)
            if not known:
                return
            if any(t.tolerates(d.taint) for d in known for t in own):
                continue
            near = next(
                (t for t in equal for d in known if t.effect in ("", d.taint.effect)),
                None,
            )
            if near is None or not self._meant_for_gpu_nodes(
                resource, template, known, graph
            ):
                continue
            yield self._report(resource, template, near, known)

    @staticmethod
    def _meant_for_gpu_nodes(
        resource: Resource,
        template: PodTemplate,
        known: list[DeclaredTaint],
        graph: ObjectGraph,
    ) -> bool:
        if requests_accelerator(template):
            if graph.facts.gpu_taint.value is not None:
                return False  # gpu-pod-without-gpu-toleration reports it
            if tolerations_added_elsewhere(resource, template):
                return False
            names = {n for c in template.containers for n in accelerator_names(c)}
            return not (
                graph.facts.extended_resource_toleration
                and any(
                    d.taint.effect == "NoSchedule" and d.taint.key in names
                    for d in known
                )
            )
        if resource.kind == "DaemonSet":
            return True
        return gpu_node_selection(template) is not None

    def _report(
        self,
        resource: Resource,
        template: PodTemplate,
        near: Toleration,
        known: list[DeclaredTaint],
    ) -> Finding:
        taints = ", ".join(
            f"{d.taint.key}={d.taint.value}:{d.taint.effect} ({d.owner})"
            for d in known[:3]
        )
        more = f" and {len(known) - 3} more" if len(known) > 3 else ""
        role = f" ({template.role})" if template.role else ""
        has_value = get_path(template.spec, "tolerations", near.index, "value")
        steps: tuple[str | int, ...] = ("tolerations", near.index)
        if has_value is not None:
            steps = (*steps, "value")
        return self.finding(
            resource,
            f"pod template{role} tolerations[{near.index}] tolerates "
            f"{near.key}={near.value!r} with operator Equal, but the GPU taint "
            f"is {taints}{more}; Equal needs the exact value, so its pods are kept "
            "off those nodes",
            path=template.field_path(*steps),
        )
