"""OPS045 network-policy-blocks-service-port."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kubernai.model.gpu import requests_accelerator
from kubernai.model.graph import ObjectGraph
from kubernai.model.network_policy import (
    INGRESS,
    host_network,
    policies_for,
    policy_names,
    same_scope,
)
from kubernai.model.resource import Path, Resource, get_map, iter_maps
from kubernai.model.selector import map_selector_matches
from kubernai.model.servers import servers
from kubernai.model.workload import PodTemplate, memoised
from kubernai.rules.base import Finding, Rule, Severity


@dataclass(frozen=True, slots=True)
class _Target:
    number: int
    protocol: str
    name: str
    path: Path


class NetworkPolicyBlocksServicePort(Rule):
    """Ingress policy on GPU pods that allows no traffic to their Service's port.

    ## Mechanism
    Once a NetworkPolicy with `Ingress` in its `policyTypes` selects a pod,
    the pod only accepts connections that an ingress rule of some policy
    selecting it allows, and a rule that lists `ports` allows only those
    ports (`protocol` defaults to TCP). Connections through a Service are
    judged at the pod's port (the Service's `targetPort`), whoever the client
    is. When no rule covers that port, every request through the Service
    (from the gateway, the router, another tenant's client) times out, while
    the kubelet's probes, which come from the pod's own node and are always
    allowed, keep passing: the pods are Ready and the Service has endpoints,
    yet the model cannot be reached. A common cause is an allow rule for the
    metrics port (`8080`, `9090`) next to a namespace default deny, or a
    rule written for another server's port (8000 for vLLM, 8080 for TGI,
    8000/8001 for Triton). The rule reports a GPU or model-server workload
    whose pods are certainly isolated for ingress by a policy of the input,
    when a Service of the input sends a port to them that no ingress rule of
    the policies that may select them allows on any peer. Named ports are
    matched by name.

    ## Example
    ```yaml
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata:
      name: allow-metrics
      namespace: serving
    spec:
      podSelector:
        matchLabels: {app: vllm}
      policyTypes: [Ingress]
      ingress:
        - from:
            - namespaceSelector:
                matchLabels: {kubernetes.io/metadata.name: monitoring}
          ports:
            - {protocol: TCP, port: 9090}
    ---
    apiVersion: v1
    kind: Service
    metadata:
      name: vllm
      namespace: serving
    spec:
      selector: {app: vllm}
      ports:
        - {name: http, port: 80, targetPort: 8000}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
      namespace: serving
    spec:
      replicas: 1
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          containers:
            - name: server
              image: vllm/vllm-openai:v0.6.3
              ports:
                - {name: http, containerPort: 8000}
              resources:
                limits: {nvidia.com/gpu: 1}
    ```

    ## Use instead
    ```yaml
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata:
      name: allow-metrics-and-gateway
      namespace: serving
    spec:
      podSelector:
        matchLabels: {app: vllm}
      policyTypes: [Ingress]
      ingress:
        - from:
            - namespaceSelector:
                matchLabels: {kubernetes.io/metadata.name: monitoring}
          ports:
            - {protocol: TCP, port: 9090}
        - from:
            - namespaceSelector:
                matchLabels: {kubernetes.io/metadata.name: gateway}
          ports:
            - {protocol: TCP, port: 8000}
    ---
    apiVersion: v1
    kind: Service
    metadata:
      name: vllm
      namespace: serving
    spec:
      selector: {app: vllm}
      ports:
        - {name: http, port: 80, targetPort: 8000}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
      namespace: serving
    spec:
      replicas: 1
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          containers:
            - name: server
              image: vllm/vllm-openai:v0.6.3
              ports:
                - {name: http, containerPort: 8000}
              resources:
                limits: {nvidia.com/gpu: 1}
    ```

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/network-policies/#the-two-sorts-of-pod-isolation
    - https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/#NetworkPolicySpec
    - https://kubernetes.io/docs/concepts/services-networking/service/#defining-a-service
    """

    code = "OPS045"
    name = "network-policy-blocks-service-port"
    severity = Severity.WARNING
    mechanism = "network-policy-for-multi-tenant-ai"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        policies = policies_for(graph, resource)
        if not policies or any(p.malformed for p in policies):
            return
        templates = [
            t
            for t in resource.templates
            if not host_network(t.spec)
            and (requests_accelerator(t) or any(True for _ in servers(t)))
        ]
        if not templates:
            return
        services = [
            s
            for s in graph.derived("services-by-workload", _services_by_workload).get(
                id(resource), ()
            )
            if same_scope(s, resource)
        ]
        if not services:
            return
        for template in templates:
            verdicts = [(p, p.isolates(template.labels, INGRESS)) for p in policies]
            if not any(verdict is True for _, verdict in verdicts):
                continue
            applying = [p for p, verdict in verdicts if verdict is not False]
            rules = [rule for p in applying for rule in p.rules_for(INGRESS)]
            for service in services:
                selector = get_map(service.raw, "spec", "selector")
                if map_selector_matches(selector, template.labels) is not True:
                    continue
                for target in _targets(service, template):
                    if any(
                        r.allows_port(target.number, target.protocol, target.name)
                        is not False
                        for r in rules
                    ):
                        continue
                    allowed = sorted(
                        {port.describe() for r in rules for port in r.ports}
                    )
                    only = (
                        f"allow only {', '.join(allowed)}" if allowed else "allow none"
                    )
                    yield self.finding(
                        resource,
                        f"Service {service.name!r} sends traffic to "
                        f"{target.protocol} {target.number} of these pods, but the "
                        "ingress rules of the NetworkPolicies that select them "
                        f"({policy_names(applying)}) {only}: requests "
                        "through the Service time out while probes from the node "
                        "still pass",
                        path=target.path,
                    )
                    return


def _services_by_workload(graph: ObjectGraph) -> dict[int, list[Resource]]:
    """Services of the input by the workloads they select (built once per graph)."""
    found: dict[int, list[Resource]] = {}
    for service in graph.of_kind("Service"):
        for workload in graph.service_targets(service):
            found.setdefault(id(workload), []).append(service)
    return found


_PortIndex = tuple[
    dict[str, tuple[int, str, Path]], dict[tuple[int, str], tuple[str, Path]]
]


def _targets(service: Resource, template: PodTemplate) -> Iterator[_Target]:
    """The container ports a Service's ports reach in ``template``'s pods."""
    by_name, by_number = memoised(template, "container-ports", lambda: _ports(template))
    for _, entry in iter_maps(service.raw, "spec", "ports"):
        protocol = _protocol(entry)
        target: Any = entry.get("targetPort")
        if target is None:
            target = entry.get("port")
        if protocol is None:
            continue
        number = _int(target)
        if number is not None:
            name, path = by_number.get((number, protocol), ("", template.path))
            yield _Target(number, protocol, name, path)
        elif isinstance(target, str) and target in by_name:
            number, container_protocol, path = by_name[target]
            if container_protocol == protocol:
                yield _Target(number, protocol, target, path)


def _ports(template: PodTemplate) -> _PortIndex:
    """The template's container ports by name and by (number, protocol)."""
    by_name: dict[str, tuple[int, str, Path]] = {}
    by_number: dict[tuple[int, str], tuple[str, Path]] = {}
    for container in template.containers:
        if container.init:
            continue
        for index, port in iter_maps(container.raw, "ports"):
            number = _int(port.get("containerPort"))
            protocol = _protocol(port)
            if number is None or protocol is None:
                continue
            raw_name = port.get("name")
            name = raw_name if isinstance(raw_name, str) else ""
            path: Path = (*container.path, "ports", index)
            if name:
                by_name[name] = (number, protocol, path)
            by_number.setdefault((number, protocol), (name, path))
    return by_name, by_number


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value < 65536 else None


def _protocol(entry: Mapping[str, Any]) -> str | None:
    protocol = entry.get("protocol")
    if protocol is None:
        return "TCP"
    return protocol if protocol in ("TCP", "UDP", "SCTP") else None
