"""CLU030 unknown-gpu-product-value."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import NODE_LABEL_TERMS
from kubernai.model.graph import ObjectGraph
from kubernai.model.node_labels import (
    GFD_PRODUCT,
    MIG_PRODUCT_KEY,
    SELECTOR_KINDS,
    ValueProblem,
    label_terms,
    parse_product,
    product_problem,
)
from kubernai.model.resource import Resource, is_placeholder
from kubernai.rules.base import Finding, Rule, Severity


class UnknownGpuProductValue(Rule):
    """Node selector on `nvidia.com/gpu.product` with a value GFD never publishes.

    ## Mechanism
    GPU Feature Discovery (GFD, part of the NVIDIA device plugin and the GPU
    Operator) labels each GPU node with `nvidia.com/gpu.product`: the name
    the driver reports for the GPU (`nvidia-smi --query-gpu=name`) with
    every character other than letters, digits, `-`, `_` and `.` removed
    and the words joined by `-`. An H100 SXM node gets
    `NVIDIA-H100-80GB-HBM3`, an L4 node `NVIDIA-L4`, a T4 node `Tesla-T4`.
    With the MIG `single` strategy the value becomes
    `<name>-MIG-<profile>` (`NVIDIA-A100-SXM4-40GB-MIG-1g.5gb`), and with
    time-slicing or MPS sharing that is not renamed GFD appends `-SHARED`.
    Label matching is exact and case-sensitive, so a selector written as
    the marketing name (`A100`, `H100`, `NVIDIA-H100-SXM5-80GB`), in another
    provider's format (GKE's `nvidia-tesla-a100`, Karpenter's `h100`), with
    spaces (`NVIDIA A100-SXM4-80GB`) or with the wrong case
    (`NVIDIA-A100-80GB-PCIE`) matches no node. A `nodeSelector` or a required
    affinity then leaves the pod Pending with `0/N nodes are available:
    N node(s) didn't match Pod's node affinity/selector`; a `NotIn` excludes
    nothing and a preferred term never scores. kubernai knows the names of
    the NVIDIA driver's supported-GPU table and reports a value only when it
    is certainly wrong; the product named by `cluster.gpu_product` in
    `.kubernai.yaml` is always accepted.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: llama3-8b
    spec:
      replicas: 1
      selector:
        matchLabels: {app: llama3-8b}
      template:
        metadata:
          labels: {app: llama3-8b}
        spec:
          nodeSelector:
            nvidia.com/gpu.product: NVIDIA-H100-SXM5-80GB
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.8.5
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: llama3-8b
    spec:
      replicas: 1
      selector:
        matchLabels: {app: llama3-8b}
      template:
        metadata:
          labels: {app: llama3-8b}
        spec:
          nodeSelector:
            nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.8.5
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## References
    - https://github.com/NVIDIA/k8s-device-plugin/blob/main/internal/lm/resource.go
    - https://github.com/NVIDIA/k8s-device-plugin/blob/main/docs/gpu-feature-discovery/README.md
    - https://docs.nvidia.com/datacenter/cloud-native/gpu-operator/latest/gpu-sharing.html
    - https://github.com/NVIDIA/open-gpu-kernel-modules#compatible-gpus
    - https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/
    """

    code = "CLU030"
    name = "unknown-gpu-product-value"
    severity = Severity.WARNING
    mechanism = "gpu-feature-discovery-and-labels"
    kinds = SELECTOR_KINDS
    requires = frozenset({NODE_LABEL_TERMS})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        known = graph.facts.gpu_product
        for term in label_terms(resource):
            mig = MIG_PRODUCT_KEY.fullmatch(term.key)
            if term.key != GFD_PRODUCT and mig is None:
                continue
            if term.operator not in ("In", "NotIn"):
                continue
            for value in term.values:
                text = value.text
                if is_placeholder(text):
                    continue
                problem = product_problem(text, also_known=known)
                if problem is None and mig is not None:
                    problem = _mig_label_problem(text, mig.group(1))
                if problem is None:
                    continue
                if term.operator == "NotIn":
                    effect = "so the NotIn excludes nothing"
                else:
                    effect = "so it matches no GPU node"
                yield self.finding(
                    resource,
                    f"{term.where} {term.key}={text!r} is not a value GPU Feature "
                    f"Discovery publishes, {effect}: {problem.describe()}",
                    path=value.path,
                )


def _mig_label_problem(value: str, profile: str) -> ValueProblem | None:
    """``nvidia.com/mig-<profile>.product`` values end in ``-MIG-<profile>``."""
    parsed = parse_product(value)
    if parsed.mig_profile == profile:
        return None
    return ValueProblem(
        f"with the mixed MIG strategy this label holds <GPU name>-MIG-{profile}",
        (f"{parsed.base}-MIG-{profile}{'-SHARED' if parsed.shared else ''}",),
    )
