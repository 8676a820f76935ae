"""The object graph: every object of one run, indexed, with the relations between them.

A relation whose far end is not in the input answers ``None`` or an empty
tuple, which means *unknown*: a check over three files must not conclude that
the cluster lacks whatever those files do not mention.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, TypeVar

from kubernai.model.facts import ClusterFacts
from kubernai.model.resource import Resource, get_map, get_path, get_str, iter_maps
from kubernai.model.selector import map_selector_matches, selector_matches

Key = tuple[str, str, str]  # kind, namespace, name
T = TypeVar("T")

CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "Node",
        "PriorityClass",
        "StorageClass",
        "PersistentVolume",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "RuntimeClass",
        "IngressClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "ClusterQueue",
        "ResourceFlavor",
        "Cohort",
        "ClusterPolicy",
        "ClusterServingRuntime",
        "ClusterTrainingRuntime",
        "NodePool",
    }
)
"""Kinds without a namespace; kubectl ignores a ``metadata.namespace`` on them."""


class ObjectGraph:
    """All objects of a run, by kind, namespace and name, plus the cluster facts."""

    def __init__(
        self, resources: Iterable[Resource], *, facts: ClusterFacts | None = None
    ) -> None:
        self.resources: tuple[Resource, ...] = tuple(resources)
        self.facts = facts or ClusterFacts()
        self._by_key: dict[Key, Resource] = {}
        self._by_kind: dict[str, list[Resource]] = defaultdict(list)
        self._by_namespace: dict[str, list[Resource]] = defaultdict(list)
        self._of_kind: dict[tuple[str, str | None], tuple[Resource, ...]] = {}
        self._derived: dict[Hashable, Any] = {}
        for resource in self.resources:
            namespace = "" if resource.kind in CLUSTER_SCOPED else resource.namespace
            self._by_key.setdefault((resource.kind, namespace, resource.name), resource)
            self._by_kind[resource.kind].append(resource)
            self._by_namespace[resource.namespace].append(resource)

    def get(self, kind: str, namespace: str, name: str) -> Resource | None:
        """The object, or ``None`` when it is not in the input (unknown).

        The namespace is ignored for cluster-scoped kinds.
        """
        if kind in CLUSTER_SCOPED:
            namespace = ""
        return self._by_key.get((kind, namespace, name))

    def of_kind(self, kind: str, namespace: str | None = None) -> tuple[Resource, ...]:
        """Objects of a kind, in one namespace when ``namespace`` is given."""
        key = (kind, namespace)
        cached = self._of_kind.get(key)
        if cached is None:
            found = self._by_kind.get(kind, ())
            cached = tuple(
                found
                if namespace is None
                else (r for r in found if r.namespace == namespace)
            )
            self._of_kind[key] = cached
        return cached

    def derived(self, key: Hashable, build: Callable[[ObjectGraph], T]) -> T:
        """A value computed once per graph (an index a rule needs for every object)."""
        derived = self._derived
        if key in derived:
            found: T = derived[key]
            return found
        made = derived[key] = build(self)
        return made

    def in_namespace(self, namespace: str) -> tuple[Resource, ...]:
        """Every object of a namespace (``""``: objects that name none)."""
        return tuple(self._by_namespace.get(namespace, ()))

    def workloads_in(self, namespace: str) -> tuple[Resource, ...]:
        """Objects of a namespace that have pod templates."""
        return tuple(r for r in self._by_namespace.get(namespace, ()) if r.templates)

    # -- namespace-level policy ------------------------------------------------

    def namespace(self, name: str) -> Resource | None:
        """The Namespace object (its labels carry Pod Security levels)."""
        return self.get("Namespace", "", name)

    def quotas(self, namespace: str) -> tuple[Resource, ...]:
        """ResourceQuotas of a namespace that are in the input."""
        return self.of_kind("ResourceQuota", namespace)

    def limit_ranges(self, namespace: str) -> tuple[Resource, ...]:
        """LimitRanges of a namespace that are in the input."""
        return self.of_kind("LimitRange", namespace)

    def network_policies(self, namespace: str) -> tuple[Resource, ...]:
        """NetworkPolicies of a namespace that are in the input."""
        return self.of_kind("NetworkPolicy", namespace)

    # -- selectors ---------------------------------------------------------------

    def workloads_selected(
        self, selector: Any, namespace: str, *, plain_map: bool = False
    ) -> tuple[Resource, ...]:
        """Workloads in ``namespace`` with a pod template the selector matches.

        ``plain_map`` reads a Service-style ``key: value`` selector.
        """
        match = map_selector_matches if plain_map else selector_matches
        required = selector if plain_map else get_map(selector, "matchLabels")
        candidates: list[Resource] | None = None
        if isinstance(required, Mapping) and required:
            index = self._label_index()
            for key, value in required.items():
                holders = index.get((namespace, str(key), _label_text(value)), [])
                if candidates is None or len(holders) < len(candidates):
                    candidates = holders
        if candidates is None:
            candidates = self.workloads_in(namespace)  # type: ignore[assignment]
        return tuple(
            r
            for r in candidates or ()
            if any(match(selector, t.labels) for t in r.templates)
        )

    def _label_index(self) -> dict[tuple[str, str, str], list[Resource]]:
        """Workloads by (namespace, pod-template label key, value), built once."""

        def build(graph: ObjectGraph) -> dict[tuple[str, str, str], list[Resource]]:
            index: dict[tuple[str, str, str], list[Resource]] = defaultdict(list)
            for resource in graph.resources:
                seen: set[tuple[str, str, str]] = set()
                for template in resource.templates:
                    for key, value in template.labels.items():
                        entry = (resource.namespace, str(key), _label_text(value))
                        if entry not in seen:
                            seen.add(entry)
                            index[entry].append(resource)
            return index

        return self.derived("label-index", build)

    def service_targets(self, service: Resource) -> tuple[Resource, ...]:
        """Workloads behind a Service's ``spec.selector``."""
        selector = get_path(service.raw, "spec", "selector")
        return self.workloads_selected(selector, service.namespace, plain_map=True)

    def policy_targets(self, policy: Resource) -> tuple[Resource, ...]:
        """Workloads a NetworkPolicy or PodDisruptionBudget selects."""
        field = "podSelector" if policy.kind == "NetworkPolicy" else "selector"
        selector = get_path(policy.raw, "spec", field)
        return self.workloads_selected(selector, policy.namespace)

    def disruption_budgets(self, workload: Resource) -> tuple[Resource, ...]:
        """PodDisruptionBudgets in the input that select the workload's pods."""
        return tuple(
            pdb
            for pdb in self.of_kind("PodDisruptionBudget", workload.namespace)
            if workload in self.policy_targets(pdb)
        )

    # -- references ----------------------------------------------------------------

    def scale_target(self, scaler: Resource) -> Resource | None:
        """The workload an HPA (``scaleTargetRef``) or KEDA ScaledObject scales."""
        ref = get_map(scaler.raw, "spec", "scaleTargetRef")
        kind = get_str(ref, "kind") or (
            "Deployment" if scaler.kind == "ScaledObject" else ""
        )
        return self.get(kind, scaler.namespace, get_str(ref, "name"))

    def scalers_of(self, workload: Resource) -> tuple[Resource, ...]:
        """HPAs and ScaledObjects in the input that scale the workload."""
        scalers = (
            *self.of_kind("HorizontalPodAutoscaler", workload.namespace),
            *self.of_kind("ScaledObject", workload.namespace),
        )
        return tuple(s for s in scalers if self.scale_target(s) is workload)

    def route_services(self, route: Resource) -> tuple[Resource, ...]:
        """Services in the input that an Ingress or HTTPRoute sends traffic to."""
        names: set[str] = set()
        if route.kind == "Ingress":
            default = get_str(route.raw, "spec", "defaultBackend", "service", "name")
            names.add(default)
            for _, rule in iter_maps(route.raw, "spec", "rules"):
                for _, path in iter_maps(rule, "http", "paths"):
                    names.add(get_str(path, "backend", "service", "name"))
        else:
            for _, rule in iter_maps(route.raw, "spec", "rules"):
                for _, ref in iter_maps(rule, "backendRefs"):
                    if get_str(ref, "kind") in ("", "Service"):
                        names.add(get_str(ref, "name"))
        found = (self.get("Service", route.namespace, n) for n in sorted(names) if n)
        return tuple(s for s in found if s is not None)

    def claims_of(self, workload: Resource) -> tuple[Resource, ...]:
        """PersistentVolumeClaims in the input that the workload's pods mount."""
        found: list[Resource] = []
        for template in workload.templates:
            for _, volume in iter_maps(template.spec, "volumes"):
                claim = get_str(volume, "persistentVolumeClaim", "claimName")
                pvc = self.get("PersistentVolumeClaim", workload.namespace, claim)
                if pvc is not None and pvc not in found:
                    found.append(pvc)
        return tuple(found)

    def priority_class(self, name: str) -> Resource | None:
        """A PriorityClass by name (cluster-scoped)."""
        return self.get("PriorityClass", "", name)

    def namespace_labels(self, namespace: str) -> Mapping[str, Any] | None:
        """The labels of a namespace, or ``None`` when it is not in the input."""
        found = self.namespace(namespace)
        return None if found is None else found.labels


def _label_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
