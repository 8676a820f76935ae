"""Whether a pod template asks for an RDMA / GPUDirect network.

NCCL sends inter-node traffic over InfiniBand, RoCE, AWS EFA or GKE's
GPUDirect-TCPX only when the container can see those devices; otherwise it
falls back to TCP sockets on the pod network. A pod gets the devices in one
of these ways (``data/rdma_fabric.json`` lists the names and their sources):

- an extended resource of an RDMA device plugin (``vpc.amazonaws.com/efa``,
  ``rdma/*``, GKE's ``networking.gke.io.networks/*``, SR-IOV / host-device
  resources);
- a secondary network annotation (Multus ``k8s.v1.cni.cncf.io/networks``,
  GKE multi-networking, GPUDirect-TCPX device annotations);
- the node's own devices: ``hostNetwork: true`` or a privileged container
  (which sees ``/dev/infiniband``);
- Dynamic Resource Allocation claims (``spec.resourceClaims``), which may
  carry RDMA NICs (DRANET) or NVLink domains;
- environment variables that configure such a transport (``NCCL_IB_*``,
  ``NCCL_NET``, ``FI_PROVIDER``...), taken as the author's statement that
  one is there.

Anything here makes the fabric *possible*; only its complete absence is
reported by rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from kubernai.model.resource import get_list, get_map, get_str, iter_maps
from kubernai.model.workload import PodTemplate, memoised


@dataclass(frozen=True, slots=True)
class _Fabric:
    names: frozenset[str]
    prefixes: tuple[str, ...]
    substrings: tuple[str, ...]
    annotations: frozenset[str]
    annotation_prefixes: tuple[str, ...]
    env_names: frozenset[str]
    env_prefixes: tuple[tuple[str, frozenset[str]], ...]


@cache
def _fabric() -> _Fabric:
    text = (
        resources.files("kubernai").joinpath("data/rdma_fabric.json").read_text("utf-8")
    )
    data: dict[str, Any] = json.loads(text)
    return _Fabric(
        names=frozenset(item["name"] for item in data["resource_names"]),
        prefixes=tuple(item["prefix"] for item in data["resource_prefixes"]),
        substrings=tuple(item["substring"] for item in data["resource_substrings"]),
        annotations=frozenset(item["key"] for item in data["pod_annotations"]),
        annotation_prefixes=tuple(
            item["prefix"] for item in data["pod_annotation_prefixes"]
        ),
        env_names=frozenset(item["name"] for item in data["env_names"]),
        env_prefixes=tuple(
            (item["prefix"], frozenset(item.get("except", ())))
            for item in data["env_prefixes"]
        ),
    )


def is_fabric_resource(name: str) -> bool:
    """Whether an extended resource name is an RDMA / GPUDirect network device."""
    fabric = _fabric()
    lowered = name.lower()
    if lowered in fabric.names or lowered.startswith(fabric.prefixes):
        return True
    return any(part in lowered for part in fabric.substrings)


def _fabric_env(name: str) -> bool:
    fabric = _fabric()
    if name in fabric.env_names:
        return True
    return any(
        name.startswith(prefix) and name not in excluded
        for prefix, excluded in fabric.env_prefixes
    )


def rdma_signal(template: PodTemplate) -> str:
    """What gives the template's pods an RDMA / GPUDirect network, or ``""``.

    Computed once per template.
    """
    return memoised(template, "rdma_signal", lambda: _rdma_signal(template))


def _rdma_signal(template: PodTemplate) -> str:
    fabric = _fabric()
    spec = template.spec
    if spec.get("hostNetwork") is True:
        return "hostNetwork: true"
    if get_list(spec, "resourceClaims"):
        return "spec.resourceClaims (DRA devices)"
    for key in template.annotations:
        if not isinstance(key, str):
            continue
        if key in fabric.annotations or key.startswith(fabric.annotation_prefixes):
            return f"annotation {key}"
    for container in template.containers:
        for name in container.names:
            if is_fabric_resource(name):
                return f"{container.label} requests {name}"
        if get_map(container.raw, "securityContext").get("privileged") is True:
            return f"{container.label} is privileged"
        for _, item in iter_maps(container.raw, "env"):
            name = get_str(item, "name")
            if name and _fabric_env(name):
                return f"{container.label} sets {name}"
        if get_list(container.raw, "resources", "claims"):
            return f"{container.label} uses resource claims"
    return ""
