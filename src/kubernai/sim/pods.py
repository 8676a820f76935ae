"""A pod as the simulator sees it: identity, requests, priority and its constraints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubernai.model.gpu import Taint, Toleration
from kubernai.model.resource import get_str, iter_maps
from kubernai.sim.requests import PodRequest, spec_request

DEFAULT_SCHEDULER = "default-scheduler"
UNSCHEDULABLE_TAINT = Taint("node.kubernetes.io/unschedulable", "", "NoSchedule")


@dataclass(frozen=True, slots=True)
class HostPort:
    """A ``hostPort`` a container asks for (``NodePorts`` filter)."""

    protocol: str
    ip: str
    port: int

    def conflicts(self, other: HostPort) -> bool:
        """Kubernetes' ``HostPortInfo.CheckConflict``: 0.0.0.0 overlaps any IP."""
        if self.port != other.port or self.protocol != other.protocol:
            return False
        wildcard = "0.0.0.0"
        return self.ip == other.ip or wildcard in (self.ip, other.ip)


@dataclass(frozen=True, slots=True)
class PodShape:
    """What every pod of one template shares; filters and scores are cached on it."""

    spec: Mapping[str, Any]
    request: PodRequest
    tolerations: tuple[Toleration, ...]
    host_ports: tuple[HostPort, ...]
    node_name: str
    scheduler_name: str
    cache: dict[Any, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def has_pod_affinity(self) -> bool:
        """Whether the spec has ``podAffinity`` or ``podAntiAffinity``."""
        affinity = self.spec.get("affinity")
        return isinstance(affinity, Mapping) and bool(
            affinity.get("podAffinity") or affinity.get("podAntiAffinity")
        )

    @property
    def tolerates_unschedulable(self) -> bool:
        """Whether the pod tolerates ``node.kubernetes.io/unschedulable:NoSchedule``."""
        return any(t.tolerates(UNSCHEDULABLE_TAINT) for t in self.tolerations)


def read_tolerations(spec: Mapping[str, Any]) -> tuple[Toleration, ...]:
    """The tolerations of a pod spec; entries of the wrong shape are skipped."""
    found = []
    for index, raw in iter_maps(spec, "tolerations"):
        value = raw.get("value")
        found.append(
            Toleration(
                index=index,
                key=get_str(raw, "key"),
                operator=get_str(raw, "operator"),
                value="" if value is None else str(value),
                effect=get_str(raw, "effect"),
            )
        )
    return tuple(found)


def read_host_ports(spec: Mapping[str, Any]) -> tuple[HostPort, ...]:
    """Host ports of the app and init containers (``hostPort`` > 0)."""
    found = []
    for key in ("initContainers", "containers"):
        for _, container in iter_maps(spec, key):
            for _, port in iter_maps(container, "ports"):
                number = port.get("hostPort")
                if (
                    isinstance(number, int)
                    and not isinstance(number, bool)
                    and number > 0
                ):
                    found.append(
                        HostPort(
                            get_str(port, "protocol") or "TCP",
                            get_str(port, "hostIP") or "0.0.0.0",
                            number,
                        )
                    )
    return tuple(found)


def make_shape(spec: Mapping[str, Any]) -> PodShape:
    """Read the scheduling-relevant fields of a pod spec once."""
    return PodShape(
        spec=spec,
        request=spec_request(spec),
        tolerations=read_tolerations(spec),
        host_ports=read_host_ports(spec),
        node_name=get_str(spec, "nodeName"),
        scheduler_name=get_str(spec, "schedulerName") or DEFAULT_SCHEDULER,
    )


class SimPod:
    """One pod: running in the cluster, or created from a submitted workload."""

    __slots__ = (
        "gang",
        "label_key",
        "labels",
        "name",
        "namespace",
        "node",
        "order",
        "owner_selector",
        "preempts",
        "priority",
        "shape",
        "start_time",
        "workload",
    )

    def __init__(
        self,
        *,
        namespace: str,
        name: str,
        workload: str,
        shape: PodShape,
        labels: Mapping[str, Any],
        priority: int,
        preempts: bool,
        order: int,
        start_time: float = 0.0,
        gang: str = "",
        owner_selector: Mapping[str, Any] | None = None,
    ) -> None:
        self.namespace = namespace
        self.name = name
        self.workload = workload
        """``Kind/name`` of the workload that made the pod (``Pod/x``: a bare pod)."""
        self.shape = shape
        self.labels = labels
        self.priority = priority
        self.preempts = preempts
        """False for ``preemptionPolicy: Never``."""
        self.order = order
        """Creation order: the queue's tie-break after priority."""
        self.start_time = start_time
        """``status.startTime`` as a number (earlier is smaller); victim ordering."""
        self.gang = gang
        self.owner_selector = owner_selector
        """The selector of the ReplicaSet/StatefulSet/Service that owns the pod
        (PodTopologySpread's system default constraints use it)."""
        self.label_key: Any = None
        self.node = -1
        """Index of the node the pod is bound to, -1 while pending."""

    @property
    def key(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    def __repr__(self) -> str:
        return f"SimPod({self.key}, priority={self.priority}, node={self.node})"
