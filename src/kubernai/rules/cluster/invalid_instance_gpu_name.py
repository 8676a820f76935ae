"""CLU034 invalid-instance-gpu-name."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache

from kubernai.model.features import NODE_LABEL_TERMS
from kubernai.model.graph import ObjectGraph
from kubernai.model.node_labels import (
    GKE_ACCELERATOR,
    GPU_MANUFACTURER_KEYS,
    GPU_NAME_KEYS,
    SELECTOR_KINDS,
    ValueProblem,
    gpu_label_catalog,
    label_terms,
    model_tokens,
    parse_product,
)
from kubernai.model.resource import Resource, is_placeholder
from kubernai.rules.base import Finding, Rule, Severity


class InvalidInstanceGpuName(Rule):
    """Karpenter or EKS Auto Mode GPU name requirement that no instance type has.

    ## Mechanism
    Karpenter on AWS and EKS Auto Mode derive
    `karpenter.k8s.aws/instance-gpu-name` (`eks.amazonaws.com/instance-gpu-name`)
    and `...-gpu-manufacturer` from
    the EC2 instance type's GPU info, lower-cased with spaces replaced by
    `-`: `t4`, `a10g`, `l4`, `l40s`, `a100`, `h100`, `h200`, `b200`,
    `nvidia`. A NodePool requirement or pod selector with `A10G`, `NVIDIA`,
    a GPU Feature Discovery product (`NVIDIA-H100-80GB-HBM3`), a GKE type
    (`nvidia-l4`) or a name with the memory size (`a100-80gb`) is satisfied
    by no instance type: a NodePool can then launch nothing, and pods that
    need it stay Pending while Karpenter logs that no instance type met the
    requirements. Select memory with `instance-gpu-memory` (MiB) instead.
    Names kubernai does not know are not reported.

    ## Example
    ```yaml
    apiVersion: karpenter.sh/v1
    kind: NodePool
    metadata:
      name: gpu-h100
    spec:
      template:
        spec:
          nodeClassRef:
            group: karpenter.k8s.aws
            kind: EC2NodeClass
            name: gpu
          requirements:
            - key: karpenter.k8s.aws/instance-gpu-name
              operator: In
              values: ["H100"]
    ```

    ## Use instead
    ```yaml
    apiVersion: karpenter.sh/v1
    kind: NodePool
    metadata:
      name: gpu-h100
    spec:
      template:
        spec:
          nodeClassRef:
            group: karpenter.k8s.aws
            kind: EC2NodeClass
            name: gpu
          requirements:
            - key: karpenter.k8s.aws/instance-gpu-name
              operator: In
              values: ["h100"]
    ```

    ## References
    - https://karpenter.sh/docs/concepts/scheduling/#well-known-labels
    - https://karpenter.sh/docs/reference/instance-types/
    - https://github.com/aws/karpenter-provider-aws/blob/main/pkg/providers/instancetype/types.go
    - https://docs.aws.amazon.com/eks/latest/userguide/create-node-pool.html
    """

    code = "CLU034"
    name = "invalid-instance-gpu-name"
    severity = Severity.ERROR
    mechanism = "gpu-feature-discovery-and-labels"
    kinds = SELECTOR_KINDS
    requires = frozenset({NODE_LABEL_TERMS})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for term in label_terms(resource):
            if term.operator not in ("In", "NotIn"):
                continue
            judge: Callable[[str], ValueProblem | None]
            if term.key in GPU_NAME_KEYS:
                judge = gpu_name_problem
            elif term.key in GPU_MANUFACTURER_KEYS:
                judge = _manufacturer_problem
            else:
                continue
            for value in term.values:
                if is_placeholder(value.text):
                    continue
                problem = judge(value.text)
                if problem is None:
                    continue
                effect = (
                    "so the NotIn excludes nothing"
                    if term.operator == "NotIn"
                    else "so no instance type satisfies it"
                )
                yield self.finding(
                    resource,
                    f"{term.where} {term.key}={value.text!r} is not a value "
                    f"Karpenter sets, {effect}: {problem.describe()}",
                    path=value.path,
                )


@lru_cache(maxsize=1024)
def gpu_name_problem(value: str) -> ValueProblem | None:
    """Why ``value`` is no EC2 GPU name as Karpenter writes it, or ``None``."""
    catalog = gpu_label_catalog()
    aws = catalog.aws
    if not value or value in aws.accepted:
        return None
    lowered = value.lower().replace(" ", "-")
    if lowered != value:
        if parse_product(value).base in catalog.gfd.accepted:
            reason = (
                "it is a GPU Feature Discovery product string; Karpenter writes "
                "the EC2 GPU name in lower case"
            )
        else:
            reason = "Karpenter writes the EC2 GPU name in lower case"
        suggestions = (lowered,) if lowered in aws.accepted else aws.closest(value)
        return ValueProblem(reason, suggestions)
    if value in catalog.gke.accepted:
        return ValueProblem(
            f"it is a GKE accelerator type ({GKE_ACCELERATOR})", aws.closest(value)
        )
    if model_tokens(value) & aws.closed_tokens:
        memory = "; select memory with instance-gpu-memory" if "gb" in value else ""
        return ValueProblem(
            f"EC2 names this GPU without vendor or memory size{memory}",
            aws.closest(value),
        )
    return None


def _manufacturer_problem(value: str) -> ValueProblem | None:
    lowered = value.lower()
    if value == lowered or lowered not in gpu_label_catalog().aws_manufacturers:
        return None
    return ValueProblem("Karpenter writes the manufacturer in lower case", (lowered,))
