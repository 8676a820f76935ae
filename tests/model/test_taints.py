import pytest

from kubernai.load.files import LoadResult, load_text
from kubernai.model.gpu import Taint
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import format_path
from kubernai.model.taints import (
    declared_taints,
    gpu_agent_component,
    gpu_node_agent,
    gpu_node_selection,
    is_gpu_node_label,
    observed_taints,
    squatting_toleration,
)


def load(text: str):
    loaded = LoadResult()
    load_text(text, "t.yaml", result=loaded)
    return loaded.resources


@pytest.mark.parametrize(
    ("image", "component"),
    [
        ("nvcr.io/nvidia/k8s-device-plugin:v0.17.0", "NVIDIA device plugin"),
        ("nvidia/k8s-device-plugin:1.0.0-beta4", "NVIDIA device plugin"),
        (
            "mcr.microsoft.com/oss/nvidia/k8s-device-plugin:v0.14.1",
            "NVIDIA device plugin",
        ),
        ("rocm/k8s-device-plugin:1.31.0.6", ""),
        (
            "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/aws-efa-k8s-device-plugin:v0.5.6",
            "",
        ),
        ("nvcr.io/nvidia/k8s/dcgm-exporter:4.2.3-4.1.3-ubuntu22.04", "DCGM exporter"),
        ("nvcr.io/nvidia/k8s/dcgm-exporter@sha256:abc", "DCGM exporter"),
        ("localhost:5000/dcgm-exporter", "DCGM exporter"),
        ("nvcr.io/nvidia/gpu-feature-discovery:v0.8.2", "GPU feature discovery daemon"),
        (
            "registry.k8s.io/nfd/node-feature-discovery:v0.16.4",
            "node-feature-discovery worker",
        ),
        ("ghcr.io/example/dcgm-exporter-dashboards:1.0", ""),
        ("localhost:5000", ""),
        ("", ""),
        ("FILLED BY THE OPERATOR", ""),
    ],
)
def test_gpu_agent_component(image, component):
    assert gpu_agent_component(image) == component


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("nvidia.com/gpu.present", True),
        ("nvidia.com/gpu.deploy.device-plugin", True),
        ("nvidia.com/gpu.product", True),
        ("feature.node.kubernetes.io/pci-10de.present", True),
        ("feature.node.kubernetes.io/pci-0302_10de.present", True),
        ("cloud.google.com/gke-accelerator", True),
        ("karpenter.k8s.aws/instance-gpu-count", True),
        ("eks.amazonaws.com/instance-gpu-count", True),
        ("nvidia.com/gpu", False),
        ("feature.node.kubernetes.io/pci-1002.present", False),
        ("kubernetes.io/arch", False),
    ],
)
def test_is_gpu_node_label(key, expected):
    assert is_gpu_node_label(key) is expected


def test_declared_taints_per_kind():
    resources = load(
        """
apiVersion: v1
kind: Node
metadata: {name: n1}
spec:
  taints:
    - {key: nvidia.com/gpu, value: present, effect: NoSchedule}
    - {key: no-effect}
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: gpu}
spec:
  template:
    spec:
      taints: [{key: nvidia.com/gpu, value: true, effect: NoExecute}]
      startupTaints: [{key: nvidia.com/gpu, value: not-ready, effect: NoSchedule}]
---
apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata: {name: ml}
managedNodeGroups:
  - name: gpu
    taints: [{key: sku, value: gpu, effect: NoSchedule}]
---
apiVersion: example.com/v1
kind: NodePool
metadata: {name: other}
spec: {template: {spec: {taints: [{key: a, effect: NoSchedule}]}}}
"""
    )
    found = [list(declared_taints(r)) for r in resources]
    assert [[(d.path, d.taint) for d in ds] for ds in found] == [
        [(("spec", "taints", 0), Taint("nvidia.com/gpu", "present", "NoSchedule"))],
        [
            (
                ("spec", "template", "spec", "taints", 0),
                Taint("nvidia.com/gpu", "true", "NoExecute"),
            )
        ],
        [
            (
                ("managedNodeGroups", 0, "taints", 0),
                Taint("sku", "gpu", "NoSchedule"),
            )
        ],
        [],
    ]
    assert found[0][0].owner == "Node n1"
    graph = ObjectGraph(resources)
    observed = observed_taints(graph)
    assert {d.taint.key for d in observed} == {"nvidia.com/gpu", "sku"}
    assert observed_taints(graph) is observed  # cached per graph


def test_gpu_node_selection_and_agent():
    (resource,) = load(
        """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: x}
spec:
  template:
    spec:
      nodeSelector: {nvidia.com/gpu.present: "false", kubernetes.io/os: linux}
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
              - matchExpressions:
                  - {key: nvidia.com/gpu.present, operator: NotIn, values: ["true"]}
                  - {key: karpenter.k8s.aws/instance-gpu-count, operator: Gt, values: ["0"]}
      containers:
        - {name: a, image: busybox}
        - {name: b, image: nvcr.io/nvidia/k8s-device-plugin:v0.17.0}
"""
    )
    (template,) = resource.templates
    selection = gpu_node_selection(template)
    assert selection is not None
    assert selection.path[-3:] == ("matchExpressions", 1, "key")
    agent = gpu_node_agent(template)
    assert agent is not None
    assert agent.path == ("spec", "template", "spec", "containers", 1, "image")


def test_squatting_toleration_mirrors_cpu_pod_rule():
    cpu, pinned, gpu = load(
        """
apiVersion: v1
kind: Pod
metadata: {name: cpu}
spec:
  tolerations: [{operator: Exists}]
  containers: [{name: c, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: pinned}
spec:
  nodeSelector: {pool: a}
  tolerations: [{operator: Exists}]
  containers: [{name: c, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: gpu}
spec:
  tolerations: [{operator: Exists}]
  containers: [{name: c, resources: {limits: {nvidia.com/gpu: 1}}}]
"""
    )
    taint = Taint("nvidia.com/gpu", None, "NoSchedule")
    found = squatting_toleration(cpu, cpu.templates[0], taint)
    assert found is not None
    assert found.index == 0
    assert squatting_toleration(pinned, pinned.templates[0], taint) is None
    assert squatting_toleration(gpu, gpu.templates[0], taint) is None
    soft = Taint("nvidia.com/gpu", None, "PreferNoSchedule")
    assert squatting_toleration(cpu, cpu.templates[0], soft) is None


def test_squatting_toleration_agrees_with_cpu_pod_rule_on_its_cases():
    import yaml

    from kubernai.config import Config, parse_config
    from tests.rules.cases import CASES_DIR, load_case_file
    from tests.rules.test_rule_cases import run_case

    path = CASES_DIR / "cluster" / "cpu_pod_tolerates_gpu_taint.yml"
    for case in load_case_file(path):
        config = parse_config(yaml.safe_dump(case.config)) if case.config else Config()
        graph = ObjectGraph(load(case.text), facts=config.facts)
        mirrored = {
            (r.name, format_path(t.field_path("tolerations", s.index)))
            for r in graph.resources
            for t in r.templates
            if (s := squatting_toleration(r, t, graph.facts.gpu_taint)) is not None
        }
        reported = {(f.obj.name, f.path) for f in run_case(case)}
        assert mirrored == reported, case.name
