"""Imports every rule module so that the registry is complete."""

from __future__ import annotations

from kubernai.rules.base import REGISTRY, Rule
from kubernai.rules.cluster import (  # noqa: F401 - imported to register
    cpu_pod_tolerates_gpu_taint,
    gpu_pod_without_gpu_toleration,
    invalid_gpu_request,
    limitrange_default_gpu,
    misspelled_gpu_resource,
    quota_gpu_key_not_enforced,
)
from kubernai.rules.tool import internal_error, invalid_manifest  # noqa: F401


def all_rules() -> dict[str, type[Rule]]:
    """Every registered rule by code, sorted by code."""
    return dict(sorted(REGISTRY.items()))
