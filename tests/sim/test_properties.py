"""Invariants of the simulator, over random clusters and submissions."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubernai.model.resource import Resource, Source
from kubernai.sim import Options, simulate
from kubernai.sim.intake import Reader

SETTINGS = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _res(raw: dict[str, Any]) -> Resource:
    return Resource(raw, Source("t", 1))


nodes = st.lists(
    st.tuples(st.integers(1, 16), st.integers(1, 64), st.integers(0, 8), st.booleans()),
    min_size=1,
    max_size=6,
)
pods = st.lists(
    st.tuples(
        st.integers(0, 8000),
        st.integers(0, 32),
        st.integers(0, 4),
        st.sampled_from(["low", "high", ""]),
    ),
    min_size=1,
    max_size=25,
)


def _cluster(node_specs) -> list[Resource]:
    found = [
        _res({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
              "metadata": {"name": "low"}, "value": 10}),
        _res({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
              "metadata": {"name": "high"}, "value": 1000}),
    ]  # fmt: skip
    for i, (cpu, mem, gpus, tainted) in enumerate(node_specs):
        allocatable = {"cpu": str(cpu), "memory": f"{mem}Gi", "pods": "8"}
        if gpus:
            allocatable["nvidia.com/gpu"] = str(gpus)
        spec = (
            {"taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]}
            if tainted
            else {}
        )
        found.append(
            _res({"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"n{i}"},
                  "spec": spec, "status": {"allocatable": allocatable}})
        )  # fmt: skip
    return found


def _pods(pod_specs) -> list[Resource]:
    found = []
    for i, (cpu, mem, gpus, klass) in enumerate(pod_specs):
        limits = {"nvidia.com/gpu": str(gpus)} if gpus else {}
        spec: dict[str, Any] = {
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
            "containers": [{"name": "c", "resources": {
                "requests": {"cpu": f"{cpu}m", "memory": f"{mem}Gi"}, "limits": limits}}],
        }  # fmt: skip
        if klass:
            spec["priorityClassName"] = klass
        found.append(_res({"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": f"p{i}", "namespace": "default"}, "spec": spec}))  # fmt: skip
    return found


@SETTINGS
@given(nodes, pods, st.integers(0, 3))
def test_no_node_over_allocatable(node_specs, pod_specs, seed):
    from kubernai.sim import simulate as run

    cluster_objs, submit = _cluster(node_specs), _pods(pod_specs)
    result = run(cluster_objs, submit, options=Options(seed=seed))
    reader = Reader(cluster_objs, submit)
    intake = reader.read([])
    alloc = {n.name: n.allocatable for n in intake.nodes}
    used: dict[str, dict[str, int]] = {}
    requests = {
        f"{p.namespace}/{p.name}": p.shape.request.real for p, _ in intake.queue
    }
    for pod in result.pods:
        if pod.node is None:
            continue
        totals = used.setdefault(pod.node, {"pods": 0})
        totals["pods"] += 1
        for name, value in requests[f"{pod.namespace}/{pod.name}"].items():
            totals[name] = totals.get(name, 0) + value
    for node, totals in used.items():
        for name, value in totals.items():
            assert value <= alloc[node].get(name, 0), (node, name)
    for pod in result.pods:
        if pod.node is not None:
            assert pod.status == "Scheduled"


@SETTINGS
@given(nodes, pods, st.integers(0, 1000))
def test_same_seed_same_result(node_specs, pod_specs, seed):
    cluster_objs, submit = _cluster(node_specs), _pods(pod_specs)
    first = simulate(cluster_objs, submit, options=Options(seed=seed, explain=True))
    second = simulate(cluster_objs, submit, options=Options(seed=seed, explain=True))
    assert first.to_json(explain=True) == second.to_json(explain=True)


gangs = st.lists(
    st.tuples(st.integers(1, 4), st.integers(1, 8), st.integers(0, 4)),
    min_size=1,
    max_size=5,
)


@SETTINGS
@given(st.integers(1, 4), gangs, st.integers(0, 5))
def test_gang_all_or_nothing(node_count, gang_specs, seed):
    submit = []
    for i, (replicas, gpus, slack) in enumerate(gang_specs):
        minimum = max(1, replicas - slack)
        submit.append(
            _res({
                "apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job",
                "metadata": {"name": f"g{i}", "namespace": "default"},
                "spec": {"minAvailable": minimum, "tasks": [{
                    "name": "w", "replicas": replicas,
                    "template": {"spec": {
                        "schedulerName": "volcano",
                        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
                        "containers": [{"name": "c", "resources": {
                            "limits": {"nvidia.com/gpu": str(gpus)}}}]}}}]},
            })
        )  # fmt: skip
    result = simulate(
        [],
        submit,
        nodes=[f"{node_count}xNVIDIA-H100-80GB-HBM3:8"],
        options=Options(seed=seed),
    )
    for gang in result.gangs:
        assert gang.scheduled == 0 or gang.scheduled >= gang.min_member, gang
    gpus = {p.name: p for p in result.pods}
    assert sum(1 for p in gpus.values() if p.node) <= node_count * 8


def test_bind_and_unbind_restore_the_arrays():
    from tests.sim import helpers

    cluster, pod = helpers.cluster(
        {"nodes": [{"name": "a", "allocatable": {"cpu": 1000, "pods": 3}}],
         "pod": {"containers": [{"requests": {"cpu": 300}}]}}
    )  # fmt: skip
    before = cluster.used.copy(), cluster.free_by_resource.copy()
    cluster.bind(pod, 0)
    assert cluster.used[0, cluster.col["cpu"]] == 300
    cluster.unbind(pod)
    assert np.array_equal(cluster.used, before[0])
    assert np.array_equal(cluster.free_by_resource, before[1])
