"""CLU033 invalid-gke-accelerator-value."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from kubernai.model.features import NODE_LABEL_TERMS
from kubernai.model.graph import ObjectGraph
from kubernai.model.node_labels import (
    GKE_ACCELERATOR,
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

_GKE_CHARS = re.compile(r"[a-z0-9-]+")


class InvalidGkeAcceleratorValue(Rule):
    """Selector on `cloud.google.com/gke-accelerator` with no GKE GPU type as value.

    ## Mechanism
    GKE labels every GPU node with `cloud.google.com/gke-accelerator` set to
    the Compute Engine accelerator type of its node pool: `nvidia-l4`,
    `nvidia-tesla-t4`, `nvidia-tesla-a100` (A100 40GB), `nvidia-a100-80gb`,
    `nvidia-h100-80gb`, `nvidia-h100-mega-80gb`, `nvidia-h200-141gb`,
    `nvidia-b200`, `nvidia-gb200`. Autopilot and node auto-provisioning read
    the same selector to pick the GPU of the node they create. The names are
    lower case and irregular (`tesla` for the older models, the memory size
    for some), so values copied from another format match nothing: the GPU
    Feature Discovery product string (`NVIDIA-L4`), Karpenter's GPU name
    (`l4`, `a100`) or a guess (`nvidia-tesla-l4`, `nvidia-h100`,
    `nvidia-h200`). The pod then stays Pending with `node(s) didn't match
    Pod's node affinity/selector` and no GPU node pool scales up for it. The
    KServe annotation `serving.kserve.io/gke-accelerator` becomes this node
    selector and is checked too. Values with a GPU model kubernai does not
    know are not reported.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: tgi-gemma
    spec:
      replicas: 1
      selector:
        matchLabels: {app: tgi-gemma}
      template:
        metadata:
          labels: {app: tgi-gemma}
        spec:
          nodeSelector:
            cloud.google.com/gke-accelerator: nvidia-tesla-l4
          containers:
            - name: tgi
              image: ghcr.io/huggingface/text-generation-inference:2.4.0
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: tgi-gemma
    spec:
      replicas: 1
      selector:
        matchLabels: {app: tgi-gemma}
      template:
        metadata:
          labels: {app: tgi-gemma}
        spec:
          nodeSelector:
            cloud.google.com/gke-accelerator: nvidia-l4
          containers:
            - name: tgi
              image: ghcr.io/huggingface/text-generation-inference:2.4.0
              resources:
                limits:
                  nvidia.com/gpu: 1
    ```

    ## References
    - https://cloud.google.com/kubernetes-engine/docs/how-to/gpus
    - https://cloud.google.com/kubernetes-engine/docs/how-to/autopilot-gpus
    - https://cloud.google.com/compute/docs/gpus
    - https://github.com/kserve/kserve/blob/master/pkg/webhook/admission/pod/accelerator_injector.go
    """

    code = "CLU033"
    name = "invalid-gke-accelerator-value"
    severity = Severity.ERROR
    mechanism = "gpu-feature-discovery-and-labels"
    kinds = SELECTOR_KINDS
    requires = frozenset({NODE_LABEL_TERMS})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for term in label_terms(resource):
            if term.key != GKE_ACCELERATOR or term.operator not in ("In", "NotIn"):
                continue
            for value in term.values:
                if is_placeholder(value.text):
                    continue
                problem = gke_accelerator_problem(value.text)
                if problem is None:
                    continue
                effect = (
                    "so the NotIn excludes nothing"
                    if term.operator == "NotIn"
                    else "so it matches no GKE node"
                )
                yield self.finding(
                    resource,
                    f"{term.where} {term.key}={value.text!r} is no GKE accelerator "
                    f"type, {effect}: {problem.describe()}",
                    path=value.path,
                )


@lru_cache(maxsize=1024)
def gke_accelerator_problem(value: str) -> ValueProblem | None:
    """Why ``value`` is no GKE accelerator type, or ``None`` (also when unknown)."""
    catalog = gpu_label_catalog()
    gke = catalog.gke
    if not value or value in gke.accepted:
        return None
    if not _GKE_CHARS.fullmatch(value):
        if parse_product(value).base in catalog.gfd.accepted:
            reason = (
                "it is a GPU Feature Discovery product string "
                "(nvidia.com/gpu.product); GKE types are lower case"
            )
        else:
            reason = "GKE accelerator types are lower case, e.g. nvidia-l4"
        lowered = value.lower()
        suggestions = (lowered,) if lowered in gke.accepted else gke.closest(value)
        return ValueProblem(reason, suggestions)
    if value.startswith("tpu"):
        return ValueProblem("TPU types go in cloud.google.com/gke-tpu-accelerator")
    if value in catalog.aws.accepted:
        return ValueProblem(
            f"it is a Karpenter/EKS GPU name ({GPU_NAME_KEYS[0]}); GKE types start "
            "with nvidia-",
            gke.closest(value),
        )
    if model_tokens(value) & gke.closed_tokens:
        return ValueProblem("GKE names this GPU differently", gke.closest(value))
    return None
