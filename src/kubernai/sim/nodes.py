"""Nodes: read from Node manifests, or synthesised from a ``--nodes`` spec.

``--nodes COUNTxPRODUCT[:GPUS][:mig=LAYOUT]`` makes COUNT nodes with GPUS GPUs
(default 8) of a catalog GPU (``calc/catalog.py``, by id, alias or GFD product
string), labelled as GPU feature discovery labels them and tainted
``nvidia.com/gpu:NoSchedule`` (the key and effect that GKE and the GPU
Operator docs use; the value is left empty). ``COUNTxcpu[:CORES]`` makes
CPU-only nodes (default 32 cores).

Assumed sizes, roughly a cloud 8-GPU instance (AWS p5.48xlarge: 192 vCPU,
2 TiB): 24 CPUs and 256 GiB of memory per GPU, 4 GiB per core on CPU nodes;
allocatable is capacity less 1 CPU and 5% of memory (kube-reserved,
system-reserved and the eviction threshold); 110 pods (the kubelet default)
and 1 TiB of ephemeral storage. A Node manifest without ``pods`` in its
allocatable gets 110 too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubernai.calc.catalog import Gpu, find_gpu
from kubernai.errors import InputError
from kubernai.model.gpu import NVIDIA_GPU, Taint
from kubernai.model.quantity import parse_quantity
from kubernai.model.resource import Resource, get_map, get_str, iter_maps
from kubernai.sim.requests import CPU, EPHEMERAL_STORAGE, MEMORY, PODS, to_units

HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
REGION = "topology.kubernetes.io/region"
DEFAULT_PODS = 110
GPU_TAINT = Taint(NVIDIA_GPU, "", "NoSchedule")
CPUS_PER_GPU = 24
MEMORY_GIB_PER_GPU = 256
MEMORY_GIB_PER_CORE = 4
DEFAULT_GPUS = 8
DEFAULT_CORES = 32
_GIB = 1024**3
_SPEC = re.compile(
    r"(?P<count>[0-9]+)x(?P<product>[^:]+)(?::(?P<per_node>[0-9]+))?(?::mig=(?P<mig>\S+))?"
)


@dataclass(slots=True)
class NodeInfo:
    """A node: labels, taints, cordon, allocatable in scheduler units."""

    name: str
    labels: dict[str, str]
    taints: tuple[Taint, ...]
    unschedulable: bool
    allocatable: dict[str, int]
    mig_layout: str = ""
    """A mig-parted layout (``all-1g.10gb``) that ``--nodes`` asked for."""
    images: dict[str, int] = field(default_factory=dict)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _resources(raw: Mapping[str, Any]) -> dict[str, int]:
    found = {}
    for name, value in raw.items():
        amount = parse_quantity(value)
        if isinstance(name, str) and amount is not None:
            found[name] = to_units(name, amount)
    return found


def node_from_manifest(resource: Resource) -> NodeInfo:
    """A Node object (manifest or snapshot) as the scheduler sees it."""
    status = get_map(resource.raw, "status")
    allocatable = _resources(get_map(status, "allocatable"))
    if not allocatable:
        allocatable = _resources(get_map(status, "capacity"))
    allocatable.setdefault(PODS, DEFAULT_PODS)
    taints = tuple(
        Taint(get_str(t, "key"), _text(t.get("value")), get_str(t, "effect"))
        for _, t in iter_maps(resource.raw, "spec", "taints")
    )
    labels = {str(k): _text(v) for k, v in resource.labels.items()}
    images: dict[str, int] = {}
    for _, image in iter_maps(status, "images"):
        size = image.get("sizeBytes")
        for name in image.get("names") or ():
            if isinstance(name, str) and isinstance(size, int):
                images[name] = size
    return NodeInfo(
        name=resource.name,
        labels=labels,
        taints=taints,
        unschedulable=resource.raw.get("spec", {}).get("unschedulable") is True
        if isinstance(resource.raw.get("spec"), Mapping)
        else False,
        allocatable=allocatable,
        images=images,
    )


def _family(gpu: Gpu) -> str:
    major = gpu.compute_capability.split(".")[0]
    if gpu.compute_capability == "8.9":
        return "ada-lovelace"
    return {"7": "turing", "8": "ampere", "9": "hopper", "10": "blackwell"}.get(
        major, ""
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def synthesise(spec: str, *, start: int = 0) -> list[NodeInfo]:
    """Nodes for one ``--nodes`` spec (see the module docstring)."""
    match = _SPEC.fullmatch(spec.strip())
    if match is None:
        raise InputError(
            f"--nodes {spec!r}: expected COUNTxPRODUCT[:GPUS][:mig=LAYOUT], "
            "e.g. 64xNVIDIA-H100-80GB-HBM3:8 or 4xcpu:16"
        )
    count = int(match["count"])
    product = match["product"]
    per_node = match["per_node"]
    if product.lower() == "cpu":
        cores = int(per_node) if per_node else DEFAULT_CORES
        return [_cpu_node(f"cpu-{start + i}", cores) for i in range(count)]
    gpu = find_gpu(product)
    if gpu is None:
        raise InputError(
            f"--nodes {spec!r}: unknown GPU {product!r}; use a catalog id or GFD "
            "product string (`kubernai calc gpus` lists them), or 'cpu'"
        )
    gpus = int(per_node) if per_node else DEFAULT_GPUS
    if gpus == 0:
        raise InputError(f"--nodes {spec!r}: a GPU node needs at least one GPU")
    slug = _slug(gpu.id)
    return [
        _gpu_node(f"{slug}-{start + i}", gpu, gpus, match["mig"] or "")
        for i in range(count)
    ]


def _base_labels(name: str) -> dict[str, str]:
    return {
        HOSTNAME: name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
    }


def _sizes(cores: int, memory_gib: int) -> dict[str, int]:
    memory = memory_gib * _GIB
    return {
        CPU: (cores - 1) * 1000,
        MEMORY: memory - memory // 20,
        EPHEMERAL_STORAGE: 1024 * _GIB,
        PODS: DEFAULT_PODS,
    }


def _cpu_node(name: str, cores: int) -> NodeInfo:
    return NodeInfo(
        name=name,
        labels=_base_labels(name),
        taints=(),
        unschedulable=False,
        allocatable=_sizes(max(cores, 2), max(cores, 2) * MEMORY_GIB_PER_CORE),
    )


def _gpu_node(name: str, gpu: Gpu, gpus: int, mig: str) -> NodeInfo:
    labels = _base_labels(name)
    major, _, minor = gpu.compute_capability.partition(".")
    labels.update(
        {
            "nvidia.com/gpu.present": "true",
            "nvidia.com/gpu.product": gpu.product,
            "nvidia.com/gpu.count": str(gpus),
            "nvidia.com/gpu.memory": str(gpu.memory_mib),
            "nvidia.com/gpu.replicas": "1",
            "nvidia.com/gpu.sharing-strategy": "none",
            "nvidia.com/gpu.compute.major": major,
            "nvidia.com/gpu.compute.minor": minor or "0",
            "nvidia.com/gpu.machine": "synthetic",
            "nvidia.com/mig.capable": "true"
            if "A100" in gpu.id or "H" in gpu.id
            else "false",
        }
    )
    family = _family(gpu)
    if family:
        labels["nvidia.com/gpu.family"] = family
    if mig:
        labels["nvidia.com/mig.config"] = mig
    allocatable = _sizes(CPUS_PER_GPU * gpus, MEMORY_GIB_PER_GPU * gpus)
    allocatable[NVIDIA_GPU] = gpus
    return NodeInfo(
        name=name,
        labels=labels,
        taints=(GPU_TAINT,),
        unschedulable=False,
        allocatable=allocatable,
        mig_layout=mig,
    )
