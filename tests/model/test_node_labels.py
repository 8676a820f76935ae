import json
from importlib import resources

import pytest

from kubernai.load.files import LoadResult, load_text
from kubernai.model.node_labels import (
    SELECTOR_KINDS,
    gpu_label_catalog,
    label_terms,
    model_tokens,
    parse_product,
    product_problem,
    sanitise,
)


def resources_of(text):
    loaded = LoadResult()
    load_text(text, "doc.yaml", result=loaded)
    return loaded.resources


def terms_of(text):
    return [term for r in resources_of(text) for term in label_terms(r)]


POD = """
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  nodeSelector:
    nvidia.com/gpu.product: NVIDIA-L4
    count: 8
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
          - matchExpressions:
              - {key: nvidia.com/gpu.memory, operator: Gt, values: ["40960"]}
      preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 1
          preference:
            matchExpressions:
              - {key: nvidia.com/gpu.family, operator: In, values: [hopper, true]}
  containers: []
"""


def test_pod_terms_keep_operator_values_and_paths():
    terms = terms_of(POD)
    assert [(t.key, t.operator, t.where) for t in terms] == [
        ("nvidia.com/gpu.product", "In", "nodeSelector"),
        ("count", "In", "nodeSelector"),
        ("nvidia.com/gpu.memory", "Gt", "required node affinity"),
        ("nvidia.com/gpu.family", "In", "preferred node affinity"),
    ]
    assert terms[0].values[0].path == ("spec", "nodeSelector", "nvidia.com/gpu.product")
    assert terms[1].values[0].text == "8"
    required = terms[2]
    assert required.path[-1] == "key"
    assert required.values[0].path[-3:] == (0, "values", 0)
    assert [v.text for v in terms[3].values] == ["hopper", "true"]
    assert terms[3].values[1].path[-5:] == (
        "preference",
        "matchExpressions",
        0,
        "values",
        1,
    )


def test_resource_flavor_nodepool_and_kserve_annotation():
    text = """
apiVersion: kueue.x-k8s.io/v1beta1
kind: ResourceFlavor
metadata: {name: f}
spec:
  nodeLabels: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: n}
spec:
  template:
    spec:
      requirements:
        - {key: karpenter.k8s.aws/instance-gpu-name, operator: In, values: [h100]}
---
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: i
  annotations: {serving.kserve.io/gke-accelerator: nvidia-l4}
spec:
  predictor:
    nodeSelector: {cloud.google.com/gke-nodepool: gpu}
"""
    terms = terms_of(text)
    found = {(t.where, t.key, t.values[0].text) for t in terms}
    assert found == {
        (
            "ResourceFlavor nodeLabels",
            "nvidia.com/gpu.product",
            "NVIDIA-H100-80GB-HBM3",
        ),
        ("NodePool requirements", "karpenter.k8s.aws/instance-gpu-name", "h100"),
        ("nodeSelector", "cloud.google.com/gke-nodepool", "gpu"),
        (
            "annotation serving.kserve.io/gke-accelerator",
            "cloud.google.com/gke-accelerator",
            "nvidia-l4",
        ),
    }
    assert {"ResourceFlavor", "NodePool", "Deployment", "Pod"} <= SELECTOR_KINDS


@pytest.mark.parametrize(
    "text",
    [
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {nodeSelector: [a]}\n",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {affinity: oops}\n",
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
            "  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuring"
            "Execution: {nodeSelectorTerms: [1, {matchExpressions: x}]}}}\n"
        ),
        (
            "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: n}\n"
            "spec: {template: {spec: {requirements: [{key: 1}, x]}}}\n"
        ),
    ],
)
def test_malformed_selectors_give_no_terms(text):
    assert terms_of(text) == []


@pytest.mark.parametrize(
    ("value", "base", "profile", "shared"),
    [
        ("NVIDIA-H100-80GB-HBM3", "NVIDIA-H100-80GB-HBM3", "", False),
        ("Tesla-T4-SHARED", "Tesla-T4", "", True),
        ("A100-SXM4-40GB-MIG-1g.5gb", "A100-SXM4-40GB", "1g.5gb", False),
        ("A100-SXM4-40GB-MIG-1g.5gb-SHARED", "A100-SXM4-40GB", "1g.5gb", True),
        ("MOCKMODEL-MIG-INVALID", "MOCKMODEL", "INVALID", False),
    ],
)
def test_parse_product(value, base, profile, shared):
    parsed = parse_product(value)
    assert (parsed.base, parsed.mig_profile, parsed.shared) == (base, profile, shared)


def test_sanitise_matches_gfd():
    assert sanitise("NVIDIA A100-SXM4-80GB") == "NVIDIA-A100-SXM4-80GB"
    assert sanitise("NVIDIA  RTX 6000 Ada Generation") == (
        "NVIDIA-RTX-6000-Ada-Generation"
    )
    assert sanitise("NVIDIA (R) T4!") == "NVIDIA-R-T4"


def test_model_tokens():
    assert model_tokens("nvidia-tesla-a100") == {"A100"}
    assert model_tokens("NVIDIA-GH200-480GB") == {"GH200"}
    assert model_tokens("NVIDIA-GeForce-RTX-5090-D-v2", upper_only=True) == set()
    assert model_tokens("t4g") == {"T4G"}


@pytest.mark.parametrize(
    "value",
    [
        "NVIDIA-H100-80GB-HBM3",
        "NVIDIA-H100",
        "NVIDIA-H100-PCIe",
        "NVIDIA-A100-80GB-PCIe",
        "A100-PCIE-40GB",
        "Tesla-T4-SHARED",
        "NVIDIA-H100-80GB-HBM3-MIG-3g.40gb",
        "NVIDIA-A100-40C",
        "GRID-T4-16Q",
        "NVIDIA-Unknown-Accelerator",
        "Tesla-PG500-216",
    ],
)
def test_real_or_unknown_products_pass(value):
    assert product_problem(value) is None


@pytest.mark.parametrize(
    ("value", "reason", "first"),
    [
        ("NVIDIA-H100-SXM5-80GB", "no H100 GPU", "NVIDIA-H100-80GB-HBM3"),
        ("nvidia-h100-80gb", "GKE accelerator type", "NVIDIA-H100-80GB-HBM3"),
        ("l40s", "Karpenter/EKS GPU name", "NVIDIA-L40S"),
        ("L4", "starts with 'NVIDIA'", "NVIDIA-L4"),
        ("NVIDIA-L4-SHARED ", "GFD removes characters", "NVIDIA-L4-SHARED"),
        ("NVIDIA-a10g", "case-sensitive", "NVIDIA-A10G"),
        ("NVIDIA-T4", "no T4 GPU", "Tesla-T4"),
        ("H200-MIG-1g.18gb", "starts with 'NVIDIA'", "NVIDIA-H200-MIG-1g.18gb"),
    ],
)
def test_wrong_products(value, reason, first):
    problem = product_problem(value)
    assert problem is not None
    assert reason in problem.reason
    assert problem.suggestions[0] == first


def test_cluster_product_is_accepted():
    assert product_problem("NVIDIA-H100-SXM5-80GB") is not None
    assert (
        product_problem("NVIDIA-H100-SXM5-80GB", also_known="NVIDIA-H100-SXM5-80GB")
        is None
    )
    assert (
        product_problem(
            "NVIDIA-H100-SXM5-80GB-SHARED", also_known="NVIDIA-H100-SXM5-80GB"
        )
        is None
    )


def test_catalog_entries_all_have_sources():
    text = resources.files("kubernai").joinpath("data/gpu_products.json").read_text()
    data = json.loads(text)
    sources = data["sources"]
    for section in ("gfd_products", "gke_accelerators", "aws_gpu_names"):
        for entry in data[section]:
            assert entry["source"], entry
            key = entry["source"].split()[0].rstrip(";")
            assert key in sources or key.startswith("http") or "/" in key, entry
    for group in (data["gfd_enums"], data["gfd_deprecated_labels"]):
        assert all(item["source"] for item in group.values())
    products = [p["product"] for p in data["gfd_products"]]
    assert len(products) == len(set(products))
    assert all(p == sanitise(p) for p in products)


def test_catalog_indexes():
    catalog = gpu_label_catalog()
    assert "NVIDIA-H100-80GB-HBM3" in catalog.gfd.values
    assert "A100-SXM4-40GB" in catalog.gfd.accepted  # older drivers: no prefix
    assert "H100" not in catalog.gfd.accepted  # Hopper never lost the prefix
    assert {"A100", "H100", "L4", "T4"} <= catalog.gfd.closed_tokens
    assert "V100" not in catalog.gfd.closed_tokens  # V100 names are not all known
    assert catalog.gke.closest("nvidia-tesla-l4") == ("nvidia-l4",)
    assert catalog.aws.closest("nvidia-a10g") == ("a10g",)
    assert "nvidia-a100-40gb" in catalog.gke.accepted
    assert "nvidia-a100-40gb" not in catalog.gke.values
