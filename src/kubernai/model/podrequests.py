"""What one pod asks for: Kubernetes' effective pod request, exact.

The scheduler and ResourceQuota count a pod as the larger of (a) the sum of its
app containers plus its restartable init containers ("sidecars",
``restartPolicy: Always``) and (b) the largest single init container, plus
``spec.overhead``. A container that sets a limit but no request gets the limit
as its request (API defaulting). Sources: kubernetes
``pkg/api/v1/resource/helpers.go`` (``PodRequests``) and the "Resource
Management for Pods and Containers" and sidecar-containers documentation.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from kubernai.model.quantity import parse_quantity
from kubernai.model.resource import get_map, get_str
from kubernai.model.workload import Container, PodTemplate

_ZERO = Fraction(0)


def container_request(container: Container, name: str) -> Fraction | None:
    """The effective request of one resource: the request, else the limit."""
    value = container.requests.get(name)
    if value is None:
        value = container.limits.get(name)
    return None if value is None else parse_quantity(value)


def _is_sidecar(container: Container) -> bool:
    return container.init and get_str(container.raw, "restartPolicy") == "Always"


def pod_request(template: PodTemplate, name: str) -> Fraction:
    """The effective request of resource ``name`` for one pod of the template.

    Unparsable quantities count as zero (another rule reports them).
    """
    regular = largest_init = _ZERO
    for container in template.containers:
        amount = container_request(container, name)
        if not amount:
            continue  # unset, unparsable or zero: adds nothing
        if container.init and not _is_sidecar(container):
            largest_init = max(largest_init, amount)
        else:
            regular = regular + amount if regular else amount
    total = max(regular, largest_init)
    overhead = parse_quantity(get_map(template.spec, "overhead").get(name))
    return total + overhead if overhead else total


def requested_names(template: PodTemplate) -> set[str]:
    """Every resource name some container of the template sets."""
    return {name for container in template.containers for name in container.names}


def first_container_with(template: PodTemplate, name: str) -> Container | None:
    """The first container that sets resource ``name``."""
    for container in template.containers:
        if name in container.limits or name in container.requests:
            return container
    return None


def quota_applies_to_all(quota: Mapping[str, Any]) -> bool:
    """Whether a ResourceQuota counts every pod (no scopes, no scope selector)."""
    spec = get_map(quota, "spec")
    return not spec.get("scopes") and not spec.get("scopeSelector")
