"""A rule that declares ``requires`` finds nothing where a required feature is absent.

The engine does not call such a rule on an object that lacks one of its
features. These tests call it anyway, on every case manifest and every
example, and check that each skipped call would have found nothing (and
would not have crashed): skipping it changes no report.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pytest
import yaml

from kubernai.config import Config, parse_config
from kubernai.load.files import LoadResult, load_paths, load_text
from kubernai.model.features import FEATURES, has_feature
from kubernai.model.graph import ObjectGraph
from kubernai.rules.base import Rule
from kubernai.rules.catalog import all_rules
from tests.rules.cases import all_cases

EXAMPLES = Path(__file__).parents[2] / "examples"
GATED = [rule() for rule in all_rules().values() if rule.requires]


def _skipped_calls(
    loaded: LoadResult, config: Config, rules: Iterable[Rule]
) -> list[str]:
    """What the rules find in the objects that lack a feature they require."""
    graph = ObjectGraph(loaded.resources, facts=config.facts)
    found: list[str] = []
    for resource in graph.resources:
        for rule in rules:
            missing = sorted(f for f in rule.requires if not has_feature(resource, f))
            if not missing:
                continue
            try:
                messages = [f.message for f in rule.check(resource, graph)]
            except Exception as exc:  # noqa: BLE001 - a crash the engine would report
                messages = [f"crashed: {exc!r}"]
            found.extend(
                f"{rule.code} on {resource.display()} without {missing}: {m}"
                for m in messages
            )
    return found


def test_gated_rules_declare_known_features():
    assert GATED, "no rule declares requires"
    for rule in GATED:
        assert rule.requires <= FEATURES.keys(), rule.code


@cache
def _loaded_cases() -> list[tuple[str, LoadResult, Config]]:
    found = []
    for case in all_cases():
        config = (
            parse_config(yaml.safe_dump(case.config), "case-config")
            if case.config is not None
            else Config()
        )
        loaded = LoadResult()
        load_text(case.text, "case.yaml", result=loaded)
        found.append((case.id, loaded, config))
    return found


@pytest.mark.parametrize("rule", GATED, ids=[r.code for r in GATED])
def test_skipped_calls_find_nothing_in_cases(rule: Rule):
    found = [
        f"{case}: {line}"
        for case, loaded, config in _loaded_cases()
        for line in _skipped_calls(loaded, config, [rule])
    ]
    assert found == []


def test_skipped_calls_find_nothing_in_examples():
    loaded = load_paths([str(EXAMPLES)])
    assert loaded.resources
    assert _skipped_calls(loaded, Config(), GATED) == []
