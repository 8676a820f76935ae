"""What kubernai assumes about the cluster, set from ``.kubernai.yaml``."""

from __future__ import annotations

from dataclasses import dataclass, field

from kubernai.model.gpu import NVIDIA_GPU, Taint


@dataclass(frozen=True, slots=True)
class ClusterFacts:
    """Cluster facts that checks depend on.

    The default GPU taint is ``nvidia.com/gpu:NoSchedule`` with the value left
    unknown: GKE uses ``present``, EKS examples ``true``.
    """

    gpu_taint: Taint = field(
        default_factory=lambda: Taint(NVIDIA_GPU, None, "NoSchedule")
    )
    extended_resource_toleration: bool = False
    kubernetes_version: str = ""
    gpu_product: str = ""
    configured: bool = False
    """Whether a config file said anything about the cluster."""

    @property
    def assumed(self) -> bool:
        """True when no config set cluster facts: the defaults are assumptions."""
        return not self.configured
