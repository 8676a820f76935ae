from __future__ import annotations

import json
from importlib import resources

import pytest

from kubernai.calc.catalog import find_gpu
from kubernai.load.files import LoadResult, load_text
from kubernai.model.compute_capability import GpuRange, gpu_range
from kubernai.model.facts import ClusterFacts
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import format_path


def load(text: str) -> ObjectGraph:
    loaded = LoadResult()
    load_text(text, "case.yaml", result=loaded)
    return ObjectGraph(loaded.resources)


def job(selector: str = "", affinity: str = "", command: str = "[python, t.py]"):
    return f"""\
apiVersion: batch/v1
kind: Job
metadata: {{name: j, namespace: t}}
spec:
  template:
    spec:
      {selector or "restartPolicy: Never"}
      {affinity or "schedulerName: default-scheduler"}
      containers:
        - name: train
          command: {command}
          resources: {{limits: {{nvidia.com/gpu: 1}}}}
"""


def range_of(text: str, facts: ClusterFacts | None = None) -> GpuRange | None:
    graph = load(text)
    (resource,) = graph.of_kind("Job", "t")
    (template,) = resource.templates
    return gpu_range(resource, template, facts or ClusterFacts())


@pytest.mark.parametrize(
    ("selector", "bf16", "fp8", "capability"),
    [
        pytest.param("Tesla-T4", False, False, "7.5", id="catalog-t4"),
        pytest.param("Tesla-V100-SXM2-16GB", False, False, "7.0-7.2", id="v100"),
        pytest.param("NVIDIA-A100-SXM4-80GB-SHARED", True, False, "8.0", id="a100"),
        pytest.param("A100-SXM4-40GB", True, False, "8.0-8.7", id="legacy-name"),
        pytest.param("NVIDIA-L4", True, True, "8.9", id="l4"),
        pytest.param("NVIDIA-H100-80GB-HBM3-MIG-1g.10gb", True, True, "9.0", id="mig"),
    ],
)
def test_gfd_products(selector, bf16, fp8, capability):
    found = range_of(job(f"nodeSelector: {{nvidia.com/gpu.product: {selector}}}"))
    assert found is not None
    assert (found.bf16, found.fp8, found.capability) == (bf16, fp8, capability)


def test_unknown_product_and_wrong_case_say_nothing():
    assert range_of(job("nodeSelector: {nvidia.com/gpu.product: tesla-t4}")) is None
    assert range_of(job("nodeSelector: {nvidia.com/gpu.product: Acme-X1}")) is None


def test_family_ampere_may_be_ada_on_old_gfd():
    found = range_of(job("nodeSelector: {nvidia.com/gpu.family: ampere}"))
    assert found is not None
    assert (found.bf16, found.fp8) == (True, None)


def test_compute_major_and_gke_and_karpenter():
    major = range_of(job("nodeSelector: {nvidia.com/gpu.compute.major: 7}"))
    assert major is not None
    assert (major.bf16, major.capability) == (False, "7.x")
    gke = range_of(job("nodeSelector: {cloud.google.com/gke-accelerator: nvidia-l4}"))
    assert gke is not None
    assert gke.describe() == (
        "nodeSelector cloud.google.com/gke-accelerator=nvidia-l4 "
        "(L4, compute capability 8.9)"
    )
    eks = range_of(job("nodeSelector: {eks.amazonaws.com/instance-gpu-name: v100}"))
    assert eks is not None
    assert eks.bf16 is False


def test_affinity_terms_are_ored_and_selectors_anded():
    def affinity(*terms: str) -> str:
        listed = "".join(f"\n          - matchExpressions: [{term}]" for term in terms)
        return (
            "affinity:\n        nodeAffinity:\n"
            "          requiredDuringSchedulingIgnoredDuringExecution:\n"
            f"            nodeSelectorTerms:{listed.replace(chr(10), chr(10) + '  ')}"
        )

    t4 = "{key: nvidia.com/gpu.product, operator: In, values: [Tesla-T4]}"
    l4 = "{key: cloud.google.com/gke-accelerator, operator: In, values: [nvidia-l4]}"
    other = "{key: pool, operator: In, values: [a]}"
    both = range_of(job(affinity=affinity(t4, l4)))
    assert both is not None
    assert (both.bf16, both.capability) == (None, "7.5-8.9")
    assert range_of(job(affinity=affinity(t4, other))) is None
    only = range_of(job(affinity=affinity(t4)))
    assert only is not None
    assert only.source == "required node affinity nvidia.com/gpu.product=Tesla-T4"
    assert format_path(only.path).endswith("matchExpressions[0].values")
    narrowed = range_of(
        job("nodeSelector: {nvidia.com/gpu.family: turing}", affinity(t4, l4))
    )
    assert narrowed is not None
    assert narrowed.capability == "7.5-7.9"
    assert narrowed.bf16 is False


def test_configured_gpu_only_when_the_object_says_nothing():
    facts = ClusterFacts(gpu_product="Tesla-T4", configured=True)
    found = range_of(job(), facts)
    assert found is not None
    assert found.configured
    assert found.bf16 is False
    pinned = range_of(job("nodeSelector: {nvidia.com/gpu.product: NVIDIA-L4}"), facts)
    assert pinned is not None
    assert pinned.bf16 is True
    machine = job("nodeSelector: {node.kubernetes.io/instance-type: g5.12xlarge}")
    assert range_of(machine, facts) is None
    unknown = job("nodeSelector: {nvidia.com/gpu.product: Acme-X1}")
    assert range_of(unknown, facts) is None


def test_data_file_agrees_with_the_other_catalogs():
    files = resources.files("kubernai")
    data = json.loads(files.joinpath("data/precision_gpus.json").read_text("utf-8"))
    labels = json.loads(files.joinpath("data/gpu_products.json").read_text("utf-8"))
    gke = {item["value"] for item in labels["gke_accelerators"]}
    aws = {item["value"] for item in labels["aws_gpu_names"]}
    archs = {item["arch"] for item in labels["gfd_products"]}
    assert archs <= set(data["product_architectures"]["ranges"])
    families = set(labels["gfd_enums"]["nvidia.com/gpu.family"]["values"])
    assert set(data["families"]["ranges"]) <= families
    for item in data["accelerators"]:
        assert item["source"]
        if item["key"] == "cloud.google.com/gke-accelerator":
            assert item["value"] in gke
        else:
            assert item["value"] in aws
        gpu = find_gpu(item["gpu"]) or find_gpu("NVIDIA " + item["gpu"])
        if gpu is not None:
            assert gpu.compute_capability == item["compute_capability"]
