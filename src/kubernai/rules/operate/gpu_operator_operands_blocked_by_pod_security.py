"""OPS034 gpu-operator-operands-blocked-by-pod-security."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.pod_security import (
    LABEL_PREFIX,
    Level,
    label_text,
    namespace_policy_of,
    runs_gpu_operator,
)
from kubernai.model.resource import Resource, get_path, get_str
from kubernai.rules.base import Finding, Rule, Severity

_ENFORCE = f"{LABEL_PREFIX}enforce"


def _operator(graph: ObjectGraph, namespace: str) -> Resource | None:
    """A Deployment of the namespace that runs the GPU Operator."""
    for deployment in graph.of_kind("Deployment", namespace):
        for template in deployment.templates:
            for container in template.containers:
                if runs_gpu_operator(get_str(container.raw, "image")):
                    return deployment
    return None


class GpuOperatorOperandsBlockedByPodSecurity(Rule):
    """GPU Operator namespace enforces a Pod Security level its operands fail.

    ## Mechanism
    The NVIDIA GPU Operator creates its operands (driver, container toolkit,
    device plugin, DCGM exporter, GPU feature discovery, MIG manager,
    validator) as DaemonSets in its own namespace, and every one of them runs
    privileged containers with hostPath volumes. They can only start in a
    namespace whose `pod-security.kubernetes.io/enforce` level is
    `privileged`. The operator sets `enforce`, `audit` and `warn` to
    `privileged` on its namespace by itself only when the ClusterPolicy has
    `spec.psa.enabled: true`; the field defaults to false (Helm value
    `psa.enabled: false`). With a `baseline` or `restricted` label and PSA
    support off, the operator itself needs no privileges, but each operand
    DaemonSet reports `FailedCreate ... violates PodSecurity
    "baseline:latest": hostPath volumes (...), privileged (...)`, no driver or
    device plugin starts, and no node ever advertises `nvidia.com/gpu`. The
    rule needs the Namespace, the operator Deployment (image
    `nvcr.io/nvidia/gpu-operator`) and a `nvidia.com` ClusterPolicy in the
    input. On OpenShift the operator labels only the suggested namespace
    `nvidia-gpu-operator`.

    ## Example
    ```yaml
    apiVersion: v1
    kind: Namespace
    metadata:
      name: gpu-operator
      labels:
        pod-security.kubernetes.io/enforce: baseline
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: gpu-operator
      namespace: gpu-operator
    spec:
      replicas: 1
      selector:
        matchLabels: {app: gpu-operator}
      template:
        metadata:
          labels: {app: gpu-operator}
        spec:
          serviceAccountName: gpu-operator
          containers:
            - name: gpu-operator
              image: nvcr.io/nvidia/gpu-operator:v25.3.0
              command: ["gpu-operator"]
    ---
    apiVersion: nvidia.com/v1
    kind: ClusterPolicy
    metadata:
      name: cluster-policy
    spec:
      psa:
        enabled: false
      driver:
        enabled: true
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: Namespace
    metadata:
      name: gpu-operator
      labels:
        pod-security.kubernetes.io/enforce: privileged
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: gpu-operator
      namespace: gpu-operator
    spec:
      replicas: 1
      selector:
        matchLabels: {app: gpu-operator}
      template:
        metadata:
          labels: {app: gpu-operator}
        spec:
          serviceAccountName: gpu-operator
          containers:
            - name: gpu-operator
              image: nvcr.io/nvidia/gpu-operator:v25.3.0
              command: ["gpu-operator"]
    ---
    apiVersion: nvidia.com/v1
    kind: ClusterPolicy
    metadata:
      name: cluster-policy
    spec:
      psa:
        enabled: false
      driver:
        enabled: true
    ```

    ## References
    - NVIDIA/gpu-operator controllers/state_manager.go
      (setPodSecurityLabelsForNamespace, runs when spec.psa.enabled)
    - NVIDIA/gpu-operator api/nvidia/v1/clusterpolicy_types.go (PSASpec.IsEnabled:
      false when unset)
    - NVIDIA/gpu-operator deployments/gpu-operator/values.yaml (psa.enabled: false)
    - NVIDIA/gpu-operator assets/state-*/ (operand DaemonSets: privileged, hostPath)
    - https://docs.nvidia.com/datacenter/cloud-native/gpu-operator/latest/getting-started.html
    """

    code = "OPS034"
    name = "gpu-operator-operands-blocked-by-pod-security"
    severity = Severity.ERROR
    mechanism = "pod-security-admission-for-gpu-workloads"
    kinds = frozenset({"Namespace"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if resource.kind != "Namespace":
            return
        found = namespace_policy_of(graph, resource.name)
        if found is None or found[0] is not resource:
            return
        policy = found[1]
        if policy.errors or not policy.enforce_labelled:
            return  # invalid-pod-security-label
        if policy.enforce.level is Level.PRIVILEGED:
            return
        policies = [
            p for p in graph.of_kind("ClusterPolicy") if p.group == "nvidia.com"
        ]
        if not policies:
            return  # psa.enabled unknown
        if any(get_path(p.raw, "spec", "psa", "enabled") is True for p in policies):
            return  # the operator relabels its namespace privileged
        operator = _operator(graph, resource.name)
        if operator is None:
            return
        value = label_text(resource.labels.get(_ENFORCE))
        yield self.finding(
            resource,
            f"namespace enforces Pod Security {policy.enforce} ({_ENFORCE}={value}) "
            f"and runs the GPU Operator ({operator.display()}), but ClusterPolicy "
            f"{policies[0].name} leaves spec.psa.enabled off, so the operator does "
            "not relabel the namespace privileged and the API server refuses its "
            "privileged, hostPath operand pods (driver, container toolkit, device "
            "plugin, ...): no node gets nvidia.com/gpu",
            path=("metadata", "labels", _ENFORCE),
        )
