"""What one pod asks of a node, in the scheduler's integer units.

Follows kubernetes ``pkg/api/v1/resource/helpers.go`` (``PodRequests``): the
sum of the app containers and restartable init containers ("sidecars"),
max'd with each regular init container plus the sidecars declared before it,
plus ``spec.overhead``. Quantities are summed exactly and converted at the
end as ``resource.Quantity`` does: ``cpu`` with ``MilliValue()``, everything
else with ``Value()`` (both round up).

The scheduler keeps two totals per pod (``framework/types.go``
``calculateResource``): the real requests, which the Filter and
BalancedAllocation use, and the "non-zero" cpu and memory, where a container
that has no cpu (memory) request counts 100m (200Mi); NodeResourcesFit
scoring uses those (``pkg/scheduler/util/pod_resources.go``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from kubernai.model.quantity import parse_quantity
from kubernai.model.resource import get_map, get_str, iter_maps

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"
DEFAULT_MILLI_CPU = 100
DEFAULT_MEMORY_BYTES = 200 * 1024 * 1024
_NON_ZERO_DEFAULTS = {
    CPU: Fraction(DEFAULT_MILLI_CPU, 1000),
    MEMORY: Fraction(DEFAULT_MEMORY_BYTES),
}


def to_units(name: str, quantity: Fraction) -> int:
    """``MilliValue()`` for cpu, ``Value()`` for the rest; both round up."""
    if name == CPU:
        return math.ceil(quantity * 1000)
    return math.ceil(quantity)


@dataclass(frozen=True, slots=True)
class ContainerResources:
    """One container's requests after API defaulting, and whether it is init."""

    requests: Mapping[str, Fraction]
    init: bool = False
    sidecar: bool = False


@dataclass(frozen=True, slots=True)
class PodRequest:
    """A pod's requests: real (name → units, zero entries dropped) and non-zero."""

    real: Mapping[str, int]
    nonzero_cpu: int
    nonzero_memory: int

    def get(self, name: str) -> int:
        """The real request of ``name`` (0 when not requested)."""
        return self.real.get(name, 0)


def _add(total: dict[str, Fraction], more: Mapping[str, Fraction]) -> None:
    for name, amount in more.items():
        total[name] = total.get(name, Fraction(0)) + amount


def _max(total: dict[str, Fraction], other: Mapping[str, Fraction]) -> None:
    for name, amount in other.items():
        if amount > total.get(name, Fraction(0)):
            total[name] = amount


def sum_requests(
    containers: Iterable[ContainerResources],
    overhead: Mapping[str, Fraction],
    defaults: Mapping[str, Fraction],
) -> dict[str, Fraction]:
    """``PodRequests``: containers and sidecars summed, max'd with init, + overhead."""
    total: dict[str, Fraction] = {}
    sidecars: dict[str, Fraction] = {}
    inits: dict[str, Fraction] = {}
    listed = list(containers)
    for container in listed:
        if container.init:
            continue
        _add(total, _with_defaults(container.requests, defaults))
    for container in listed:
        if not container.init:
            continue
        requests = _with_defaults(container.requests, defaults)
        if container.sidecar:
            _add(total, requests)
            _add(sidecars, requests)
            effective = dict(sidecars)
        else:
            effective = dict(requests)
            _add(effective, sidecars)
        _max(inits, effective)
    _max(total, inits)
    _add(total, overhead)
    return total


def _with_defaults(
    requests: Mapping[str, Fraction], defaults: Mapping[str, Fraction]
) -> Mapping[str, Fraction]:
    if not defaults:
        return requests
    merged = dict(requests)
    for name, amount in defaults.items():
        merged.setdefault(name, amount)
    return merged


def pod_request(
    containers: Iterable[ContainerResources], overhead: Mapping[str, Fraction]
) -> PodRequest:
    """The pod's real and non-zero requests (see the module docstring)."""
    listed = list(containers)
    real = sum_requests(listed, overhead, {})
    nonzero = sum_requests(listed, overhead, _NON_ZERO_DEFAULTS)
    units = {name: to_units(name, amount) for name, amount in real.items()}
    return PodRequest(
        real={name: value for name, value in units.items() if value != 0},
        nonzero_cpu=to_units(CPU, nonzero.get(CPU, Fraction(0))),
        nonzero_memory=to_units(MEMORY, nonzero.get(MEMORY, Fraction(0))),
    )


def _quantities(raw: Any) -> dict[str, Fraction]:
    found: dict[str, Fraction] = {}
    if not isinstance(raw, Mapping):
        return found
    for name, value in raw.items():
        amount = parse_quantity(value)
        if isinstance(name, str) and amount is not None:
            found[name] = amount
    return found


def container_resources(spec: Mapping[str, Any]) -> list[ContainerResources]:
    """Every container of a pod spec, requests defaulted from limits (API defaulting).

    Unparsable quantities count as absent.
    """
    found = []
    for key, init in (("containers", False), ("initContainers", True)):
        for _, raw in iter_maps(spec, key):
            resources = get_map(raw, "resources")
            requests = _quantities(resources.get("requests"))
            for name, amount in _quantities(resources.get("limits")).items():
                requests.setdefault(name, amount)
            sidecar = init and get_str(raw, "restartPolicy") == "Always"
            found.append(ContainerResources(requests, init=init, sidecar=sidecar))
    return found


def spec_request(spec: Mapping[str, Any]) -> PodRequest:
    """The request of a pod spec (raw mapping)."""
    return pod_request(container_resources(spec), _quantities(spec.get("overhead")))
