from __future__ import annotations

import pytest

from kubernai.load.files import LoadResult, load_text
from kubernai.model.graph import ObjectGraph
from kubernai.model.priority import (
    HIGHEST_USER_DEFINABLE_PRIORITY,
    SYSTEM_PRIORITY_CLASSES,
    builtin_class,
    class_named,
    default_class,
    int32_value,
    is_priority_class,
    read_priority_class,
    resolve_priority,
)


def graph_of(text: str) -> ObjectGraph:
    loaded = LoadResult()
    load_text(text, "case.yaml", result=loaded)
    return ObjectGraph(loaded.resources)


CLASSES = """\
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: low}
value: 1
globalDefault: true
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: lower}
value: -5
globalDefault: true
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: serve}
value: 1000
preemptionPolicy: Never
---
apiVersion: kueue.x-k8s.io/v1beta1
kind: WorkloadPriorityClass
metadata: {name: kueue-high}
value: 5000
---
apiVersion: v1
kind: Pod
metadata: {name: named}
spec:
  priorityClassName: serve
  containers: [{name: c}]
---
apiVersion: v1
kind: Pod
metadata: {name: unnamed}
spec:
  containers: [{name: c}]
---
apiVersion: v1
kind: Pod
metadata: {name: unknown}
spec:
  priorityClassName: nowhere
  containers: [{name: c}]
---
apiVersion: v1
kind: Pod
metadata: {name: critical}
spec:
  priorityClassName: system-node-critical
  containers: [{name: c}]
"""


def test_constants_match_upstream():
    assert HIGHEST_USER_DEFINABLE_PRIORITY == 1_000_000_000
    assert SYSTEM_PRIORITY_CLASSES == {
        "system-node-critical": 2_000_001_000,
        "system-cluster-critical": 2_000_000_000,
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(1000, 1000, id="int"),
        pytest.param(-(2**31), -(2**31), id="int32-min"),
        pytest.param(2**31 - 1, 2**31 - 1, id="int32-max"),
        pytest.param(2**31, None, id="too-big"),
        pytest.param(1e6, 1_000_000, id="integral-float"),
        pytest.param(1.5, None, id="fraction"),
        pytest.param("1000", None, id="string"),
        pytest.param(True, None, id="bool"),
        pytest.param(None, None, id="none"),
        pytest.param([1], None, id="list"),
    ],
)
def test_int32_value(value, expected):
    assert int32_value(value) == expected


def test_reads_only_scheduling_priority_classes():
    g = graph_of(CLASSES)
    kinds = [(r.kind, is_priority_class(r)) for r in g.resources[:4]]
    assert kinds == [
        ("PriorityClass", True),
        ("PriorityClass", True),
        ("PriorityClass", True),
        ("WorkloadPriorityClass", False),
    ]
    serve = g.priority_class("serve")
    assert serve is not None
    pc = read_priority_class(serve)
    assert (pc.value, pc.preempts, pc.global_default) == (1000, False, False)
    assert class_named(g, "kueue-high") is None


def test_builtin_classes_always_resolve():
    g = graph_of("")
    found = class_named(g, "system-cluster-critical")
    assert found is not None
    assert found.builtin
    assert found.value == 2_000_000_000
    assert found.preempts
    assert builtin_class("system-custom") is None


def test_lowest_global_default_wins():
    g = graph_of(CLASSES)
    found = default_class(g)
    assert found is not None
    assert found.name == "lower"


def test_resolve_priority():
    g = graph_of(CLASSES)
    pods = {r.name: r.templates[0] for r in g.of_kind("Pod")}
    named = resolve_priority(pods["named"], g)
    assert named is not None
    assert (named.value, named.preempts) == (1000, False)
    unnamed = resolve_priority(pods["unnamed"], g)
    assert unnamed is not None
    assert unnamed.value == -5
    assert "globalDefault PriorityClass lower" in unnamed.source
    assert resolve_priority(pods["unknown"], g) is None
    critical = resolve_priority(pods["critical"], g)
    assert critical is not None
    assert critical.value == 2_000_001_000


def test_resolve_priority_without_default_assumes_zero():
    g = graph_of(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
        "spec: {containers: [{name: c}]}\n"
    )
    resolved = resolve_priority(g.resources[0].templates[0], g)
    assert resolved is not None
    assert (resolved.value, resolved.preempts) == (0, True)
    assert "assumed" in resolved.source


def test_malformed_priority_class_fields():
    g = graph_of(
        "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\n"
        "metadata: {name: x}\nvalue: [1]\nglobalDefault: 'true'\n"
        "preemptionPolicy: {a: b}\n"
    )
    pc = read_priority_class(g.resources[0])
    assert (pc.value, pc.global_default, pc.preemption_policy) == (None, False, "")
