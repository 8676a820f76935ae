"""CLU023 gpu-taint-with-noexecute-effect."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gpu import NVIDIA_GPU, is_accelerator, is_extended_resource
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.model.taints import TAINTED_KINDS, declared_taints
from kubernai.rules.base import Finding, Rule, Severity


class GpuTaintWithNoexecuteEffect(Rule):
    """GPU nodes are tainted `NoExecute`, which the usual GPU tolerations do not match.

    ## Mechanism
    The ExtendedResourceToleration admission plugin, which GKE and AKS run, adds
    `{key: <resource name>, operator: Exists, effect: NoSchedule}` to pods that
    request an extended resource such as `nvidia.com/gpu`: it never adds a
    `NoExecute` toleration. The tolerations that NVIDIA ships for its device
    plugin and for the GPU Operator's DaemonSets are `{key: nvidia.com/gpu,
    operator: Exists, effect: NoSchedule}` too, and so are the ones in most GPU
    workload examples. None of them matches a `nvidia.com/gpu:NoExecute` taint.
    The scheduler filters on `NoExecute` taints as well as `NoSchedule` ones, so
    GPU pods stay Pending with `node(s) had untolerated taint`, Karpenter does
    not pick the NodePool for them, the device plugin gets no pod on those nodes
    (so `nvidia.com/gpu` is never advertised), and pods already running on a
    node when the taint is added are evicted at once. The rule reads taints on
    Nodes (`spec.taints`), Karpenter NodePools (`spec.template.spec.taints`) and
    Provisioners (`spec.taints`), and eksctl ClusterConfigs
    (`nodeGroups[*].taints`, `managedNodeGroups[*].taints`), keyed by the
    configured GPU taint key (`cluster.gpu_taint.key`, default
    `nvidia.com/gpu`) or by an accelerator resource name. Karpenter
    `startupTaints` are temporary by design and are not read.

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
          requirements:
            - key: karpenter.k8s.aws/instance-family
              operator: In
              values: [p5]
          taints:
            - key: nvidia.com/gpu
              value: "true"
              effect: NoExecute
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
          requirements:
            - key: karpenter.k8s.aws/instance-family
              operator: In
              values: [p5]
          taints:
            - key: nvidia.com/gpu
              value: "true"
              effect: NoSchedule
    ```

    ## References
    - https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#extendedresourcetoleration
    - kubernetes plugin/pkg/admission/extendedresourcetoleration/admission.go
    - https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/
    - https://karpenter.sh/docs/concepts/nodepools/
    - https://github.com/NVIDIA/k8s-device-plugin/blob/main/deployments/helm/nvidia-device-plugin/values.yaml
    """

    code = "CLU023"
    name = "gpu-taint-with-noexecute-effect"
    severity = Severity.WARNING
    mechanism = "taints-and-tolerations-for-gpu-nodes"
    kinds = TAINTED_KINDS

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        gpu_key = graph.facts.gpu_taint.key
        for declared in declared_taints(resource):
            taint = declared.taint
            if taint.effect != "NoExecute":
                continue
            if taint.key != gpu_key and not is_accelerator(taint.key):
                continue
            shown = f"{taint.key}={taint.value}" if taint.value else taint.key
            if is_extended_resource(taint.key):
                admission = (
                    "ExtendedResourceToleration adds only {key: "
                    f"{taint.key}, operator: Exists, effect: NoSchedule}}"
                )
            else:
                admission = (
                    f"ExtendedResourceToleration adds nothing for key {taint.key}, "
                    "which is not a resource name"
                )
            vendor = (
                ", and the NVIDIA device plugin and GPU Operator DaemonSets "
                "tolerate it only with effect NoSchedule"
                if taint.key == NVIDIA_GPU
                else ""
            )
            yield self.finding(
                resource,
                f"GPU taint {shown}:NoExecute: {admission}{vendor}; pods whose "
                "toleration has effect NoSchedule are kept off these nodes and "
                "evicted from them",
                path=(*declared.path, "effect"),
            )
