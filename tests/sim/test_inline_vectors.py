"""A few upstream vectors kept inline, so they run without ../shared.

From kubernetes ``least_allocated_test.go``, ``most_allocated_test.go``,
``balanced_allocation_test.go``, ``requested_to_capacity_ratio_test.go``,
``taint_toleration_test.go`` and ``framework/types_test.go`` (see
``reference/scheduler.md`` §10).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from kubernai.sim import messages as msg
from kubernai.sim.profile import Profile
from kubernai.sim.scorers import balanced_score, fit_score, taint_raw
from kubernai.sim.scoring import broken_linear, default_normalize
from tests.sim import helpers

TWO_CONTAINERS = [
    {"requests": {"cpu": 1000, "memory": 2000}},
    {"requests": {"cpu": 2000, "memory": 3000}},
]


def _scores(inputs, profile, scorer):
    cluster, pod = helpers.cluster(inputs)
    values = scorer(cluster, pod, profile, np.arange(cluster.n))
    return {cluster.names[i]: int(v) for i, v in enumerate(values)}


@pytest.mark.parametrize(
    ("strategy", "nodes", "existing", "pod", "expected"),
    [
        pytest.param(
            "LeastAllocated",
            [("node1", 4000, 10000), ("node2", 6000, 10000)],
            [],
            TWO_CONTAINERS,
            {"node1": 37, "node2": 50},
            id="least-differently-sized",
        ),
        pytest.param(
            "MostAllocated",
            [("node1", 4000, 10000), ("node2", 6000, 10000)],
            [],
            TWO_CONTAINERS,
            {"node1": 62, "node2": 50},
            id="most-differently-sized",
        ),
        pytest.param(
            "MostAllocated",
            [("node1", 250, 1000 * 2**20), ("node2", 250, 1000 * 2**20)],
            [("node1", [{}]), ("node1", [{}])],
            [{}],
            {"node1": 80, "node2": 30},
            id="most-non-zero-defaults",
        ),
        pytest.param(
            "RequestedToCapacityRatio",
            [("node1", 4000, 10000), ("node2", 6000, 10000)],
            [("node1", []), ("node1", [])],
            TWO_CONTAINERS,
            {"node1": 38, "node2": 50},
            id="rtcr-rounds-half-away",
        ),
    ],
)
def test_fit_scores(strategy, nodes, existing, pod, expected):
    inputs = {
        "nodes": [
            {"name": n, "allocatable": {"cpu": c, "memory": m, "pods": 32}}
            for n, c, m in nodes
        ],
        "existing_pods": [{"node": n, "containers": c} for n, c in existing],
        "pod": {"containers": pod},
    }
    profile = Profile(strategy=strategy)
    assert _scores(inputs, profile, fit_score) == expected


def test_balanced_allocation():
    inputs = {
        "nodes": [
            {"name": "node1", "allocatable": {"cpu": 4000, "memory": 10000}},
            {"name": "node2", "allocatable": {"cpu": 6000, "memory": 10000}},
        ],
        "pod": {"containers": TWO_CONTAINERS},
    }
    assert _scores(inputs, Profile(), balanced_score) == {"node1": 87, "node2": 100}


def test_broken_linear_function():
    points = [(0, 2), (40, 10), (100, 0)]
    got = broken_linear(points, np.array([20, 30, 40, 70, 100], dtype=np.int64))
    assert [int(v) for v in got] == [6, 8, 10, 5, 0]


def test_taint_toleration_score():
    prefer = "PreferNoSchedule"
    inputs = {
        "nodes": [
            {"name": "nodeA", "allocatable": {}},
            {"name": "nodeB", "allocatable": {}, "taints": [{"key": "cpu-type", "value": "arm64", "effect": prefer}]},
            {"name": "nodeC", "allocatable": {}, "taints": [
                {"key": "cpu-type", "value": "arm64", "effect": prefer},
                {"key": "disk-type", "value": "ssd", "effect": prefer}]},
        ],
        "pod": {"containers": [], "tolerations": [{"key": "foo", "operator": "Equal", "value": "bar", "effect": prefer}]},
    }  # fmt: skip
    cluster, pod = helpers.cluster(inputs)
    got = default_normalize(taint_raw(cluster, pod), reverse=True)
    assert [int(v) for v in got] == [100, 50, 0]


def test_fit_error_sorts_as_strings():
    reasons = Counter({"Insufficient cpu": 10, "Insufficient memory": 2})
    assert msg.fit_error(12, reasons) == (
        "0/12 nodes are available: 10 Insufficient cpu, 2 Insufficient memory."
    )
    reasons = Counter({"Node(s) failed Filter plugin FalseFilter-1": 2,
                       "Node(s) failed Filter plugin FalseFilter-2": 1})  # fmt: skip
    assert msg.fit_error(
        3, reasons, postfilter="Error running PostFilter plugin FailedPostFilter"
    ) == (
        "0/3 nodes are available: 1 Node(s) failed Filter plugin FalseFilter-2, "
        "2 Node(s) failed Filter plugin FalseFilter-1. Error running PostFilter plugin FailedPostFilter"
    )
    assert msg.fit_error(3, Counter(), prefilter="pod affinity terms conflict") == (
        "0/3 nodes are available: pod affinity terms conflict."
    )


def test_event_truncation():
    assert msg.truncate_event("x" * 2000).endswith(" ...")
    assert len(msg.truncate_event("x" * 2000)) == 1024
