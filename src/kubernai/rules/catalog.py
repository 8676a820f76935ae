"""Imports every rule module so that the registry is complete."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from kubernai.rules.base import REGISTRY, Rule

SECTIONS = ("tool", "serve", "train", "cluster", "operate")


@cache
def _import_all() -> None:
    for section in SECTIONS:
        try:
            package = importlib.import_module(f"kubernai.rules.{section}")
        except ModuleNotFoundError:
            continue
        for module in sorted(
            pkgutil.iter_modules(package.__path__), key=lambda m: m.name
        ):
            importlib.import_module(f"{package.__name__}.{module.name}")


def all_rules() -> dict[str, type[Rule]]:
    """Every registered rule by code, sorted by code."""
    _import_all()
    return dict(sorted(REGISTRY.items()))


def rule_for(key: str) -> type[Rule] | None:
    """A rule by code, name or alias (case-insensitive)."""
    rules = all_rules()
    wanted = key.strip()
    found = rules.get(wanted.upper())
    if found is not None:
        return found
    lowered = wanted.lower()
    for rule in rules.values():
        if rule.name == lowered or lowered in rule.aliases:
            return rule
    return None
