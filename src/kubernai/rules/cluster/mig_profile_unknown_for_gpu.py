"""CLU086 mig-profile-unknown-for-gpu."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from kubernai.model.graph import ObjectGraph
from kubernai.model.mig import ProductLabel, mig_profile, product_label
from kubernai.model.resource import Path, Resource
from kubernai.model.shared_gpus import resource_path
from kubernai.model.sharing import PRODUCT_LABEL, selected_values
from kubernai.model.workload import PodTemplate
from kubernai.rules.base import Finding, Rule, Severity


class MigProfileUnknownForGpu(Rule):
    """MIG profile that the selected GPU product does not have.

    ## Mechanism
    MIG profile names carry the slice's memory, which depends on the GPU:
    the 3-slice profile is `3g.20gb` on an A100 40GB but `3g.40gb` on an
    A100 80GB or H100 80GB, and `3g.71gb` on an H200. A pod that selects
    `nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3` and asks for
    `nvidia.com/mig-3g.20gb` matches no node, because no H100 ever
    advertises that resource: it stays Pending with `Insufficient
    nvidia.com/mig-3g.20gb`. The same holds for a GPU without MIG (T4, L4,
    A10G, L40S) and for a single-strategy product label
    (`<GPU>-MIG-<profile>`) whose profile the GPU does not have. The product
    comes from the pod's `nvidia.com/gpu.product` node selector or required
    node affinity, else from `cluster.gpu_product` in `.kubernai.yaml`;
    products missing from the catalog (`data/mig_profiles.json`) are not
    judged, and neither are attribute suffixes such as `+me`.

    ## Example
    ```yaml
    apiVersion: v1
    kind: Pod
    metadata:
      name: mig-eval
    spec:
      nodeSelector:
        nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3
      containers:
        - name: eval
          image: nvcr.io/nvidia/pytorch:24.07-py3
          resources:
            limits:
              nvidia.com/mig-3g.20gb: 1
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: Pod
    metadata:
      name: mig-eval
    spec:
      nodeSelector:
        nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3
      containers:
        - name: eval
          image: nvcr.io/nvidia/pytorch:24.07-py3
          resources:
            limits:
              nvidia.com/mig-3g.40gb: 1
    ```

    ## References
    - https://docs.nvidia.com/datacenter/tesla/mig-user-guide/supported-mig-profiles.html
    - https://docs.nvidia.com/datacenter/tesla/mig-user-guide/supported-gpus.html
    - NVIDIA/mig-parted deployments/systemd/config-default.yaml
    - NVIDIA/k8s-device-plugin internal/lm/resource.go (gpu.product label)
    """

    code = "CLU086"
    name = "mig-profile-unknown-for-gpu"
    severity = Severity.ERROR
    mechanism = "mig-vs-mps-vs-time-slicing"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            products = selected_values(template, PRODUCT_LABEL)
            from_selector = products is not None
            if products is not None:
                where = f"the pods select {PRODUCT_LABEL}={'|'.join(products)}"
            elif graph.facts.gpu_product:
                products = (graph.facts.gpu_product,)
                where = f"cluster.gpu_product is {graph.facts.gpu_product}"
            else:
                continue
            labels = [product_label(p) for p in products]
            if any(label.gpu is None for label in labels):
                continue  # a product the catalog does not know: not judged
            single = _impossible_single_labels(labels)
            if single and from_selector:
                yield self.finding(
                    resource,
                    f"{where}, but {single}: no node carries that label",
                    path=_selector_path(template),
                )
            for container in template.containers:
                for name in container.names:
                    profile = mig_profile(name)
                    if profile is None or any(
                        label.gpu is not None and label.gpu.offers(profile)
                        for label in labels
                    ):
                        continue
                    yield self.finding(
                        resource,
                        f"{container.label} requests {name}, but {where}: "
                        f"{_offer(labels)}, so no node advertises {name}",
                        path=resource_path(container, name),
                    )


def _offer(labels: list[ProductLabel]) -> str:
    parts = []
    for label in labels:
        gpu = label.gpu
        if gpu is None:
            continue
        if gpu.supports_mig:
            parts.append(f"{label.value} offers {gpu.profile_list}")
        else:
            parts.append(f"{label.value} does not support MIG")
    return "; ".join(parts)


def _impossible_single_labels(labels: list[ProductLabel]) -> str:
    """Why every ``<GPU>-MIG-<profile>`` value is impossible, or ``""``."""
    reasons = []
    for label in labels:
        gpu = label.gpu
        if gpu is None or not label.single_profile:
            return ""
        if gpu.offers(label.single_profile):
            return ""
        if gpu.supports_mig:
            reasons.append(
                f"the {gpu.name} has no {label.single_profile} profile "
                f"({gpu.profile_list})"
            )
        else:
            reasons.append(f"the {gpu.name} does not support MIG")
    return "; ".join(reasons)


def _selector_path(template: PodTemplate) -> Path:
    selector = template.spec.get("nodeSelector")
    if isinstance(selector, Mapping) and PRODUCT_LABEL in selector:
        return template.field_path("nodeSelector", PRODUCT_LABEL)
    return template.field_path(
        "affinity",
        "nodeAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
        "nodeSelectorTerms",
    )
