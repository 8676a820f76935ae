"""What the API server does to a pod before the scheduler sees it.

- Validation of container resources (``pkg/apis/core/validation``
  ``ValidateResourceRequirements``): a resource that cannot be overcommitted
  (an extended resource such as ``nvidia.com/gpu``, or hugepages) needs a
  limit and a request equal to it; extended resources are integers.
- LimitRanger (``plugin/pkg/admission/limitranger``): ``Container`` items fill
  missing limits from ``default`` and requests from ``defaultRequest`` (after
  the item's own defaulting: default ← max, defaultRequest ← default ← min),
  then check ``min``, ``max`` and ``maxLimitRequestRatio``.
- ResourceQuota (``apiserver/pkg/admission/plugin/resourcequota``): the pod
  evaluator's usage (``pods``, ``count/pods``, cpu/memory/ephemeral-storage
  requests and limits, hugepages, and extended resources only as
  ``requests.<name>``), the "must specify" constraint for cpu and memory, and
  ``exceeded quota: <name>, requested: ..., used: ..., limited: ...``.

Errors read as the API server writes them: ``Pod "x" is invalid: ...`` and
``pods "x" is forbidden: ...``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from kubernai.model.gpu import is_extended_resource
from kubernai.model.quantity import parse_quantity
from kubernai.model.resource import Resource, get_map, get_str, iter_maps
from kubernai.model.selector import selector_matches
from kubernai.sim.quantities import is_binary_resource, quantity_text
from kubernai.sim.requests import ContainerResources, container_resources, sum_requests

_VALIDATION_SET = frozenset(
    {"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"}
)
_NATIVE_QUOTA = frozenset(
    {
        "pods", "count/pods", "cpu", "memory", "ephemeral-storage",
        "requests.cpu", "requests.memory", "requests.ephemeral-storage",
        "limits.cpu", "limits.memory", "limits.ephemeral-storage",
    }
)  # fmt: skip


def _overcommit_allowed(name: str) -> bool:
    return not is_extended_resource(name) and not name.startswith("hugepages-")


def _amounts(raw: Any) -> dict[str, Fraction]:
    found: dict[str, Fraction] = {}
    if isinstance(raw, Mapping):
        for name, value in raw.items():
            amount = parse_quantity(value)
            if isinstance(name, str) and amount is not None:
                found[name] = amount
    return found


def _text(name: str, value: Fraction) -> str:
    return quantity_text(value, binary=is_binary_resource(name))


def resource_errors(spec: Mapping[str, Any], base: str) -> list[str]:
    """Validation errors of the containers' resources (``base``: ``spec``)."""
    errors = []
    for key in ("containers", "initContainers"):
        for index, container in iter_maps(spec, key):
            path = f"{base}.{key}[{index}].resources"
            resources = get_map(container, "resources")
            limits = _amounts(resources.get("limits"))
            requests = _amounts(resources.get("requests"))
            for section, values in (("limits", limits), ("requests", requests)):
                for name, amount in values.items():
                    if is_extended_resource(name) and amount.denominator != 1:
                        errors.append(
                            f"{path}.{section}[{name}]: Invalid value: "
                            f'"{_text(name, amount)}": must be an integer'
                        )
            for name, amount in requests.items():
                if name in limits:
                    limit = limits[name]
                    if amount != limit and not _overcommit_allowed(name):
                        errors.append(
                            f'{path}.requests: Invalid value: "{_text(name, amount)}": '
                            f"must be equal to {name} limit of {_text(name, limit)}"
                        )
                    elif amount > limit:
                        errors.append(
                            f'{path}.requests: Invalid value: "{_text(name, amount)}": '
                            f"must be less than or equal to {name} limit of "
                            f"{_text(name, limit)}"
                        )
                elif not _overcommit_allowed(name):
                    errors.append(
                        f"{path}.limits: Required value: Limit must be set for non "
                        "overcommitable resources"
                    )
    return errors


def invalid_message(kind: str, name: str, errors: list[str]) -> str:
    """``<Kind> "name" is invalid: ...`` (errors in brackets when several)."""
    body = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    return f'{kind} "{name}" is invalid: {body}'


def forbidden(name: str, reason: str) -> str:
    """``pods "name" is forbidden: ...``."""
    return f'pods "{name}" is forbidden: {reason}'


def _join(errors: list[str]) -> str:
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


# -- LimitRange ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContainerLimits:
    """One LimitRange item of type ``Container``, its own defaults applied."""

    default: Mapping[str, Any]
    default_request: Mapping[str, Any]
    min: Mapping[str, Any]
    max: Mapping[str, Any]
    ratio: Mapping[str, Any]


def container_limits(limit_range: Resource) -> list[ContainerLimits]:
    """The ``Container`` items of a LimitRange (``SetDefaults_LimitRangeItem``)."""
    found = []
    for _, item in iter_maps(limit_range.raw, "spec", "limits"):
        if get_str(item, "type") != "Container":
            continue
        default = dict(get_map(item, "default"))
        request = dict(get_map(item, "defaultRequest"))
        for name, value in get_map(item, "max").items():
            default.setdefault(name, value)
        for name, value in default.items():
            request.setdefault(name, value)
        for name, value in get_map(item, "min").items():
            request.setdefault(name, value)
        found.append(
            ContainerLimits(
                default,
                request,
                get_map(item, "min"),
                get_map(item, "max"),
                get_map(item, "maxLimitRequestRatio"),
            )
        )
    return found


def apply_limit_ranges(
    spec: Mapping[str, Any], items: list[ContainerLimits]
) -> Mapping[str, Any]:
    """The pod spec with LimitRanger's defaults filled in (a copy when changed)."""
    if not items or not any(i.default or i.default_request for i in items):
        return spec
    result: dict[str, Any] = copy.deepcopy(dict(spec))
    for key in ("containers", "initContainers"):
        listed = result.get(key)
        for container in listed if isinstance(listed, list) else ():
            if not isinstance(container, dict):
                continue
            resources = container.setdefault("resources", {})
            if not isinstance(resources, dict):
                continue
            limits = resources.setdefault("limits", {}) or {}
            requests = resources.setdefault("requests", {}) or {}
            resources["limits"], resources["requests"] = limits, requests
            # API defaulting runs before admission: a limit without a request
            # becomes the request, so LimitRanger never fills that request.
            for name, value in limits.items():
                requests.setdefault(name, value)
            for item in items:
                for name, value in item.default.items():
                    limits.setdefault(name, value)
                for name, value in item.default_request.items():
                    requests.setdefault(name, value)
    return result


def limit_range_errors(
    spec: Mapping[str, Any], items: list[ContainerLimits]
) -> list[str]:
    """LimitRanger's validation of each container against ``min``/``max``/ratio."""
    errors: list[str] = []
    for item in items:
        for key in ("containers", "initContainers"):
            for _, container in iter_maps(spec, key):
                resources = get_map(container, "resources")
                limits = _amounts(resources.get("limits"))
                requests = _amounts(resources.get("requests"))
                errors.extend(_check(item, requests, limits))
    return errors


def _check(
    item: ContainerLimits, requests: dict[str, Fraction], limits: dict[str, Fraction]
) -> list[str]:
    errors = []
    for name, value in item.min.items():
        enforced = parse_quantity(value)
        if enforced is None:
            continue
        shown = _text(name, enforced)
        if name not in requests:
            errors.append(
                f"minimum {name} usage per Container is {shown}.  "
                "No request is specified"
            )
        elif requests[name] < enforced:
            errors.append(
                f"minimum {name} usage per Container is {shown}, but request is "
                f"{_text(name, requests[name])}"
            )
        elif name in limits and limits[name] < enforced:
            errors.append(
                f"minimum {name} usage per Container is {shown}, but limit is "
                f"{_text(name, limits[name])}"
            )
    for name, value in item.max.items():
        enforced = parse_quantity(value)
        if enforced is None:
            continue
        shown = _text(name, enforced)
        if name not in limits:
            errors.append(
                f"maximum {name} usage per Container is {shown}.  No limit is specified"
            )
        elif limits[name] > enforced:
            errors.append(
                f"maximum {name} usage per Container is {shown}, but limit is "
                f"{_text(name, limits[name])}"
            )
        elif name in requests and requests[name] > enforced:
            errors.append(
                f"maximum {name} usage per Container is {shown}, but request is "
                f"{_text(name, requests[name])}"
            )
    for name, value in item.ratio.items():
        enforced = parse_quantity(value)
        if enforced is None or name not in limits:
            continue
        request = requests.get(name, Fraction(0))
        shown = _text(name, enforced)
        if request <= 0:
            errors.append(
                f"{name} max limit to request ratio per Container is {shown}, but no "
                "request is specified or request is 0"
            )
        elif limits[name] / request > enforced:
            errors.append(
                f"{name} max limit to request ratio per Container is {shown}, but "
                f"provided ratio is {float(limits[name] / request):f}"
            )
    return errors


# -- ResourceQuota ------------------------------------------------------------------


def _matches_quota(name: str) -> bool:
    if name in _NATIVE_QUOTA or name.startswith(("hugepages-", "requests.hugepages-")):
        return True
    if name.startswith("requests."):
        return is_extended_resource(name[len("requests.") :])
    return False


def pod_usage(spec: Mapping[str, Any]) -> dict[str, Fraction]:
    """The pod evaluator's usage: ``podComputeUsageHelper`` over PodRequests/Limits."""
    containers = container_resources(spec)
    requests = sum_requests(containers, _amounts(spec.get("overhead")), {})
    limit_containers = []
    for key in ("containers", "initContainers"):
        for _, raw in iter_maps(spec, key):
            limit_containers.append(
                ContainerResources(
                    _amounts(get_map(raw, "resources").get("limits")),
                    init=key == "initContainers",
                    sidecar=get_str(raw, "restartPolicy") == "Always",
                )
            )
    limits = sum_requests(limit_containers, {}, {})
    usage = {"pods": Fraction(1), "count/pods": Fraction(1)}
    for base in ("cpu", "memory", "ephemeral-storage"):
        if base in requests:
            usage[base] = requests[base]
            usage[f"requests.{base}"] = requests[base]
        if base in limits:
            usage[f"limits.{base}"] = limits[base]
    for name, amount in requests.items():
        if name.startswith("hugepages-"):
            usage[name] = amount
            usage[f"requests.{name}"] = amount
        elif is_extended_resource(name):
            usage[f"requests.{name}"] = amount
    return usage


def _container_usage_names(raw: Mapping[str, Any]) -> set[str]:
    resources = get_map(raw, "resources")
    names = set()
    requests = _amounts(resources.get("requests"))
    for name in _amounts(resources.get("limits")):
        requests.setdefault(name, Fraction(0))
    for base in ("cpu", "memory"):
        if base in _amounts(resources.get("requests")) or base in requests:
            names |= {base, f"requests.{base}"}
        if base in _amounts(resources.get("limits")):
            names.add(f"limits.{base}")
    return names


@dataclass(slots=True)
class Quota:
    """A ResourceQuota with its hard limits and running usage."""

    name: str
    namespace: str
    hard: dict[str, Fraction]
    used: dict[str, Fraction]
    scopes: tuple[str, ...] = ()
    scope_selector: list[Mapping[str, Any]] = field(default_factory=list)
    from_status: bool = False
    """Whether ``used`` came from the object's ``status.used``."""

    def applies(self, spec: Mapping[str, Any], usage: Mapping[str, Fraction]) -> bool:
        """Whether the quota's scopes select the pod."""
        best_effort = not any(
            k.startswith(("requests.", "limits."))
            for k in usage
            if "cpu" in k or "memory" in k
        )
        terminating = spec.get("activeDeadlineSeconds") is not None
        for scope in self.scopes:
            if (scope == "BestEffort" and not best_effort) or (
                scope == "NotBestEffort" and best_effort
            ):
                return False
            if (scope == "Terminating" and not terminating) or (
                scope == "NotTerminating" and terminating
            ):
                return False
        for expression in self.scope_selector:
            if get_str(expression, "scopeName") != "PriorityClass":
                continue
            labels = {"priorityClassName": get_str(spec, "priorityClassName")}
            selector = {
                "matchExpressions": [
                    {
                        "key": "priorityClassName",
                        "operator": get_str(expression, "operator"),
                        "values": expression.get("values") or [],
                    }
                ]
            }
            if not get_str(spec, "priorityClassName") and get_str(
                expression, "operator"
            ) in ("In", "Exists"):
                return False
            if selector_matches(selector, labels) is False:
                return False
        return True


def read_quota(resource: Resource) -> Quota:
    """A ResourceQuota; ``status.used`` when the object has it, else zero."""
    hard = _amounts(get_map(resource.raw, "spec", "hard"))
    status_hard = _amounts(get_map(resource.raw, "status", "hard"))
    used = _amounts(get_map(resource.raw, "status", "used"))
    scopes = tuple(
        s
        for s in get_map(resource.raw, "spec").get("scopes") or ()
        if isinstance(s, str)
    )
    selector = [
        e
        for _, e in iter_maps(resource.raw, "spec", "scopeSelector", "matchExpressions")
    ]
    return Quota(
        name=resource.name,
        namespace=resource.namespace or "default",
        hard=status_hard or hard,
        used=used,
        scopes=scopes,
        scope_selector=selector,
        from_status="used" in get_map(resource.raw, "status"),
    )


def _pretty(values: Mapping[str, Fraction], names: list[str]) -> str:
    return ",".join(
        f"{n}={_text(n, values.get(n, Fraction(0)))}" for n in sorted(names)
    )


def quota_check(
    quotas: list[Quota], spec: Mapping[str, Any], usage: Mapping[str, Fraction]
) -> str:
    """The quota admission error for one pod, or ``""``; charges it when admitted."""
    matching = [
        q for q in sorted(quotas, key=lambda q: q.name) if q.applies(spec, usage)
    ]
    for quota in matching:
        restricted = {n for n in quota.hard if _matches_quota(n)}
        required = restricted & _VALIDATION_SET
        if required:
            missing: dict[str, set[str]] = {}
            for key in ("containers", "initContainers"):
                for _, raw in iter_maps(spec, key):
                    have = _container_usage_names(raw)
                    for name in required - have:
                        missing.setdefault(name, set()).add(get_str(raw, "name"))
            if missing:
                parts = [
                    f"{n} for: {','.join(sorted(c))}"
                    for n, c in sorted(missing.items())
                ]
                return f"failed quota: {quota.name}: must specify {'; '.join(parts)}"
    for quota in matching:
        requested = {n: v for n, v in usage.items() if n in quota.hard}
        exceeded = [
            n
            for n, v in requested.items()
            if quota.used.get(n, Fraction(0)) + v > quota.hard[n]
        ]
        if exceeded:
            return (
                f"exceeded quota: {quota.name}, "
                f"requested: {_pretty(requested, exceeded)}, "
                f"used: {_pretty(quota.used, exceeded)}, limited: "
                f"{_pretty(quota.hard, exceeded)}"
            )
    for quota in matching:
        for name, value in usage.items():
            if name in quota.hard:
                quota.used[name] = quota.used.get(name, Fraction(0)) + value
    return ""
