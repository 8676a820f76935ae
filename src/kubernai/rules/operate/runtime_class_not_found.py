"""OPS068 runtime-class-not-found."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, get_str, is_placeholder
from kubernai.rules.base import Finding, Rule, Severity

OPERATOR_RUNTIME_CLASS = "nvidia"
"""``ClusterPolicy.spec.operator.runtimeClass`` default (NVIDIA/gpu-operator
``api/nvidia/v1/clusterpolicy_types.go``, ``+kubebuilder:default=nvidia``)."""


class RuntimeClassNotFound(Rule):
    """Pod template names a RuntimeClass that the input does not define.

    ## Mechanism
    `runtimeClassName` selects a RuntimeClass (`node.k8s.io/v1`), whose
    `handler` tells the container runtime which runtime to use; GPU setups
    use it to pick the NVIDIA runtime (`runtimeClassName: nvidia`). The
    RuntimeClass admission plugin, on by default, looks the class up when a
    pod is created and rejects the pod if it does not exist: `pods "<name>"
    is forbidden: pod rejected: RuntimeClass "nvidia" not found`. A
    Deployment, Job or StatefulSet then creates no pods at all; the error
    appears only in its controller's `FailedCreate` events. The GPU Operator
    creates the `nvidia` class itself (`ClusterPolicy`
    `spec.operator.runtimeClass`), so the rule runs only when the input
    defines RuntimeClasses and stays quiet about a class that a ClusterPolicy
    of the input creates, and about Pods read from a cluster (they were
    admitted, so the class existed then; their controller is reported).

    ## Example
    ```yaml
    apiVersion: node.k8s.io/v1
    kind: RuntimeClass
    metadata:
      name: nvidia-cdi
    handler: nvidia-cdi
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: embeddings
    spec:
      replicas: 1
      selector:
        matchLabels: {app: embeddings}
      template:
        metadata:
          labels: {app: embeddings}
        spec:
          runtimeClassName: nvidia
          containers:
            - name: server
              image: ghcr.io/huggingface/text-embeddings-inference:1.5
              resources:
                limits: {nvidia.com/gpu: 1}
    ```

    ## Use instead
    ```yaml
    apiVersion: node.k8s.io/v1
    kind: RuntimeClass
    metadata:
      name: nvidia
    handler: nvidia
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: embeddings
    spec:
      replicas: 1
      selector:
        matchLabels: {app: embeddings}
      template:
        metadata:
          labels: {app: embeddings}
        spec:
          runtimeClassName: nvidia
          containers:
            - name: server
              image: ghcr.io/huggingface/text-embeddings-inference:1.5
              resources:
                limits: {nvidia.com/gpu: 1}
    ```

    ## References
    - kubernetes `plugin/pkg/admission/runtimeclass/admission.go`
      (`prepareObjects`), `pkg/kubeapiserver/options/plugins.go`
      (`DefaultOffAdmissionPlugins`: RuntimeClass is on)
    - https://kubernetes.io/docs/concepts/containers/runtime-class/
    - https://docs.nvidia.com/datacenter/cloud-native/gpu-operator/latest/getting-started.html
    """

    code = "OPS068"
    name = "runtime-class-not-found"
    severity = Severity.ERROR
    mechanism = "kubernetes-events-for-gpu-failures"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        classes = [c for c in graph.of_kind("RuntimeClass") if c.group == "node.k8s.io"]
        if not classes:
            return
        if resource.kind == "Pod" and (
            "status" in resource.raw or get_str(resource.raw, "metadata", "uid")
        ):
            return  # a Pod read from a cluster was admitted: the class existed then
        for template in resource.templates:
            wanted = template.spec.get("runtimeClassName")
            if not isinstance(wanted, str) or not wanted or is_placeholder(wanted):
                continue
            if any(c.name == wanted for c in classes):
                continue
            if wanted in _operator_classes(graph):
                continue
            have = ", ".join(sorted({c.name for c in classes if c.name}))
            who = (
                "its controller creates no pods (FailedCreate: "
                if resource.kind != "Pod"
                else "the API server rejects it ("
            )
            yield self.finding(
                resource,
                f"runtimeClassName {wanted!r} names no RuntimeClass of the input "
                f'(it defines {have}): {who}\'pods "..." is forbidden: pod rejected: '
                f'RuntimeClass "{wanted}" not found\')',
                path=template.field_path("runtimeClassName"),
            )


def _operator_classes(graph: ObjectGraph) -> frozenset[str]:
    """RuntimeClasses that the input's GPU Operator ClusterPolicies create."""

    def build(g: ObjectGraph) -> frozenset[str]:
        return frozenset(
            get_str(policy.raw, "spec", "operator", "runtimeClass")
            or OPERATOR_RUNTIME_CLASS
            for policy in g.of_kind("ClusterPolicy")
            if policy.group == "nvidia.com"
        )

    return graph.derived("gpu-operator-runtime-classes", build)
