"""CLU045 invalid-topology-spread-constraint."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from kubernai.model.features import POD_TOPOLOGY
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Path, Resource, format_path, is_placeholder
from kubernai.model.topology import DO_NOT_SCHEDULE, SCHEDULE_ANYWAY, topology_terms
from kubernai.rules.base import Finding, Rule, Severity

_ACTIONS = (DO_NOT_SCHEDULE, SCHEDULE_ANYWAY)
_POLICIES = ("Honor", "Ignore")


def _supported(value: Any, allowed: tuple[str, ...]) -> str:
    shown = ", ".join(f'"{a}"' for a in allowed)
    return f'Unsupported value: "{value}": supported values: {shown}'


class InvalidTopologySpreadConstraint(Rule):
    """Topology spread constraint that the API server rejects.

    ## Mechanism
    The API server validates `topologySpreadConstraints` when the pod is
    created (`validateTopologySpreadConstraints` in
    `pkg/apis/core/validation`). For a workload the controller's pod
    creation then fails over and over, the failure shows up only in the
    controller's events, and a training job never gets its ranks. The
    errors, as the API server words them:
    `maxSkew: Invalid value: 0: must be greater than zero` (also when
    `maxSkew` is missing); `topologyKey: Required value: can not be empty`;
    `whenUnsatisfiable: Unsupported value: "": supported values:
    "DoNotSchedule", "ScheduleAnyway"` (the field is required; there is no
    default); `minDomains: Invalid value: 2: can only use minDomains if
    whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway` and `must be greater
    than zero`; `{topologyKey, whenUnsatisfiable}: Duplicate value` for two
    constraints with the same pair; `nodeAffinityPolicy` and
    `nodeTaintsPolicy` other than `Honor` or `Ignore`; and `matchLabelKeys:
    Forbidden: must not be specified when labelSelector is not set`, or a key
    that `exists in both matchLabelKeys and labelSelector`.

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
    spec:
      replicas: 4
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          topologySpreadConstraints:
            - maxSkew: 1
              minDomains: 2
              topologyKey: topology.kubernetes.io/zone
              whenUnsatisfiable: ScheduleAnyway
              labelSelector:
                matchLabels: {app: vllm}
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.6.3
              resources:
                limits: {nvidia.com/gpu: 1}
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: vllm
    spec:
      replicas: 4
      selector:
        matchLabels: {app: vllm}
      template:
        metadata:
          labels: {app: vllm}
        spec:
          topologySpreadConstraints:
            - maxSkew: 1
              minDomains: 2
              topologyKey: topology.kubernetes.io/zone
              whenUnsatisfiable: DoNotSchedule
              labelSelector:
                matchLabels: {app: vllm}
          containers:
            - name: vllm
              image: vllm/vllm-openai:v0.6.3
              resources:
                limits: {nvidia.com/gpu: 1}
    ```

    ## References
    - https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#scheduling
    - https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/
    - kubernetes pkg/apis/core/validation/validation.go
      (validateTopologySpreadConstraints, validateMinDomains)
    """

    code = "CLU045"
    name = "invalid-topology-spread-constraint"
    severity = Severity.ERROR
    mechanism = "pod-affinity-for-distributed-training"
    workloads_only = True
    requires = frozenset({POD_TOPOLOGY})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            if not template.spec.get("topologySpreadConstraints"):
                continue
            spread = [t for t in topology_terms(template) if t.spread]
            pairs = [
                (t.raw.get("topologyKey"), t.raw.get("whenUnsatisfiable"))
                for t in spread
            ]
            role = f"pod template ({template.role}): " if template.role else ""
            for position, term in enumerate(spread):
                for field, error in _errors(term.raw):
                    field_path = (*term.path, *field)
                    shown = format_path(field_path)
                    yield self.finding(
                        resource,
                        f"{role}the API server rejects the pod: {shown}: {error}",
                        path=field_path if field[0] in term.raw else term.path,
                    )
                pair = pairs[position]
                if (
                    all(isinstance(p, str) and not is_placeholder(p) for p in pair)
                    and pair in pairs[position + 1 :]
                ):
                    yield self.finding(
                        resource,
                        f"{role}the API server rejects the pod: "
                        f"{format_path(term.path)}"
                        ".{topologyKey, whenUnsatisfiable}: Duplicate value: "
                        f'"{{{pair[0]}, {pair[1]}}}"',
                        path=term.path,
                    )


def _errors(raw: Mapping[str, Any]) -> Iterator[tuple[Path, str]]:
    """(field path inside the constraint, API error) for each validation error."""
    skew = raw.get("maxSkew")
    if skew is None or (type(skew) is int and skew <= 0):
        yield ("maxSkew",), f"Invalid value: {skew or 0}: must be greater than zero"
    key = raw.get("topologyKey")
    if key is None or key == "":
        yield ("topologyKey",), "Required value: can not be empty"
    when = raw.get("whenUnsatisfiable")
    when_ok = when in _ACTIONS
    unsupported = when is None or (isinstance(when, str) and not when_ok)
    if unsupported and not is_placeholder(when):
        yield ("whenUnsatisfiable",), _supported(when or "", _ACTIONS)
    domains = raw.get("minDomains")
    if type(domains) is int:
        if domains <= 0:
            yield (
                ("minDomains",),
                f"Invalid value: {domains}: must be greater than zero",
            )
        if when_ok and when != DO_NOT_SCHEDULE:
            yield (
                ("minDomains",),
                (
                    f"Invalid value: {domains}: can only use minDomains if "
                    f"whenUnsatisfiable={DO_NOT_SCHEDULE}, not {when}"
                ),
            )
    for field in ("nodeAffinityPolicy", "nodeTaintsPolicy"):
        policy = raw.get(field)
        if (
            isinstance(policy, str)
            and policy not in _POLICIES
            and not is_placeholder(policy)
        ):
            yield (field,), _supported(policy, _POLICIES)
    keys = raw.get("matchLabelKeys")
    if isinstance(keys, list) and keys:
        selector = raw.get("labelSelector")
        if selector is None:
            yield (
                ("matchLabelKeys",),
                ("Forbidden: must not be specified when labelSelector is not set"),
            )
        elif isinstance(selector, Mapping):
            used = _selector_keys(selector)
            for index, name in enumerate(keys):
                if isinstance(name, str) and name in used:
                    yield (
                        ("matchLabelKeys", index),
                        (
                            f'Invalid value: "{name}": exists in both '
                            "matchLabelKeys and labelSelector"
                        ),
                    )


def _selector_keys(selector: Mapping[str, Any]) -> set[str]:
    keys: set[str] = set()
    labels = selector.get("matchLabels")
    if isinstance(labels, Mapping):
        keys.update(k for k in labels if isinstance(k, str))
    expressions = selector.get("matchExpressions")
    if isinstance(expressions, list):
        for expression in expressions:
            if isinstance(expression, Mapping) and isinstance(
                expression.get("key"), str
            ):
                keys.add(expression["key"])
    return keys
