"""Which cluster-level objects of an input describe a workload's cluster.

A folder of manifests usually describes one cluster. When one input mixes
several repositories or environments, a ClusterPolicy or device-plugin config
is taken to apply to the workloads in its own folder and the folders below it,
not to everything in the run.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import PurePath

from kubernai.model.resource import Resource


@lru_cache(maxsize=4096)
def _folders(file: str) -> tuple[str, ...]:
    """A file's folder, then every folder above it."""
    folder = PurePath(file).parent
    return (str(folder), *(str(parent) for parent in folder.parents))


def describes(cluster_object: Resource, workload: Resource) -> bool:
    """Whether the workload's file is in the cluster object's folder or below it."""
    return _folders(cluster_object.source.file)[0] in _folders(workload.source.file)
