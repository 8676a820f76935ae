"""kubernai: the mechanism reference for AI workloads on Kubernetes, made executable.

The public API is small and loads its modules on first use, so that
``import kubernai`` and ``kubernai --version`` stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubernai._version import __version__

if TYPE_CHECKING:
    from kubernai.api import lint, load_paths
    from kubernai.rules.base import Finding, Severity

__all__ = ["Finding", "Severity", "__version__", "lint", "load_paths"]

_LAZY = {
    "Finding": "kubernai.rules.base",
    "Severity": "kubernai.rules.base",
    "lint": "kubernai.api",
    "load_paths": "kubernai.api",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kubernai' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
