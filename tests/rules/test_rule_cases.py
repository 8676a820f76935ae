"""One parametrised runner for every case of every rule."""

from __future__ import annotations

import pytest
import yaml

from kubernai.config import Config, parse_config
from kubernai.engine import run, select_rules
from kubernai.load.files import LoadResult, load_text
from tests.rules.cases import Case, all_cases

CASES = all_cases()


def run_case(case: Case):
    config = (
        parse_config(yaml.safe_dump(case.config), "case-config")
        if case.config is not None
        else Config()
    )
    loaded = LoadResult()
    load_text(case.text, "case.yaml", result=loaded)
    report = run(loaded, config=config, rules=select_rules(config, only=[case.rule]))
    crashes = [f for f in report.findings if f.code == "KAI002"]
    assert not crashes, crashes
    return [f for f in report.findings if f.code == case.rule]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule_case(case: Case):
    if case.skip:
        pytest.skip(case.skip)
    found = run_case(case)
    if not case.should_fail:
        assert found == [], [f"{f.line}: {f.message}" for f in found]
        return
    assert found, f"{case.id}: expected {case.rule} to fire"
    if not case.expect:
        return
    assert len(found) == len(case.expect), [
        f"{f.line} {f.path}: {f.message}" for f in found
    ]
    for want, got in zip(case.expect, found, strict=True):
        if "path" in want:
            assert got.path == want["path"]
        if "line" in want:
            assert got.line == want["line"], got
        if "message" in want:
            assert want["message"] in got.message, got.message
        if "severity" in want:
            assert got.severity.value == want["severity"]
