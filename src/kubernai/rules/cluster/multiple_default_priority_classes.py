"""CLU011 multiple-default-priority-classes."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.graph import ObjectGraph
from kubernai.model.priority import is_priority_class, read_priority_class
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity


class MultipleDefaultPriorityClasses(Rule):
    """A second PriorityClass with `globalDefault: true`.

    ## Mechanism
    The `globalDefault` class gives its value to every new pod that sets no
    `priorityClassName`, in every namespace. Only one may exist: the
    Priority admission plugin refuses to create a second one with
    `PriorityClass <first> is already marked as default. Only one default
    can exist`, so applying a bundle that marks two classes as the default
    fails part-way. If two defaults exist anyway (created in a race), the
    plugin uses the one with the lowest value, which silently lowers the
    priority of GPU pods that rely on the default. This check reports every
    default class after the first one in the input.

    ## Example
    ```yaml
    apiVersion: scheduling.k8s.io/v1
    kind: PriorityClass
    metadata:
      name: batch-default
    value: 100
    globalDefault: true
    ---
    apiVersion: scheduling.k8s.io/v1
    kind: PriorityClass
    metadata:
      name: serving-default
    value: 10000
    globalDefault: true
    ```

    ## Use instead
    ```yaml
    apiVersion: scheduling.k8s.io/v1
    kind: PriorityClass
    metadata:
      name: batch-default
    value: 100
    globalDefault: true
    ---
    apiVersion: scheduling.k8s.io/v1
    kind: PriorityClass
    metadata:
      name: serving-high
    value: 10000
    globalDefault: false
    ```

    ## References
    - https://kubernetes.io/docs/concepts/scheduling-eviction/pod-priority-preemption/#priorityclass
    - kubernetes plugin/pkg/admission/priority/admission.go: validatePriorityClass,
      getDefaultPriorityClass
    - kubernetes pkg/apis/scheduling/types.go: PriorityClass.GlobalDefault
    """

    code = "CLU011"
    name = "multiple-default-priority-classes"
    severity = Severity.ERROR
    mechanism = "priority-preemption-for-ai-pods"
    kinds = frozenset({"PriorityClass"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        if (
            not is_priority_class(resource)
            or resource.raw.get("globalDefault") is not True
        ):
            return
        first = next(
            (
                other
                for other in graph.of_kind("PriorityClass")
                if is_priority_class(other) and other.raw.get("globalDefault") is True
            ),
            None,
        )
        if first is None or first is resource or first.name == resource.name:
            return  # the first default in the input (or another copy of it)
        earlier = read_priority_class(first)
        value = "" if earlier.value is None else f" (value {earlier.value})"
        lowest = ""
        mine = read_priority_class(resource)
        if earlier.value is not None and mine.value is not None:
            low = earlier if earlier.value <= mine.value else mine
            lowest = (
                f"; where both exist, pods without priorityClassName get the lower "
                f"value, {low.value} from {low.name}"
            )
        yield self.finding(
            resource,
            f"globalDefault is true, but PriorityClass {first.name}{value} at "
            f"{first.source.file}:{first.source.line} is already the default; the "
            f"API server refuses the second: PriorityClass {first.name} is already "
            f"marked as default. Only one default can exist{lowest}",
            path=("globalDefault",),
        )
