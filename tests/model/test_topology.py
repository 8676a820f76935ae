from __future__ import annotations

import json
from importlib import resources

import pytest
import yaml

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, Source, format_path
from kubernai.model.topology import (
    deprecated_topology_key,
    misspelled_topology_key,
    node_devices,
    node_labels,
    pins_one_zone,
    pod_devices,
    pods_selected,
    selects_own_pods,
    topology_terms,
)


def resource(text: str) -> Resource:
    return Resource(raw=yaml.safe_load(text), source=Source(file="f.yaml", line=1))


def graph(*texts: str) -> ObjectGraph:
    return ObjectGraph([resource(t) for t in texts])


PYTORCHJOB = """
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: sft}
spec:
  pytorchReplicaSpecs:
    Master:
      replicas: 1
      template:
        metadata: {labels: {app: sft}}
        spec:
          containers: [{name: c}]
    Worker:
      replicas: 3
      template:
        metadata: {labels: {app: sft, tier: gpu}}
        spec:
          nodeSelector: {node.kubernetes.io/instance-type: ml.p4d.24xlarge}
          affinity:
            podAffinity:
              requiredDuringSchedulingIgnoredDuringExecution:
                - {labelSelector: {matchLabels: {app: sft}}, topologyKey: topology.kubernetes.io/zone}
            podAntiAffinity:
              preferredDuringSchedulingIgnoredDuringExecution:
                - weight: 10
                  podAffinityTerm: {labelSelector: {matchLabels: {app: sft}}, topologyKey: kubernetes.io/hostname}
          topologySpreadConstraints:
            - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule}
            - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway}
          containers:
            - {name: c, resources: {limits: {nvidia.com/gpu: 2}}}
"""


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("kubernetes.io/host-name", "kubernetes.io/hostname"),
        ("kubernetes.io/hostName", "kubernetes.io/hostname"),
        ("kubernetes.io/hostnames", "kubernetes.io/hostname"),
        ("hostname", "kubernetes.io/hostname"),
        ("topology.kubernetes.io/zones", "topology.kubernetes.io/zone"),
        ("topology.kubernetes.io/regoin", "topology.kubernetes.io/region"),
        ("kubernetes.io/zone", "topology.kubernetes.io/zone"),
        ("topology.kubernetes.io/hostname", "kubernetes.io/hostname"),
        ("kubernetes.io/hostname", None),
        ("topology.kubernetes.io/zone", None),
        ("failure-domain.beta.kubernetes.io/zone", None),
        ("topology.gke.io/zone", None),
        ("topology.k8s.aws/zone-id", None),
        ("cloud.google.com/gce-topology-block", None),
        ("nvidia.com/gpu.clique", None),
        ("kubernetes.io/os", None),
        ("zone", None),
        ("rack", None),
        ("{{ .Values.topologyKey }}", None),
        ("", None),
    ],
)
def test_misspelled_topology_key(key, expected):
    assert misspelled_topology_key(key) == expected


def test_deprecated_topology_key():
    assert (
        deprecated_topology_key("failure-domain.beta.kubernetes.io/zone")
        == "topology.kubernetes.io/zone"
    )
    assert deprecated_topology_key("topology.kubernetes.io/zone") is None


def test_topology_terms_paths_and_kinds():
    job = resource(PYTORCHJOB)
    worker = job.templates[1]
    terms = list(topology_terms(worker))
    base = "spec.pytorchReplicaSpecs.Worker.template.spec"
    assert [(format_path(t.path), t.source, t.required, t.key) for t in terms] == [
        (
            f"{base}.affinity.podAffinity."
            "requiredDuringSchedulingIgnoredDuringExecution[0]",
            "podAffinity",
            True,
            "topology.kubernetes.io/zone",
        ),
        (
            f"{base}.affinity.podAntiAffinity."
            "preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm",
            "podAntiAffinity",
            False,
            "kubernetes.io/hostname",
        ),
        (
            f"{base}.topologySpreadConstraints[0]",
            "topologySpreadConstraints",
            True,
            "kubernetes.io/hostname",
        ),
        (
            f"{base}.topologySpreadConstraints[1]",
            "topologySpreadConstraints",
            False,
            "kubernetes.io/hostname",
        ),
    ]
    assert [t.filters_nodes_without_key for t in terms] == [True, False, True, False]
    assert terms[2].selector is None
    assert terms[2].label == "topologySpreadConstraints[0] (DoNotSchedule)"
    assert terms[0].label == "required podAffinity term [0]"


def test_selects_own_pods_with_template_and_operator_labels():
    job = resource(PYTORCHJOB)
    master, worker = job.templates
    assert selects_own_pods(job, worker, {"matchLabels": {"app": "sft"}}) is True
    assert selects_own_pods(job, master, {"matchLabels": {"tier": "gpu"}}) is False
    assert selects_own_pods(job, worker, None) is False
    assert selects_own_pods(job, worker, {}) is True
    operator = {
        "matchLabels": {
            "training.kubeflow.org/job-name": "sft",
            "training.kubeflow.org/replica-type": "worker",
        }
    }
    assert selects_own_pods(job, worker, operator) is True
    assert selects_own_pods(job, master, operator) is False
    index = {"matchLabels": {"training.kubeflow.org/replica-index": "0"}}
    assert selects_own_pods(job, worker, index) is None
    expressions = {
        "matchExpressions": [
            {"key": "app", "operator": "In", "values": ["sft", "x"]},
            {"key": "tier", "operator": "Exists"},
            {"key": "canary", "operator": "DoesNotExist"},
            {"key": "track", "operator": "NotIn", "values": ["beta"]},
        ]
    }
    assert selects_own_pods(job, worker, expressions) is True
    assert selects_own_pods(job, master, expressions) is False
    assert selects_own_pods(job, worker, "app=sft") is None
    assert selects_own_pods(job, worker, {"matchLabels": ["app"]}) is None
    bad_operator = {"matchExpressions": [{"key": "app", "operator": "Gt"}]}
    assert selects_own_pods(job, worker, bad_operator) is None


def test_pods_selected_counts_replicas_and_devices():
    job = resource(PYTORCHJOB)
    selector = {"matchLabels": {"app": "sft"}}
    assert pods_selected(job, selector) == 4
    assert pods_selected(job, selector, device="nvidia.com/gpu") == 3
    assert pods_selected(job, {"matchLabels": {"app": "other"}}) == 0


def test_pod_devices_effective_request():
    pod = resource(
        """
apiVersion: v1
kind: Pod
spec:
  initContainers:
    - {name: warm, resources: {limits: {nvidia.com/gpu: 4}}}
    - {name: proxy, restartPolicy: Always, resources: {limits: {nvidia.com/gpu: 1}}}
  containers:
    - {name: a, resources: {requests: {nvidia.com/gpu: "1"}, limits: {nvidia.com/gpu: "1"}}}
    - {name: b, resources: {limits: {nvidia.com/gpu: 1}}}
"""
    )
    devices = pod_devices(pod.templates[0])
    assert devices is not None
    assert (devices.resource_name, devices.count) == ("nvidia.com/gpu", 4)
    cpu = resource("apiVersion: v1\nkind: Pod\nspec: {containers: [{name: a}]}")
    assert pod_devices(cpu.templates[0]) is None
    odd = resource(
        "apiVersion: v1\nkind: Pod\nspec: {containers: "
        "[{name: a, resources: {limits: {nvidia.com/gpu: $GPUS}}}]}"
    )
    assert pod_devices(odd.templates[0]) is None


def test_node_devices_from_catalog_labels_and_nodes():
    job = resource(PYTORCHJOB)
    worker = job.templates[1]
    found = node_devices(worker, graph(PYTORCHJOB), "nvidia.com/gpu")
    assert found is not None
    assert found.count == 8
    assert "ml.p4d.24xlarge" in found.basis
    node = """
apiVersion: v1
kind: Node
metadata: {name: n, labels: {node.kubernetes.io/instance-type: ml.p4d.24xlarge}}
status: {allocatable: {nvidia.com/gpu: "4"}}
"""
    found = node_devices(worker, graph(PYTORCHJOB, node), "nvidia.com/gpu")
    assert found is not None
    assert found.count == 4
    assert "1 Node" in found.basis
    assert node_devices(worker, graph(PYTORCHJOB), "amd.com/gpu") is None


def test_node_labels_only_with_nodes():
    assert node_labels(graph(PYTORCHJOB)) is None
    found = node_labels(
        graph("apiVersion: v1\nkind: Node\nmetadata: {name: n, labels: {a: b}}")
    )
    assert found is not None
    assert (found.count, found.keys) == (1, frozenset({"a"}))


def test_pins_one_zone():
    pinned = resource(
        "apiVersion: v1\nkind: Pod\nspec:\n  nodeSelector: {topology.kubernetes.io/zone: a}\n"
        "  containers: [{name: c}]"
    )
    assert pins_one_zone(pinned.templates[0]) is True
    two = resource(
        """
apiVersion: v1
kind: Pod
spec:
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
          - matchExpressions:
              - {key: topology.kubernetes.io/zone, operator: In, values: [a, b]}
  containers: [{name: c}]
"""
    )
    assert pins_one_zone(two.templates[0]) is False


def test_catalog_values_carry_sources():
    text = resources.files("kubernai").joinpath("data/topology.json").read_text("utf-8")
    data = json.loads(text)
    for section in ("well_known_keys", "deprecated_keys", "gpu_count_labels"):
        assert all(entry["source"] for entry in data[section].values())
    assert all(
        entry["source"] and entry["gpus"] > 0
        for entry in data["instance_type_gpus"].values()
    )
    assert all(entry["source"] for entry in data["controller_pod_labels"].values())
