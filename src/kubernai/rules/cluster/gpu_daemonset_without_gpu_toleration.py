"""CLU020 gpu-daemonset-without-gpu-toleration."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gpu import Taint, Toleration, requests_accelerator, tolerations
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, get_path
from kubernai.model.taints import gpu_node_agent, gpu_node_selection
from kubernai.rules.base import Finding, Rule, Severity

# Taints that say nothing about GPUs: the node lifecycle taints, control-plane
# roles and the kube-system add-on taint.
_GENERIC_TAINT_PREFIXES = (
    "node.kubernetes.io/",
    "node-role.kubernetes.io/",
    "node.cloudprovider.kubernetes.io/",
    "CriticalAddonsOnly",
)


def _other_dedicated_taint(own: list[Toleration], key: str) -> Toleration | None:
    """A toleration for some other specific, non-generic taint (``sku=gpu``)."""
    for toleration in own:
        if (
            toleration.key
            and toleration.key != key
            and not toleration.key.startswith(_GENERIC_TAINT_PREFIXES)
            and toleration.effect in ("", "NoSchedule", "NoExecute")
        ):
            return toleration
    return None


def _near_miss(toleration: Toleration, taint: Taint) -> str:
    """Why a toleration with the taint's key still does not match it."""
    if toleration.effect and toleration.effect != taint.effect:
        why = f"effect {toleration.effect}"
    elif toleration.operator not in ("", "Equal", "Exists"):
        why = f"operator {toleration.operator!r}"
    else:
        why = f"value {toleration.value!r}"
    return f"tolerations[{toleration.index}] has key {taint.key} but {why}"


class GpuDaemonsetWithoutGpuToleration(Rule):
    """GPU node agent DaemonSet does not tolerate the GPU node taint.

    ## Mechanism
    The NVIDIA device plugin, the DCGM exporter, GPU feature discovery and the
    node-feature-discovery worker must run on every GPU node. The DaemonSet
    controller creates a pod on a node only if the pod tolerates all of the
    node's `NoSchedule` and `NoExecute` taints; on its own it adds tolerations
    only for node-condition taints such as `node.kubernetes.io/not-ready`,
    `unreachable`, `disk-pressure` and `unschedulable`, never for a GPU taint
    such as `nvidia.com/gpu:NoSchedule`.
    The ExtendedResourceToleration admission plugin does not help either: it
    adds tolerations only to pods that request the extended resource, and node
    agents request none. So on tainted GPU nodes the device plugin never starts,
    the kubelet never advertises `nvidia.com/gpu`, and every GPU pod stays
    Pending with `Insufficient nvidia.com/gpu`; without the NFD worker the
    `feature.node.kubernetes.io/pci-10de.present` label never appears, so the
    GPU Operator deploys nothing there; without the exporter the nodes have no
    GPU metrics. The rule looks at DaemonSets that run one of these images or
    select nodes by a GPU label (`nvidia.com/gpu.present`,
    `nvidia.com/gpu.deploy.*`, `feature.node.kubernetes.io/pci-10de.present`,
    `cloud.google.com/gke-accelerator`, `karpenter.k8s.aws/instance-gpu-*`,
    `eks.amazonaws.com/instance-gpu-*`).
    The taint is the cluster fact `cluster.gpu_taint` in `.kubernai.yaml`
    (default `nvidia.com/gpu:NoSchedule`). While it is left at the default, a
    DaemonSet that tolerates some other dedicated taint (AKS guides use
    `sku=gpu`) is taken to be written for a cluster that taints GPU nodes with
    that key. An `Equal` toleration for the right key with the wrong value is
    reported by `gpu-toleration-value-mismatch`, and a DaemonSet that requests
    GPUs itself by `gpu-pod-without-gpu-toleration`.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: DaemonSet
    metadata:
      name: dcgm-exporter
      namespace: gpu-monitoring
    spec:
      selector:
        matchLabels: {app: dcgm-exporter}
      template:
        metadata:
          labels: {app: dcgm-exporter}
        spec:
          nodeSelector:
            nvidia.com/gpu.present: "true"
          containers:
            - name: exporter
              image: nvcr.io/nvidia/k8s/dcgm-exporter:3.3.9-3.6.1-ubuntu22.04
              ports:
                - {name: metrics, containerPort: 9400}
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: DaemonSet
    metadata:
      name: dcgm-exporter
      namespace: gpu-monitoring
    spec:
      selector:
        matchLabels: {app: dcgm-exporter}
      template:
        metadata:
          labels: {app: dcgm-exporter}
        spec:
          nodeSelector:
            nvidia.com/gpu.present: "true"
          tolerations:
            - key: nvidia.com/gpu
              operator: Exists
              effect: NoSchedule
          containers:
            - name: exporter
              image: nvcr.io/nvidia/k8s/dcgm-exporter:3.3.9-3.6.1-ubuntu22.04
              ports:
                - {name: metrics, containerPort: 9400}
    ```

    ## References
    - https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/#taints-and-tolerations
    - https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/
    - https://github.com/NVIDIA/k8s-device-plugin/blob/main/deployments/static/nvidia-device-plugin.yml
    - https://github.com/NVIDIA/gpu-operator/blob/main/deployments/gpu-operator/values.yaml
    - kubernetes plugin/pkg/admission/extendedresourcetoleration/admission.go
    """

    code = "CLU020"
    name = "gpu-daemonset-without-gpu-toleration"
    severity = Severity.ERROR
    mechanism = "taints-and-tolerations-for-gpu-nodes"
    kinds = frozenset({"DaemonSet"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        taint = graph.facts.gpu_taint
        if taint.effect == "PreferNoSchedule":
            return  # only scored: the DaemonSet's pods still run
        for template in resource.templates:
            if requests_accelerator(template):
                continue  # gpu-pod-without-gpu-toleration covers GPU-requesting pods
            evidence = gpu_node_agent(template) or gpu_node_selection(template)
            if evidence is None:
                continue
            own = list(tolerations(template))
            if any(t.tolerates(taint) for t in own):
                continue
            near = [t for t in own if t.key == taint.key]
            if taint.value is not None and any(
                t.operator in ("", "Equal") and t.effect in ("", taint.effect)
                for t in near
            ):
                continue  # right key, wrong value: gpu-toleration-value-mismatch
            if (
                graph.facts.assumed
                and _other_dedicated_taint(own, taint.key) is not None
            ):
                continue
            shown = (
                f"{taint.key}={taint.value}" if taint.value is not None else taint.key
            )
            detail = f"; {_near_miss(near[0], taint)}" if near else ""
            assumed = (
                " (assumed cluster fact: set cluster.gpu_taint in .kubernai.yaml)"
                if graph.facts.assumed
                else ""
            )
            listed = isinstance(get_path(template.spec, "tolerations"), list)
            path = template.field_path("tolerations") if listed else evidence.path
            yield self.finding(
                resource,
                f"DaemonSet runs {evidence.what} but does not tolerate the GPU "
                f"taint {shown}:{taint.effect}, so it gets no pod on tainted GPU "
                f"nodes{detail}{assumed}",
                path=path,
            )
