"""Which GPU resources a pod template requests as shared replicas, and how many.

A resource is a shared (replicated) GPU when the input says so: the
device-plugin configs that describe the workload's cluster share it
(``model/sharing.py``), its name ends in ``.shared`` (``renameByDefault``), or
the template selects the GPU feature discovery labels of shared nodes
(``nvidia.com/<resource>.sharing-strategy``, ``.replicas`` above 1, a
``.product`` ending in ``-SHARED``; NVIDIA/k8s-device-plugin
``internal/lm/resource.go``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kubernai.model.quantity import parse_count
from kubernai.model.resource import Path, Resource
from kubernai.model.sharing import (
    CONFIG_LABEL,
    MPS,
    RESOURCE_PREFIX,
    SHARED_SUFFIX,
    TIME_SLICING,
    SharingBlock,
    SharingIndex,
    selected_values,
)
from kubernai.model.workload import Container, PodTemplate, memoised

_GFD_STRATEGIES = {"time-slicing": TIME_SLICING, "mps": MPS}
"""``nvidia.com/<resource>.sharing-strategy`` label values (``sharing.go``)."""


def requested_count(container: Container, name: str) -> int | None:
    """How many of ``name`` a container gets: the limit, else the request."""
    value = container.limits.get(name)
    if value is None:
        value = container.requests.get(name)
    return parse_count(value)


def resource_path(container: Container, name: str) -> Path:
    """Path of the limit (else the request) of ``name`` in the object."""
    section = "limits" if name in container.limits else "requests"
    return container.resource_path(section, name)


@dataclass(frozen=True, slots=True)
class SharedUse:
    """Why a resource a template requests is a shared (replicated) GPU."""

    name: str
    method: str
    """``timeSlicing``, ``mps``, or ``""`` when the method is not known."""
    reason: str
    """Where the input says so, for messages."""
    rejects_above_one: bool | None
    """Whether the plugin fails requests above 1; ``None`` when unknown."""


def shared_use(
    name: str, template: PodTemplate, workload: Resource, index: SharingIndex
) -> SharedUse | None:
    """Whether ``name`` is a shared GPU resource where the template runs.

    Evidence, in order: the plugin configs that describe the workload's
    cluster (those its pods select by ``nvidia.com/device-plugin.config``,
    else all of them), when every one shares ``name``; the ``.shared`` name
    itself (``renameByDefault``); GPU feature discovery labels the template
    selects (``<name>.sharing-strategy``, ``<name>.replicas`` above 1, a
    product ending in ``-SHARED``).
    """
    if not name.startswith(RESOURCE_PREFIX):
        return None
    from_configs = _shared_by_configs(name, template, workload, index)
    if from_configs is not None:
        return from_configs
    if name.endswith(SHARED_SUFFIX):
        reason = "only shared GPUs are advertised under a .shared name"
        return SharedUse(name, "", reason, None)
    return memoised(
        template, "shared_by_labels " + name, lambda: _shared_by_labels(name, template)
    )


def _shared_by_configs(
    name: str, template: PodTemplate, workload: Resource, index: SharingIndex
) -> SharedUse | None:
    configs = index.configs_for(workload)
    keys = selected_values(template, CONFIG_LABEL)
    if keys is not None:
        configs = tuple(c for c in configs if c.data_key in keys)
    if not configs:
        return None
    blocks: list[SharingBlock] = []
    for config in configs:
        block = config.active
        if block is None or name not in config.shared_names:
            return None
        blocks.append(block)
    first = configs[0]
    where = f"ConfigMap {first.resource.name} data[{first.data_key}]"
    if len(configs) > 1:
        where += f" (and {len(configs) - 1} more)"
    methods = {b.key for b in blocks}
    return SharedUse(
        name=name,
        method=blocks[0].key if len(methods) == 1 else "",
        reason=f"{where} shares it with {blocks[0].label}",
        rejects_above_one=all(b.rejects_above_one for b in blocks),
    )


def _shared_by_labels(name: str, template: PodTemplate) -> SharedUse | None:
    strategy_key = f"{name}.sharing-strategy"
    strategies = selected_values(template, strategy_key)
    if strategies and all(s in _GFD_STRATEGIES for s in strategies):
        methods = {_GFD_STRATEGIES[s] for s in strategies}
        method = methods.pop() if len(methods) == 1 else ""
        return SharedUse(
            name=name,
            method=method,
            reason=f"the pods select {strategy_key}={'|'.join(strategies)}",
            rejects_above_one=True if method == MPS else None,
        )
    replicas_key = f"{name}.replicas"
    replicas = selected_values(template, replicas_key)
    if replicas and all((parse_count(r) or 0) > 1 for r in replicas):
        return SharedUse(
            name, "", f"the pods select {replicas_key}={'|'.join(replicas)}", None
        )
    product_key = f"{name}.product"
    products = selected_values(template, product_key)
    if products and all(p.endswith("-SHARED") for p in products):
        return SharedUse(
            name, "", f"the pods select {product_key}={'|'.join(products)}", None
        )
    return None


def shared_requests(
    workload: Resource, template: PodTemplate, index: SharingIndex
) -> Iterator[tuple[Container, SharedUse, int]]:
    """Each container's shared GPU resources, with the count it requests."""
    for container in template.containers:
        for name in container.names:
            if not name.startswith(RESOURCE_PREFIX):
                continue
            count = requested_count(container, name)
            if count is None or count < 1:
                continue
            use = shared_use(name, template, workload, index)
            if use is not None:
                yield container, use, count
