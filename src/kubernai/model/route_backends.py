"""The LLM servers an Ingress, HTTPRoute or VirtualService sends traffic to.

A route is followed to the Services (or Gateway API inference extension
InferencePools) it names, then to the workloads they select, and to the
inference server those run (``model/servers.py``: vLLM, TGI, SGLang, and Triton
when its image or command names its TensorRT-LLM or vLLM backend).
Only objects in the input are followed: a backend that is not in the input is
unknown, and no backend is returned for it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import (
    Path,
    Resource,
    get_map,
    get_path,
    get_str,
    iter_maps,
)
from kubernai.model.selector import map_selector_matches
from kubernai.model.servers import SGLANG, TGI, TRITON, VLLM, command_tokens, servers
from kubernai.model.workload import Container

_SERVER_NAMES = {VLLM: "vLLM", TGI: "TGI", TRITON: "Triton", SGLANG: "SGLang"}


@dataclass(frozen=True, slots=True)
class LlmBackend:
    """A route target (Service or InferencePool) whose pods run an LLM server."""

    target: Resource
    workload: Resource
    server: str
    """The server's display name: vLLM, TGI, Triton or SGLang."""
    path: Path
    """Where the route names the target."""
    port: int | str | None = None
    """The port the route sends to (number or name), when it says."""

    def describe(self) -> str:
        """``Service vllm (vLLM in Deployment vllm)`` for messages."""
        workload = f"{self.workload.kind} {self.workload.name}"
        return f"{self.target.kind} {self.target.name} ({self.server} in {workload})"


def _server_name(workload: Resource) -> str | None:
    for template in workload.templates:
        for server in servers(template):
            if server.kind == TRITON and not _triton_serves_llm(server.container):
                continue
            return _SERVER_NAMES.get(server.kind, server.kind)
    return None


def _triton_serves_llm(container: Container) -> bool:
    """Triton with an LLM backend: a ``-trtllm-`` or ``-vllm-`` image or command.

    Triton also serves vision and tabular models, whose responses take
    milliseconds; only its TensorRT-LLM and vLLM backends generate text.
    """
    image = get_str(container.raw, "image").lower()
    if "llm" in image:
        return True
    return any(
        word in token.text.lower()
        for token in command_tokens(container)
        for word in ("tensorrt_llm", "tensorrtllm", "trtllm", "vllm")
    )


def _text(value: Any) -> str | None:
    """A label value as ``map_selector_matches`` compares it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _label_index(
    graph: ObjectGraph,
) -> dict[tuple[str, str, str | None], list[Resource]]:
    """Workloads by (namespace, label key, value) of one of their pod templates."""
    index: dict[tuple[str, str, str | None], list[Resource]] = defaultdict(list)
    for resource in graph.resources:
        pairs = {
            (key, _text(value))
            for template in resource.templates
            for key, value in template.labels.items()
            if isinstance(key, str)
        }
        for key, value in pairs:
            index[(resource.namespace, key, value)].append(resource)
    return index


def _selected(selector: Any, namespace: str, graph: ObjectGraph) -> list[Resource]:
    """What ``graph.workloads_selected(..., plain_map=True)`` answers, from an index.

    The same matching, on the workloads that carry the selector's first label
    only, so that a route does not scan every object of the graph.
    """
    if not isinstance(selector, Mapping) or not selector:
        return []
    key, value = next(iter(selector.items()))
    index = graph.derived("route-backends.label-index", _label_index)
    return [
        workload
        for workload in index.get((namespace, key, _text(value)), ())
        if any(map_selector_matches(selector, t.labels) for t in workload.templates)
    ]


def _served_by(target: Resource, graph: ObjectGraph) -> tuple[Resource, str] | None:
    """The first workload behind a Service or InferencePool that runs an LLM server."""

    def build(graph: ObjectGraph) -> tuple[Resource, str] | None:
        selector = get_path(target.raw, "spec", "selector")
        if target.kind != "Service":
            labels = get_path(selector, "matchLabels")
            if isinstance(labels, Mapping):
                selector = labels  # v1; v1alpha2 has the labels directly
        for workload in _selected(selector, target.namespace, graph):
            name = _server_name(workload)
            if name is not None:
                return workload, name
        return None

    key = ("route-backends.llm", target.kind, target.namespace, target.name)
    return graph.derived(key, build)


def _backend(
    target: Resource | None, graph: ObjectGraph, path: Path, port: int | str | None
) -> LlmBackend | None:
    if target is None:
        return None
    served = _served_by(target, graph)
    if served is None:
        return None
    return LlmBackend(target, served[0], served[1], path, port)


def _port(port: Mapping[str, Any]) -> int | str | None:
    number = port.get("number")
    if isinstance(number, int) and not isinstance(number, bool):
        return number
    return get_str(port, "name") or None


def ingress_llm_backends(ingress: Resource, graph: ObjectGraph) -> list[LlmBackend]:
    """The LLM backends of an Ingress, one per Service and port, in route order."""
    if not graph.route_services(ingress):
        return []
    refs: list[tuple[Mapping[str, Any], Path]] = []
    default = get_map(ingress.raw, "spec", "defaultBackend", "service")
    if default:
        refs.append((default, ("spec", "defaultBackend", "service", "name")))
    for i, rule in iter_maps(ingress.raw, "spec", "rules"):
        for j, item in iter_maps(rule, "http", "paths"):
            service = get_map(item, "backend", "service")
            path: Path = ("spec", "rules", i, "http", "paths", j)
            refs.append((service, (*path, "backend", "service", "name")))
    found: dict[tuple[str, int | str | None], LlmBackend] = {}
    for service, path in refs:
        name = get_str(service, "name")
        port = _port(get_map(service, "port"))
        if not name or (name, port) in found:
            continue
        target = graph.get("Service", ingress.namespace, name)
        backend = _backend(target, graph, path, port)
        if backend is not None:
            found[(name, port)] = backend
    return list(found.values())


def route_rule_llm_backends(
    route: Resource, index: int, rule: Mapping[str, Any], graph: ObjectGraph
) -> list[LlmBackend]:
    """The LLM backends of ``spec.rules[index]`` of an HTTPRoute."""
    found: list[LlmBackend] = []
    for k, ref in iter_maps(rule, "backendRefs"):
        kind = get_str(ref, "kind") or "Service"
        group = get_str(ref, "group")
        namespace = get_str(ref, "namespace") or route.namespace
        name = get_str(ref, "name")
        if kind == "Service" and group in ("", "core"):
            target = graph.get("Service", namespace, name)
        elif kind == "InferencePool" and group.startswith("inference.networking."):
            target = graph.get("InferencePool", namespace, name)
        else:
            continue
        port = ref.get("port")
        backend = _backend(
            target,
            graph,
            ("spec", "rules", index, "backendRefs", k, "name"),
            port if isinstance(port, int) and not isinstance(port, bool) else None,
        )
        if backend is not None:
            found.append(backend)
    return found


def iter_route_rules(route: Resource) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """Index and mapping of each ``spec.rules`` item of an HTTPRoute."""
    return iter_maps(route.raw, "spec", "rules")


def _mesh_service(host: str, namespace: str, graph: ObjectGraph) -> Resource | None:
    """The Service a VirtualService destination host names, if in the input.

    Short names are relative to the VirtualService's namespace; ``name.ns``,
    ``name.ns.svc`` and ``name.ns.svc.cluster.local`` name one elsewhere.
    """
    parts = host.split(".")
    if len(parts) == 1:
        return graph.get("Service", namespace, parts[0])
    if len(parts) == 2 or (len(parts) == 3 and parts[2] == "svc"):
        return graph.get("Service", parts[1], parts[0])
    if len(parts) == 5 and parts[2:] == ["svc", "cluster", "local"]:
        return graph.get("Service", parts[1], parts[0])
    return None


def virtual_service_llm_backends(
    service: Resource, index: int, http: Mapping[str, Any], graph: ObjectGraph
) -> list[LlmBackend]:
    """The LLM backends of ``spec.http[index]`` of an Istio VirtualService."""
    found: list[LlmBackend] = []
    for k, route in iter_maps(http, "route"):
        host = get_str(route, "destination", "host")
        if not host or "*" in host:
            continue
        target = _mesh_service(host, service.namespace, graph)
        path: Path = ("spec", "http", index, "route", k, "destination", "host")
        port = get_path(route, "destination", "port", "number")
        backend = _backend(target, graph, path, port if isinstance(port, int) else None)
        if backend is not None:
            found.append(backend)
    return found
