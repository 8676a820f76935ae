"""A malformed rule fails when it is defined, not in review."""

from __future__ import annotations

import pytest

from kubernai.rules.base import REGISTRY, Rule, RuleDefinitionError, Severity

DOC = """Summary.

## Mechanism
x

## Example
x

## Use instead
x

## References
x
"""


def define(**attrs):
    namespace = {"__doc__": DOC, **attrs}
    name = attrs.pop("class_name", "WidgetIsBroken")
    return type(name, (Rule,), namespace)


BASE = {
    "code": "CLU990",
    "name": "widget-is-broken",
    "severity": Severity.WARNING,
    "mechanism": "taints-and-tolerations-for-gpu-nodes",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"code": "CLU01"}, r"PREFIX \+ 3 digits"),
        ({"code": "CLU001"}, "is taken"),
        ({"name": "no-widgets"}, "kebab-case problem"),
        ({"name": "cpu-pod-tolerates-gpu-taint"}, "is taken"),
        ({"mechanism": "not-a-mechanism"}, "unknown mechanism"),
        ({"mechanism": "kv-cache-sizing-for-llm-serving"}, "in the serve section"),
        ({"__doc__": "Summary.\n\n## Example\nx\n"}, "doc sections"),
        ({"class_name": "Other"}, "is named WidgetIsBroken"),
    ],
)
def test_malformed_rules_are_refused(change, message):
    attrs = {**BASE, **change}
    before = dict(REGISTRY)
    with pytest.raises(RuleDefinitionError, match=message):
        define(**attrs)
    assert before == REGISTRY
