"""Build simulator objects from the plain data of scheduler_vectors.json."""

from __future__ import annotations

from typing import Any

from kubernai.model.gpu import Taint
from kubernai.sim.cluster import Cluster
from kubernai.sim.nodes import NodeInfo
from kubernai.sim.pods import SimPod, make_shape


def quantity(name: str, value: int) -> str | int:
    """Vectors give cpu in millicores, the rest in units."""
    return f"{value}m" if name == "cpu" else value


def container(raw: dict[str, Any]) -> dict[str, Any]:
    requests = {k: quantity(k, v) for k, v in (raw.get("requests") or {}).items()}
    return {"name": "c", "resources": {"requests": requests}}


def pod_spec(raw: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [container(c) for c in raw.get("containers", [])],
    }
    if raw.get("init_containers"):
        spec["initContainers"] = [container(c) for c in raw["init_containers"]]
    if raw.get("overhead"):
        spec["overhead"] = {k: quantity(k, v) for k, v in raw["overhead"].items()}
    for key, field in (
        ("tolerations", "tolerations"),
        ("node_selector", "nodeSelector"),
        ("affinity", "affinity"),
        ("topology_spread_constraints", "topologySpreadConstraints"),
        ("preemption_policy", "preemptionPolicy"),
    ):
        if raw.get(key) is not None:
            spec[field] = raw[key]
    return spec


def node(raw: dict[str, Any]) -> NodeInfo:
    return NodeInfo(
        name=raw.get("name", ""),
        labels=dict(raw.get("labels") or {}),
        taints=tuple(
            Taint(t["key"], t.get("value", ""), t["effect"])
            for t in raw.get("taints") or ()
        ),
        unschedulable=False,
        allocatable=dict(raw.get("allocatable") or {}),
    )


_ORDER = [0]


def pod(raw: dict[str, Any], *, bound: bool = False) -> SimPod:
    _ORDER[0] += 1
    return SimPod(
        namespace=raw.get("namespace", ""),
        name=raw.get("name", f"p{_ORDER[0]}"),
        workload="Pod/x",
        shape=make_shape(pod_spec(raw)),
        labels=raw.get("labels") or {},
        priority=raw.get("priority", 0),
        preempts=raw.get("preemption_policy") != "Never",
        order=_ORDER[0],
        start_time=float(raw.get("start_time_ns", 10**15 + _ORDER[0])),
    )


def cluster(inputs: dict[str, Any], nodes_key: str = "nodes") -> tuple[Cluster, SimPod]:
    nodes = [node(n) for n in inputs.get(nodes_key, [])]
    nodes += [node(n) for n in inputs.get("failed_nodes", [])]
    if "node" in inputs:
        nodes.append(node(inputs["node"]))
    existing = [pod(p) for p in inputs.get("existing_pods", [])]
    incoming = pod(inputs["pod"])
    names = set(incoming.shape.request.real)
    for p in existing:
        names |= set(p.shape.request.real)
    built = Cluster(nodes, names)
    for raw, p in zip(inputs.get("existing_pods", []), existing, strict=True):
        target = raw.get("node")
        if target is None:
            continue
        built.bind(p, built.index[target])
    return built, incoming
