"""CLU032 deprecated-gfd-label."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.features import NODE_LABEL_TERMS
from kubernai.model.graph import ObjectGraph
from kubernai.model.node_labels import SELECTOR_KINDS, gpu_label_catalog, label_terms
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class DeprecatedGfdLabel(Rule):
    """Node selector on a CUDA version label that GPU Feature Discovery deprecated.

    ## Mechanism
    GPU Feature Discovery still writes `nvidia.com/cuda.driver.major`,
    `.minor` and `.rev` and `nvidia.com/cuda.runtime.major` and `.minor`,
    but its label catalog marks them deprecated and its labeler keeps them
    only under a "Deprecated labels" comment next to their replacements,
    `nvidia.com/cuda.driver-version.{major,minor,revision,full}` and
    `nvidia.com/cuda.runtime-version.{major,minor,full}`. A selector on a
    deprecated key works today and silently stops matching when a release
    drops it: the pods then stay Pending with `node(s) didn't match Pod's
    node affinity/selector`. Move selectors to the new keys, which carry the
    same values.

    ## Example
    ```yaml
    apiVersion: v1
    kind: Pod
    metadata:
      name: cuda12-smoke
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
              - matchExpressions:
                  - key: nvidia.com/cuda.runtime.major
                    operator: In
                    values: ["12"]
      containers:
        - name: cuda
          image: nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04
          resources:
            limits:
              nvidia.com/gpu: 1
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: Pod
    metadata:
      name: cuda12-smoke
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
              - matchExpressions:
                  - key: nvidia.com/cuda.runtime-version.major
                    operator: In
                    values: ["12"]
      containers:
        - name: cuda
          image: nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04
          resources:
            limits:
              nvidia.com/gpu: 1
    ```

    ## References
    - https://github.com/NVIDIA/k8s-device-plugin/blob/main/docs/gpu-feature-discovery/README.md#generated-labels
    - https://github.com/NVIDIA/k8s-device-plugin/blob/main/internal/lm/nvml.go
    """

    code = "CLU032"
    name = "deprecated-gfd-label"
    severity = Severity.INFO
    mechanism = "gpu-feature-discovery-and-labels"
    kinds = SELECTOR_KINDS
    requires = frozenset({NODE_LABEL_TERMS})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        deprecated = gpu_label_catalog().deprecated
        for term in label_terms(resource):
            replacement = deprecated.get(term.key)
            if replacement is None:
                continue
            yield self.finding(
                resource,
                f"{term.where} selects on {term.key}, which GPU Feature Discovery "
                f"deprecated; use {replacement}",
                path=term.path,
            )
