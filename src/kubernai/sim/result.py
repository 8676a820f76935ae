"""What a simulation found: per pod, per gang, per node, and a summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEDULED = "Scheduled"
PENDING = "Pending"
REJECTED = "Rejected"
PREEMPTED = "Preempted"


@dataclass(slots=True)
class PodResult:
    """One submitted (or pending cluster) pod's outcome."""

    namespace: str
    name: str
    workload: str
    priority: int
    status: str = PENDING
    node: str | None = None
    message: str | None = None
    nominated_node: str | None = None
    victims: list[str] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    filter: dict[str, str] | None = None
    scores: dict[str, dict[str, int]] | None = None

    def to_json(self, *, explain: bool) -> dict[str, Any]:
        """The JSON object of this pod."""
        found: dict[str, Any] = {
            "namespace": self.namespace,
            "name": self.name,
            "workload": self.workload,
            "status": self.status,
            "priority": self.priority,
            "node": self.node,
            "message": self.message,
            "nominated_node": self.nominated_node,
            "victims": self.victims,
        }
        if explain:
            found["filter"] = self.filter or {}
            found["scores"] = self.scores or {}
        return found


@dataclass(slots=True)
class GangResult:
    """A gang (PodGroup) and whether it runs."""

    namespace: str
    name: str
    queue: str
    min_member: int
    pods: int
    scheduled: int
    phase: str
    message: str

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this gang."""
        return {
            "namespace": self.namespace,
            "name": self.name,
            "queue": self.queue,
            "min_member": self.min_member,
            "pods": self.pods,
            "scheduled": self.scheduled,
            "phase": self.phase,
            "message": self.message,
        }


@dataclass(slots=True)
class NodeUse:
    """One node's accelerator use at the end of the simulation."""

    name: str
    product: str
    resources: dict[str, tuple[int, int]]
    """Accelerator resource → (requested, allocatable)."""
    pods: int


@dataclass(slots=True)
class SimulationResult:
    """Everything a run reports."""

    pods: list[PodResult]
    gangs: list[GangResult]
    nodes: list[NodeUse]
    summary: dict[str, Any]
    preempted: list[str] = field(default_factory=list)

    def to_json(self, *, explain: bool = False) -> dict[str, Any]:
        """The ``--format json`` document."""
        return {
            "pods": [p.to_json(explain=explain) for p in self.pods],
            "gangs": [g.to_json() for g in self.gangs],
            "nodes": [
                {
                    "name": n.name,
                    "product": n.product,
                    "pods": n.pods,
                    "accelerators": {
                        k: {"requested": used, "allocatable": total}
                        for k, (used, total) in n.resources.items()
                    },
                }
                for n in self.nodes
            ],
            "summary": self.summary,
        }
