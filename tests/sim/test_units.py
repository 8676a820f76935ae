"""Unit tests: requests, quantities, nodes, devices, admission pieces."""

from __future__ import annotations

from fractions import Fraction

import pytest

from kubernai.errors import InputError
from kubernai.sim.admission import resource_errors
from kubernai.sim.devices import instances_per_gpu, mig_layout
from kubernai.sim.nodes import synthesise
from kubernai.sim.quantities import quantity_text
from kubernai.sim.requests import spec_request
from kubernai.sim.scheduler import num_feasible_nodes_to_find


def test_pod_request_sidecars_init_and_overhead():
    spec = {
        "initContainers": [
            {"name": "sidecar", "restartPolicy": "Always", "resources": {"requests": {"cpu": "1"}}},
            {"name": "init", "resources": {"requests": {"cpu": "3", "memory": "1Gi"}}},
        ],
        "containers": [{"name": "main", "resources": {"limits": {"cpu": "2", "nvidia.com/gpu": "1"}}}],
        "overhead": {"cpu": "250m"},
    }  # fmt: skip
    request = spec_request(spec)
    # regular: main 2 + sidecar 1 = 3; init 3 + sidecar before it 1 = 4 → max 4, + 0.25
    assert request.real["cpu"] == 4250
    assert request.real["nvidia.com/gpu"] == 1
    assert request.real["memory"] == 2**30
    # non-zero: every container without a memory request counts 200Mi
    assert request.nonzero_memory == max(2 * 200 * 2**20, 2**30 + 200 * 2**20)


def test_no_containers_no_defaults():
    request = spec_request({})
    assert request.real == {}
    assert (request.nonzero_cpu, request.nonzero_memory) == (0, 0)


@pytest.mark.parametrize(
    ("value", "binary", "text"),
    [
        (Fraction(2), False, "2"),
        (Fraction(1, 2), False, "500m"),
        (Fraction(2000), False, "2k"),
        (Fraction(16 * 2**30), True, "16Gi"),
        (Fraction(1536 * 2**20), True, "1536Mi"),
        (Fraction(0), False, "0"),
    ],
)
def test_quantity_text(value, binary, text):
    assert quantity_text(value, binary=binary) == text


@pytest.mark.parametrize(
    ("percentage", "nodes", "expected"),
    [
        (0, 50, 50),
        (0, 100, 100),
        (0, 1000, 420),
        (0, 5000, 500),
        (0, 6000, 300),
        (30, 1000, 300),
    ],
)
def test_num_feasible_nodes_to_find(percentage, nodes, expected):
    assert num_feasible_nodes_to_find(percentage, nodes) == expected


def test_synthesised_gpu_node_labels_and_taint():
    node = synthesise("1xNVIDIA-H100-80GB-HBM3:4")[0]
    assert node.labels["nvidia.com/gpu.product"] == "NVIDIA-H100-80GB-HBM3"
    assert node.labels["nvidia.com/gpu.count"] == "4"
    assert node.labels["nvidia.com/gpu.present"] == "true"
    assert node.allocatable["nvidia.com/gpu"] == 4
    assert node.allocatable["cpu"] == (24 * 4 - 1) * 1000
    assert [(t.key, t.effect) for t in node.taints] == [
        ("nvidia.com/gpu", "NoSchedule")
    ]


def test_synthesise_rejects_unknown_gpu():
    with pytest.raises(InputError, match="unknown GPU"):
        synthesise("2xRTX-9999")


def test_mig_instances_per_gpu():
    profiles = (
        "1g.10gb",
        "1g.10gb+me",
        "1g.20gb",
        "2g.20gb",
        "3g.40gb",
        "4g.40gb",
        "7g.80gb",
    )
    counts = {p: instances_per_gpu(p, profiles) for p in profiles}
    assert counts == {"1g.10gb": 7, "1g.10gb+me": 1, "1g.20gb": 4, "2g.20gb": 3,
                      "3g.40gb": 2, "4g.40gb": 1, "7g.80gb": 1}  # fmt: skip
    assert mig_layout("all-balanced", profiles) == {
        "1g.10gb": 2,
        "2g.20gb": 1,
        "3g.40gb": 1,
    }


def test_extended_resource_validation():
    spec = {
        "containers": [
            {
                "name": "c",
                "resources": {
                    "requests": {"nvidia.com/gpu": "0.5"},
                    "limits": {"nvidia.com/gpu": "0.5"},
                },
            }
        ]
    }
    assert resource_errors(spec, "spec") == [
        'spec.containers[0].resources.limits[nvidia.com/gpu]: Invalid value: "500m": must be an integer',
        'spec.containers[0].resources.requests[nvidia.com/gpu]: Invalid value: "500m": must be an integer',
    ]
    ok = {
        "containers": [
            {
                "name": "c",
                "resources": {
                    "requests": {"cpu": "1"},
                    "limits": {"nvidia.com/gpu": "1"},
                },
            }
        ]
    }
    assert resource_errors(ok, "spec") == []
