from datetime import UTC, datetime

import pytest

from kubernai.load.files import LoadResult, load_text
from kubernai.model.graph import ObjectGraph
from kubernai.model.node_status import (
    cpu_worker_exists,
    device_counts,
    gpu_label_values,
    is_cordoned,
    is_cpu_worker,
    last_heartbeat,
    node_taints,
    nvidia_gpus,
    selects_node,
    unix_time,
)


def nodes(text: str):
    loaded = LoadResult()
    load_text(text, "t.yaml", result=loaded)
    return loaded.resources


GPU = """\
apiVersion: v1
kind: Node
metadata:
  name: gpu-1
  labels:
    nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3
    nvidia.com/gpu.count: "8"
    topology.kubernetes.io/zone: us-east-1a
    node.kubernetes.io/instance-type: p5.48xlarge
spec:
  unschedulable: true
  taints:
    - {key: nvidia.com/gpu, value: present, effect: NoSchedule}
    - {value: x}
    - {key: dedicated, effect: [NoSchedule]}
status:
  capacity: {cpu: "192", nvidia.com/gpu: "8", nvidia.com/mig-1g.10gb: "0", vpc.amazonaws.com/efa: "32"}
  allocatable: {cpu: "191", nvidia.com/gpu: "7"}
  conditions:
    - {type: MemoryPressure, status: "False", lastHeartbeatTime: "2025-05-01T09:00:00Z"}
    - {type: Ready, status: "True", lastHeartbeatTime: "2025-05-01T10:00:00Z"}
---
apiVersion: v1
kind: Node
metadata:
  name: cpu-1
  labels: {topology.kubernetes.io/zone: us-east-1b}
status:
  capacity: {cpu: "32"}
---
apiVersion: v1
kind: Node
metadata:
  name: cp-1
  labels: {node-role.kubernetes.io/control-plane: ""}
status:
  capacity: {cpu: "8"}
---
apiVersion: v1
kind: Node
metadata: {name: bare}
"""


def test_device_counts_keep_accelerators_only():
    gpu, cpu, *_ = nodes(GPU)
    assert [(d.name, d.capacity, d.allocatable) for d in device_counts(gpu)] == [
        ("nvidia.com/gpu", 8, 7),
        ("nvidia.com/mig-1g.10gb", 0, None),
    ]
    assert nvidia_gpus(gpu) == 8
    assert list(device_counts(cpu)) == []


def test_node_kinds():
    gpu, cpu, control, bare = nodes(GPU)
    assert is_cpu_worker(cpu)
    assert not is_cpu_worker(gpu)
    assert not is_cpu_worker(control)
    assert not is_cpu_worker(bare)  # nothing reported: unknown
    assert is_cordoned(gpu)
    assert not is_cordoned(cpu)
    assert cpu_worker_exists(ObjectGraph(nodes(GPU)))
    assert not cpu_worker_exists(ObjectGraph([gpu, control, bare]))


def test_taints_and_heartbeat():
    gpu, cpu, *_ = nodes(GPU)
    assert [(t.key, t.value, t.effect) for t in node_taints(gpu)] == [
        ("nvidia.com/gpu", "present", "NoSchedule"),
        ("dedicated", "", ""),
    ]
    assert last_heartbeat(gpu) == datetime(2025, 5, 1, 10, tzinfo=UTC)
    assert last_heartbeat(cpu) is None


def test_gpu_label_values():
    graph = ObjectGraph(nodes(GPU))
    assert gpu_label_values(graph) == {
        "nvidia.com/gpu.product": {"NVIDIA-H100-80GB-HBM3": 1}
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1746093600", datetime(2025, 5, 1, 10, tzinfo=UTC)),
        (1746093600, datetime(2025, 5, 1, 10, tzinfo=UTC)),
        ("yesterday", None),
        ("99999999999999999999", None),
        (None, None),
        ("-5", None),
    ],
)
def test_unix_time(value, expected):
    assert unix_time(value) == expected


@pytest.mark.parametrize(
    ("spec", "selected"),
    [
        ({}, True),
        ({"nodeSelector": {"topology.kubernetes.io/zone": "us-east-1a"}}, True),
        ({"nodeSelector": {"topology.kubernetes.io/zone": "us-east-1b"}}, False),
        ({"nodeSelector": ["oops"]}, True),
        (
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {
                                            "key": "node.kubernetes.io/instance-type",
                                            "operator": "In",
                                            "values": ["g5.xlarge"],
                                        }
                                    ]
                                },
                                {
                                    "matchExpressions": [
                                        {
                                            "key": "nvidia.com/gpu.count",
                                            "operator": "Gt",
                                            "values": ["4"],
                                        }
                                    ]
                                },
                            ]
                        }
                    }
                }
            },
            True,
        ),
        (
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {
                                            "key": "nvidia.com/gpu.count",
                                            "operator": "Lt",
                                            "values": ["4"],
                                        },
                                        {"key": "x", "operator": "DoesNotExist"},
                                    ]
                                }
                            ]
                        }
                    }
                }
            },
            False,
        ),
        (
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {
                                            "key": "nvidia.com/gpu.product",
                                            "operator": "NotIn",
                                            "values": ["NVIDIA-L4"],
                                        },
                                        {
                                            "key": "nvidia.com/gpu.product",
                                            "operator": "Exists",
                                        },
                                        {"key": "x", "operator": "Someday"},
                                    ]
                                }
                            ]
                        }
                    }
                }
            },
            True,
        ),
    ],
)
def test_selects_node(spec, selected):
    gpu = nodes(GPU)[0]
    assert selects_node(spec, gpu) is selected
