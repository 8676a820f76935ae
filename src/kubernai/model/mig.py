"""MIG: the resource names of MIG slices and the profiles each GPU product offers.

Sources:
- resource names: NVIDIA/k8s-device-plugin ``internal/rm/rm.go``
  (``AddDefaultResourcesToConfig``): with ``migStrategy: mixed`` each GPU
  instance profile becomes ``nvidia.com/mig-<profile>`` with ``+`` replaced by
  ``.`` (``nvidia.com/mig-1g.10gb``, ``nvidia.com/mig-1g.10gb.me``); with
  ``single`` the slices are advertised as ``nvidia.com/gpu``; with ``none``
  MIG devices are not advertised at all;
- product labels: ``internal/lm/resource.go`` and ``mig-strategy.go``:
  ``nvidia.com/gpu.product`` is the sanitised device name, ``-MIG-<profile>``
  is appended under ``single`` and ``-SHARED`` when the resource is shared
  without renaming;
- profiles per product: ``data/mig_profiles.json`` (NVIDIA MIG user guide and
  NVIDIA/mig-parted ``config-default.yaml``; each entry names its source);
- the strategy: the GPU Operator passes ``ClusterPolicy.spec.mig.strategy`` to
  the plugin as ``MIG_STRATEGY`` (``controllers/object_controls.go``
  ``applyMIGConfiguration``), which wins over ``flags.migStrategy`` in the
  config file (``api/config/v1/flags.go``); GPU feature discovery writes
  ``nvidia.com/mig.strategy`` only for ``single`` and ``mixed``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from kubernai.model.node_labels import parse_product
from kubernai.model.resource import Resource
from kubernai.model.sharing import (
    CONFIG_LABEL,
    MIG_STRATEGY_LABEL,
    PRODUCT_LABEL,
    SharingIndex,
    selected_values,
)
from kubernai.model.workload import PodTemplate

MIG_RESOURCE_PREFIX = "nvidia.com/mig-"
STRATEGIES = ("none", "single", "mixed")
"""``migStrategy`` values the device plugin accepts (``api/config/v1/consts.go``)."""

_PROFILE_BASE = re.compile(r"([0-9]+)g\.([0-9]+)gb")
_VENDOR_PREFIX = "nvidia-"


@dataclass(frozen=True, slots=True)
class MigGpu:
    """A GPU product and the MIG GPU instance profiles it offers."""

    name: str
    profiles: tuple[str, ...]
    source: str

    @property
    def supports_mig(self) -> bool:
        """Whether the product can be partitioned at all."""
        return bool(self.profiles)

    def offers(self, profile: str) -> bool:
        """Whether a profile with the same slices and memory exists on this GPU.

        Only ``<g>g.<m>gb`` is compared: attribute suffixes (``+me``, ``-me``,
        ``+gfx``) vary with drivers and are not judged.
        """
        base = profile_base(profile)
        return base is not None and any(profile_base(p) == base for p in self.profiles)

    @property
    def profile_list(self) -> str:
        """The profiles without attribute variants, for messages."""
        seen = dict.fromkeys(b for p in self.profiles if (b := profile_base(p)))
        return ", ".join(seen)


def mig_profile(resource_name: str) -> str | None:
    """``1g.10gb`` for ``nvidia.com/mig-1g.10gb``; ``None`` for other resources."""
    if not resource_name.startswith(MIG_RESOURCE_PREFIX):
        return None
    profile = resource_name[len(MIG_RESOURCE_PREFIX) :]
    return profile if profile_base(profile) is not None else None


def profile_base(profile: str) -> str | None:
    """The ``<g>g.<m>gb`` part of a profile (``1g.10gb`` of ``1g.10gb+me``)."""
    match = _PROFILE_BASE.match(profile)
    return match.group(0) if match else None


@dataclass(frozen=True, slots=True)
class ProductLabel:
    """A ``nvidia.com/gpu.product`` value taken apart."""

    value: str
    gpu: MigGpu | None
    """The catalogued GPU, ``None`` when the product is not in the catalog."""
    single_profile: str
    """The profile of a ``-MIG-<profile>`` label (strategy ``single``), else ``""``."""


@cache
def product_label(value: str) -> ProductLabel:
    """Parse a ``nvidia.com/gpu.product`` label value."""
    parsed = parse_product(value)
    key = parsed.base.lower().removeprefix(_VENDOR_PREFIX)
    return ProductLabel(
        value=value, gpu=_catalog().get(key), single_profile=parsed.mig_profile
    )


@cache
def _catalog() -> dict[str, MigGpu]:
    text = (
        resources.files("kubernai")
        .joinpath("data/mig_profiles.json")
        .read_text("utf-8")
    )
    found: dict[str, MigGpu] = {}
    for item in json.loads(text)["gpus"]:
        gpu = MigGpu(
            name=item["name"],
            profiles=tuple(item["profiles"]),
            source=item["source"],
        )
        for product in item["products"]:
            found[product.lower().removeprefix(_VENDOR_PREFIX)] = gpu
    return found


# -- which MIG strategy the input says a template's nodes run -----------------------


@dataclass(frozen=True, slots=True)
class KnownStrategy:
    """A MIG strategy the input states for a template's nodes, and where."""

    strategy: str
    reason: str


def known_mig_strategy(
    workload: Resource, template: PodTemplate, index: SharingIndex
) -> KnownStrategy | None:
    """The MIG strategy of the nodes a template runs on, when the input says it.

    Evidence, in order: the template selects single-strategy GFD labels (a
    ``nvidia.com/gpu.product`` with ``-MIG-``, ``nvidia.com/mig.strategy``);
    the ClusterPolicies that describe the workload's cluster set
    ``spec.mig.strategy`` (the operator passes it as ``MIG_STRATEGY``, which
    overrides plugin configs); otherwise every device-plugin config that
    describes it (or those the pods select by
    ``nvidia.com/device-plugin.config``) sets the same ``flags.migStrategy``.
    """
    products = selected_values(template, PRODUCT_LABEL)
    if products and all("-MIG-" in p for p in products):
        shown = "|".join(products)
        return KnownStrategy(
            "single",
            f"the pods select {PRODUCT_LABEL}={shown}, a label GPU feature "
            "discovery writes only under migStrategy single",
        )
    labelled = selected_values(template, MIG_STRATEGY_LABEL)
    if labelled and set(labelled) == {"single"}:
        return KnownStrategy("single", f"the pods select {MIG_STRATEGY_LABEL}=single")
    policies = [p for p in index.policies_for(workload) if p.mig_strategy]
    if policies:
        strategies = {p.mig_strategy for p in policies}
        if len(strategies) != 1 or not strategies <= set(STRATEGIES):
            return None
        strategy = strategies.pop()
        return KnownStrategy(
            strategy,
            f"ClusterPolicy {policies[0].resource.name} sets spec.mig.strategy: "
            f"{strategy}",
        )
    configs = index.configs_for(workload)
    keys = selected_values(template, CONFIG_LABEL)
    if keys is not None:
        configs = tuple(c for c in configs if c.data_key in keys)
    strategies = {c.mig_strategy for c in configs}
    if not configs or len(strategies) != 1 or not strategies <= set(STRATEGIES):
        return None
    strategy = strategies.pop()
    first = configs[0]
    where = f"ConfigMap {first.resource.name} data[{first.data_key}]"
    if len(configs) > 1:
        where = f"every device-plugin config ({len(configs)}, e.g. {where})"
    return KnownStrategy(strategy, f"{where} sets flags.migStrategy: {strategy}")
