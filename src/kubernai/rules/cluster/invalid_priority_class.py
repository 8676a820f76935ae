"""CLU012 invalid-priority-class."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.priority import (
    HIGHEST_USER_DEFINABLE_PRIORITY,
    PREEMPTION_POLICIES,
    SYSTEM_PREFIX,
    SYSTEM_PRIORITY_CLASSES,
    int32_value,
    is_priority_class,
)
from kubernai.model.resource import Resource, is_placeholder
from kubernai.rules.base import Finding, Rule, Severity


class InvalidPriorityClass(Rule):
    """PriorityClass that the API server refuses to create.

    ## Mechanism
    PriorityClass validation rejects, with a `Forbidden` or `Unsupported
    value` error:
    - a `value` above 1000000000, the highest a user-defined class may have
      (`value: Forbidden: maximum allowed value of a user defined priority
      is 1000000000`); larger values belong to the built-in
      `system-cluster-critical` (2000000000) and `system-node-critical`
      (2000001000), so a GPU serving class cannot outrank node agents;
    - a name starting with `system-` unless it is one of those two classes
      with exactly their value (`metadata.name: Forbidden: priority class
      names with 'system-' prefix are reserved for system use only. error:
      ...`);
    - a `preemptionPolicy` other than `PreemptLowerPriority` or `Never`
      (`preemptionPolicy: Unsupported value: "never": supported values:
      "PreemptLowerPriority", "Never"`); the values are case-sensitive;
    - a `value` or `globalDefault` that is not a number or a boolean (a
      quoted `"1000"`), which the API server cannot decode.

    The class is not created, so every pod template that names it is then
    refused as well (`no PriorityClass with name ... was found`).

    ## Example
    ```yaml
    apiVersion: scheduling.k8s.io/v1
    kind: PriorityClass
    metadata:
      name: llm-serving-critical
    value: 1500000000
    preemptionPolicy: never
    ```

    ## Use instead
    ```yaml
    apiVersion: scheduling.k8s.io/v1
    kind: PriorityClass
    metadata:
      name: llm-serving-critical
    value: 1000000
    preemptionPolicy: Never
    ```

    ## References
    - https://kubernetes.io/docs/concepts/scheduling-eviction/pod-priority-preemption/#priorityclass
    - kubernetes pkg/apis/scheduling/validation/validation.go: ValidatePriorityClass
    - kubernetes pkg/apis/scheduling/v1/helpers.go: IsKnownSystemPriorityClass
    - kubernetes pkg/apis/core/validation/validation.go: ValidatePreemptionPolicy
    """

    code = "CLU012"
    name = "invalid-priority-class"
    severity = Severity.ERROR
    mechanism = "priority-preemption-for-ai-pods"
    kinds = frozenset({"PriorityClass"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if not is_priority_class(resource):
            return
        raw = resource.raw
        written = raw.get("value")
        value = 0 if written is None else int32_value(written)
        if value is None and not is_placeholder(written):
            yield self.finding(
                resource,
                f"value {written!r} is not a 32-bit integer; the API server cannot "
                "decode the PriorityClass",
                path=("value",),
            )
        default = raw.get("globalDefault")
        if default is not None and not isinstance(default, bool):
            if not is_placeholder(default):
                yield self.finding(
                    resource,
                    f"globalDefault {default!r} is not a boolean; the API server "
                    "cannot decode the PriorityClass (write true or false, unquoted)",
                    path=("globalDefault",),
                )
            default = None
        name = resource.name
        if name.startswith(SYSTEM_PREFIX):
            error = _system_class_error(name, value, default is True)
            if error:
                yield self.finding(
                    resource,
                    f"name {name!r} starts with the reserved prefix 'system-'; the "
                    "API server refuses it: priority class names with 'system-' "
                    f"prefix are reserved for system use only. error: {error}",
                    path=("metadata", "name"),
                )
        elif value is not None and value > HIGHEST_USER_DEFINABLE_PRIORITY:
            yield self.finding(
                resource,
                f"value {value} is above {HIGHEST_USER_DEFINABLE_PRIORITY}, the "
                "highest a user-defined class may have; the API server refuses it: "
                "maximum allowed value of a user defined priority is "
                f"{HIGHEST_USER_DEFINABLE_PRIORITY}",
                path=("value",),
            )
        policy = raw.get("preemptionPolicy")
        if policy is None or policy in PREEMPTION_POLICIES or is_placeholder(policy):
            return
        if policy == "":
            detail = "preemptionPolicy: Required value"
        elif isinstance(policy, str):
            detail = (
                f'preemptionPolicy: Unsupported value: "{policy}": supported '
                'values: "PreemptLowerPriority", "Never"'
            )
        else:
            detail = "it cannot decode a preemptionPolicy that is not a string"
        yield self.finding(
            resource,
            f"preemptionPolicy {policy!r} is neither PreemptLowerPriority nor Never "
            f"(case matters); the API server refuses it: {detail}",
            path=("preemptionPolicy",),
        )


def _system_class_error(name: str, value: int | None, global_default: bool) -> str:
    """Upstream's IsKnownSystemPriorityClass error, or ``""`` when it is one."""
    known = SYSTEM_PRIORITY_CLASSES.get(name)
    if known is None:
        return f"{name} is not a known system priority class"
    if value is not None and value != known:
        return f"value of {name} PriorityClass must be {known}"
    if global_default:
        return f"globalDefault of {name} PriorityClass must be false"
    return ""
