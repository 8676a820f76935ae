"""GPU sharing and MIG: what the NVIDIA device plugin advertises on a node.

A device-plugin config (a ConfigMap ``data`` key, ``model/sharing.py``) is
applied to each GPU node whose labels do not show sharing already
(``nvidia.com/gpu.replicas`` absent or ``1``): the one its
``nvidia.com/device-plugin.config`` label names, else the only config, else
the key ``default``. Following NVIDIA/k8s-device-plugin v0.20:

- MIG (``flags.migStrategy``), with the node's mig-parted layout
  (``nvidia.com/mig.config``: ``all-<profile>`` or ``all-balanced``):
  ``single`` advertises the slices as ``nvidia.com/gpu`` and relabels the
  product ``<product>-MIG-<profile>`` (a mixed layout is invalid:
  ``-MIG-INVALID``, count 0); ``mixed`` advertises ``nvidia.com/mig-<profile>``
  (``+`` → ``.``) and no full GPUs. Instances per GPU: 7 of the smallest 1g
  profile, 4 of the double-memory 1g, 3 of 2g, 2 of 3g, 1 of 4g, 7g or a
  ``+me`` profile (mig-parted ``config-default.yaml``); ``all-balanced`` is
  2×1g + 1×2g + 1×3g.
- time-slicing / MPS: ``capacity = devices × replicas`` under the resource
  name, or ``<name>.shared`` with ``renameByDefault``; labels
  ``nvidia.com/gpu.replicas``, ``nvidia.com/gpu.sharing-strategy``, and
  ``-SHARED`` on the product when not renamed.

A request above 1 for a shared resource with ``failRequestsGreaterThanOne``
fails at the kubelet after binding; the scheduler does not see it, and
neither does this simulator.
"""

from __future__ import annotations

import re

from kubernai.model.mig import product_label
from kubernai.model.resource import Resource
from kubernai.model.sharing import (
    CONFIG_LABEL,
    MPS,
    SHARED_SUFFIX,
    PluginConfig,
    plugin_configs_in,
)
from kubernai.sim.nodes import NodeInfo

NVIDIA_GPU = "nvidia.com/gpu"
MIG_CONFIG_LABEL = "nvidia.com/mig.config"
_PROFILE = re.compile(r"([0-9]+)g\.([0-9]+)gb(\+me)?")


def _config_for(node: NodeInfo, configs: list[PluginConfig]) -> PluginConfig | None:
    wanted = node.labels.get(CONFIG_LABEL)
    if wanted:
        return next((c for c in configs if c.data_key == wanted), None)
    if len(configs) == 1:
        return configs[0]
    return next((c for c in configs if c.data_key == "default"), None)


def instances_per_gpu(profile: str, profiles: tuple[str, ...]) -> int:
    """Instances of ``profile`` one GPU holds (mig-parted ``all-<profile>``)."""
    match = _PROFILE.fullmatch(profile)
    if match is None:
        return 0
    slices, memory, media = int(match[1]), int(match[2]), match[3]
    if media:
        return 1
    if slices == 1:
        smallest = min(
            (
                int(m[2])
                for p in profiles
                if (m := _PROFILE.fullmatch(p)) and m[1] == "1"
            ),
            default=memory,
        )
        return 7 if memory == smallest else 4
    return {2: 3, 3: 2, 4: 1, 7: 1}.get(slices, 0)


def mig_layout(layout: str, profiles: tuple[str, ...]) -> dict[str, int] | None:
    """Profiles and their count per GPU for a mig-parted layout name."""
    plain = [p for p in profiles if "+" not in p]
    if layout == "all-balanced":
        found: dict[str, int] = {}
        for slices, count in (("1", 2), ("2", 1), ("3", 1)):
            options = [p for p in plain if p.startswith(f"{slices}g.")]
            if options:
                best = min(options, key=lambda p: int(_PROFILE.fullmatch(p)[2]))  # type: ignore[index]
                found[best] = count
        return found or None
    if layout.startswith("all-"):
        profile = layout[4:].replace(".me", "+me")
        if profile in profiles:
            return {profile: instances_per_gpu(profile, profiles)}
    return None


def _apply_mig(node: NodeInfo, strategy: str, gpus: int) -> None:
    product = node.labels.get("nvidia.com/gpu.product", "")
    catalog = product_label(product).gpu
    layout = mig_layout(node.mig_layout or node.labels.get(MIG_CONFIG_LABEL, ""),
                        catalog.profiles if catalog else ())  # fmt: skip
    if catalog is None or layout is None or strategy not in ("single", "mixed"):
        return
    node.labels["nvidia.com/mig.strategy"] = strategy
    if strategy == "single":
        if len(layout) != 1:
            node.labels["nvidia.com/gpu.product"] = f"{product}-MIG-INVALID"
            node.labels["nvidia.com/gpu.count"] = "0"
            node.allocatable[NVIDIA_GPU] = 0
            return
        profile, count = next(iter(layout.items()))
        node.labels["nvidia.com/gpu.product"] = f"{product}-MIG-{profile}"
        node.labels["nvidia.com/gpu.count"] = str(gpus * count)
        node.allocatable[NVIDIA_GPU] = gpus * count
        return
    node.allocatable[NVIDIA_GPU] = 0
    for profile, count in layout.items():
        name = "nvidia.com/mig-" + profile.replace("+", ".")
        node.allocatable[name] = gpus * count
        base = name.removeprefix("nvidia.com/")
        node.labels[f"nvidia.com/{base}.count"] = str(gpus * count)
        node.labels[f"nvidia.com/{base}.product"] = f"{product}-MIG-{profile}"


def _apply_sharing(node: NodeInfo, config: PluginConfig) -> None:
    block = config.active
    if block is None:
        return
    label = "mps" if block.key == MPS else "time-slicing"
    for shown, entry in block.advertised().items():
        devices = node.allocatable.get(entry.name, 0)
        if devices <= 0 or entry.replicas is None:
            continue
        if shown != entry.name:
            node.allocatable.pop(entry.name, None)
        node.allocatable[shown] = devices * entry.replicas
        if entry.name == NVIDIA_GPU:
            node.labels["nvidia.com/gpu.replicas"] = str(entry.replicas)
            node.labels["nvidia.com/gpu.sharing-strategy"] = label
            if not shown.endswith(SHARED_SUFFIX):
                product = node.labels.get("nvidia.com/gpu.product", "")
                if product and not product.endswith("-SHARED"):
                    node.labels["nvidia.com/gpu.product"] = product + "-SHARED"


def apply_device_plugin(nodes: list[NodeInfo], configmaps: list[Resource]) -> None:
    """Rewrite GPU nodes' allocatable and labels as the plugin would advertise them."""
    configs = [c for cm in configmaps for c in plugin_configs_in(cm)]
    for node in nodes:
        gpus = node.allocatable.get(NVIDIA_GPU, 0)
        if gpus <= 0 or node.labels.get("nvidia.com/gpu.replicas", "1") != "1":
            continue
        config = _config_for(node, configs) if configs else None
        strategy = config.mig_strategy if config else ""
        if node.mig_layout and not strategy:
            strategy = "mixed" if node.mig_layout == "all-balanced" else "single"
        if strategy in ("single", "mixed"):
            _apply_mig(node, strategy, gpus)
        if config is not None:
            _apply_sharing(node, config)
