"""CLU031 gpu-memory-label-wrong-unit."""

from __future__ import annotations

import re
from collections.abc import Iterator
from fractions import Fraction

from kubernai.model.features import NODE_LABEL_TERMS
from kubernai.model.graph import ObjectGraph
from kubernai.model.node_labels import SELECTOR_KINDS, LabelTerm, label_terms
from kubernai.model.resource import Resource, is_placeholder
from kubernai.rules.base import Finding, Rule, Severity

# Labels holding GPU memory as a plain integer: their unit and a real value.
_MIB_KEYS = {
    "nvidia.com/gpu.memory": ("MiB", "81559 on an H100 80GB"),
    "karpenter.k8s.aws/instance-gpu-memory": ("MiB", "16384 on g4dn"),
    "eks.amazonaws.com/instance-gpu-memory": ("MiB", "16384 on g4dn"),
}
_MIG_UNIT = ("MB", "4864 for 1g.5gb")
_MIG_MEMORY = re.compile(r"nvidia\.com/mig-[0-9]+g\.[0-9]+gb[a-z0-9.]*\.memory")
_INTEGER = re.compile(r"[0-9]+")
_SIZE = re.compile(
    r"(?P<number>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>[KMGT]i?B?|[KMGT]iB|[kmgt]b)",
    re.IGNORECASE,
)
_BINARY = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
_DECIMAL = {"k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_SMALLEST_GPU_MIB = 1024
"""No GPU or MIG slice has less than 1 GiB; smaller numbers are GB or GiB."""
_ORDERED = ("Gt", "Lt", "Gte", "Lte")


class GpuMemoryLabelWrongUnit(Rule):
    """Selector on a GPU memory label written in GB or with a unit, not in MiB.

    ## Mechanism
    GPU Feature Discovery publishes `nvidia.com/gpu.memory` as the total
    memory of one GPU in MiB, a bare integer: `81559` on an H100 80GB,
    `81920` on an A100 80GB, `23034` on an L4, `15360` on a T4 (with the MIG
    `single` strategy it is the memory of one MIG device in MB, e.g. `4864`
    for `1g.5gb`). Karpenter's `karpenter.k8s.aws/instance-gpu-memory` and
    EKS Auto Mode's `eks.amazonaws.com/instance-gpu-memory` are MiB per GPU
    too (`16384` on g4dn). A `nodeSelector` or `In` value such as `80`,
    `80Gi` or `80GB` therefore matches no node and the pod stays Pending.
    `Gt` and `Lt` compare integers: a non-integer value matches no node, and
    a threshold written in GB (`Gt: ["40"]`) is compared with MiB, so it
    lets every GPU node through (`Gt`) or none (`Lt`). Write MiB integers,
    and prefer `Gt`/`Lt` over equality: the exact number differs between
    GPU models and driver versions.

    ## Example
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: finetune-70b
    spec:
      template:
        spec:
          restartPolicy: Never
          affinity:
            nodeAffinity:
              requiredDuringSchedulingIgnoredDuringExecution:
                nodeSelectorTerms:
                  - matchExpressions:
                      - key: nvidia.com/gpu.memory
                        operator: Gt
                        values: ["40"]
          containers:
            - name: trainer
              image: nvcr.io/nvidia/pytorch:24.07-py3
              resources:
                limits:
                  nvidia.com/gpu: 8
    ```

    ## Use instead
    ```yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: finetune-70b
    spec:
      template:
        spec:
          restartPolicy: Never
          affinity:
            nodeAffinity:
              requiredDuringSchedulingIgnoredDuringExecution:
                nodeSelectorTerms:
                  - matchExpressions:
                      - key: nvidia.com/gpu.memory
                        operator: Gt
                        values: ["40960"]
          containers:
            - name: trainer
              image: nvcr.io/nvidia/pytorch:24.07-py3
              resources:
                limits:
                  nvidia.com/gpu: 8
    ```

    ## References
    - https://github.com/NVIDIA/k8s-device-plugin/blob/main/docs/gpu-feature-discovery/README.md#generated-labels
    - https://github.com/NVIDIA/k8s-device-plugin/blob/main/internal/lm/resource.go
    - https://karpenter.sh/docs/concepts/scheduling/#well-known-labels
    - https://docs.aws.amazon.com/eks/latest/userguide/create-node-pool.html
    - https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#operators
    """

    code = "CLU031"
    name = "gpu-memory-label-wrong-unit"
    severity = Severity.WARNING
    mechanism = "gpu-feature-discovery-and-labels"
    kinds = SELECTOR_KINDS
    requires = frozenset({NODE_LABEL_TERMS})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for term in label_terms(resource):
            unit = _MIB_KEYS.get(term.key)
            if unit is None and _MIG_MEMORY.fullmatch(term.key):
                unit = _MIG_UNIT
            if unit is None:
                continue
            for value in term.values:
                if is_placeholder(value.text):
                    continue
                problem = _problem(term, value.text.strip(), *unit)
                if problem:
                    compared = (
                        f"{term.key} {term.operator} {value.text!r}"
                        if term.operator in _ORDERED
                        else f"{term.key}={value.text!r}"
                    )
                    yield self.finding(
                        resource,
                        f"{term.where} {compared}: {problem}",
                        path=value.path,
                    )


def _problem(term: LabelTerm, text: str, unit: str, real: str) -> str:
    ordered = term.operator in _ORDERED
    if _INTEGER.fullmatch(text):
        number = int(text)
        if number == 0 or number >= _SMALLEST_GPU_MIB:
            return ""
        example = f"{number * 1024} for {number} GiB"
        if not ordered:
            return f"the label holds {unit} ({example}), so {number} matches no node"
        lets = "every GPU node" if term.operator.startswith("Gt") else "no node"
        return (
            f"the label holds {unit}, so this threshold lets {lets} through; "
            f"write {example}"
        )
    converted = _to_mib(text)
    hint = (
        f"{text} is {converted} MiB"
        if converted is not None
        else f"write the number of {unit}"
    )
    if ordered:
        return (
            f"{term.operator} compares integers and the label holds {unit}, so a "
            f"value with a unit matches no node; {hint}"
        )
    return (
        f"the label holds a bare {unit} integer (e.g. {real}), so "
        f"{text!r} matches no node; {hint}, and prefer Gt/Lt to equality"
    )


def _to_mib(text: str) -> int | None:
    match = _SIZE.fullmatch(text)
    if match is None:
        return None
    unit = match["unit"].lower()
    scale = _BINARY if "i" in unit else _DECIMAL
    value = Fraction(match["number"]) * scale[unit[0]] / 2**20
    return int(value) if value.denominator == 1 else round(value)
