"""CLU035 invalid-gfd-label-value."""

from __future__ import annotations

import re
from collections.abc import Iterator

from kubernai.model.features import NODE_LABEL_TERMS
from kubernai.model.graph import ObjectGraph
from kubernai.model.node_labels import SELECTOR_KINDS, gpu_label_catalog, label_terms
from kubernai.model.resource import Resource, is_placeholder
from kubernai.rules.base import Finding, Rule, Severity

_LOOSE = re.compile(r"[^a-z0-9]")


class InvalidGfdLabelValue(Rule):
    """Selector on an NVIDIA node label with a value that label never takes.

    ## Mechanism
    Several GPU Feature Discovery and GPU Operator labels take a fixed set
    of lower-case values. `nvidia.com/gpu.family` is derived from the
    compute capability: `turing`, `ampere`, `ada-lovelace`, `hopper`,
    `blackwell` (and older `volta`, `pascal`, ...).
    `nvidia.com/gpu.sharing-strategy` is `none`, `mps` or `time-slicing`;
    `nvidia.com/mig.strategy` is `single` or `mixed` (there is no label with
    the `none` strategy); `nvidia.com/mig.capable`, `nvidia.com/mps.capable`,
    `nvidia.com/vgpu.present` and the operator's `nvidia.com/gpu.present`
    are `true` or `false`. Label matching is exact, so `Ampere`, `ada`,
    `Hopper`, `timeslicing`, `MPS` or `True` match no node and the pod stays
    Pending with `node(s) didn't match Pod's node affinity/selector`.

    ## Example
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: fp8-bench
    spec:
      template:
        spec:
          restartPolicy: Never
          nodeSelector:
            nvidia.com/gpu.family: Hopper
          containers:
            - name: bench
              image: nvcr.io/nvidia/pytorch:24.07-py3
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## Use instead
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: fp8-bench
    spec:
      template:
        spec:
          restartPolicy: Never
          nodeSelector:
            nvidia.com/gpu.family: hopper
          containers:
            - name: bench
              image: nvcr.io/nvidia/pytorch:24.07-py3
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## References
    - https://github.com/NVIDIA/k8s-device-plugin/blob/main/internal/lm/resource.go
    - https://github.com/NVIDIA/k8s-device-plugin/blob/main/internal/lm/nvml.go
    - https://github.com/NVIDIA/k8s-device-plugin#catalog-of-labels
    - https://github.com/NVIDIA/k8s-device-plugin/blob/main/docs/gpu-feature-discovery/README.md#generated-labels
    """

    code = "CLU035"
    name = "invalid-gfd-label-value"
    severity = Severity.WARNING
    mechanism = "gpu-feature-discovery-and-labels"
    kinds = SELECTOR_KINDS
    requires = frozenset({NODE_LABEL_TERMS})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        enums = gpu_label_catalog().gfd_enums
        for term in label_terms(resource):
            allowed = enums.get(term.key)
            if allowed is None or term.operator not in ("In", "NotIn"):
                continue
            for value in term.values:
                text = value.text
                if text in allowed or is_placeholder(text):
                    continue
                loose = _LOOSE.sub("", text.lower())
                near = [a for a in allowed if _LOOSE.sub("", a) == loose]
                if not near:
                    near = [a for a in allowed if loose and a.startswith(loose)]
                hint = f"; did you mean {near[0]!r}?" if len(near) == 1 else ""
                effect = (
                    "excludes nothing"
                    if term.operator == "NotIn"
                    else "matches no node"
                )
                yield self.finding(
                    resource,
                    f"{term.where} {term.key}={text!r} {effect}: the label is one "
                    f"of {', '.join(allowed)}{hint}",
                    path=value.path,
                )
