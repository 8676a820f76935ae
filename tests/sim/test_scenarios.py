"""Golden scenarios: a cluster, submissions, and the outcome kube-scheduler would give.

Each ``scenarios/*.yaml`` holds ``cluster`` and ``submit`` (YAML text),
optional ``nodes`` (``--nodes`` specs), ``scheduler_config`` (YAML text),
``k8s_version``, ``seed``, and ``expect``: per pod (``namespace/name``) any of
``status``, ``node``, ``message``, ``nominated_node``, ``victims``; per gang
``phase``, ``scheduled``, ``message``; and ``summary`` fields. Only the keys
written are compared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kubernai.load.files import LoadResult, load_text
from kubernai.sim import Options, Profile, simulate
from kubernai.sim.profile import load_profile

SCENARIOS = Path(__file__).parent / "scenarios"
KEYS = {"description", "cluster", "submit", "nodes", "scheduler_config",
        "k8s_version", "seed", "expect"}  # fmt: skip


def _load(text: str, name: str) -> list[Any]:
    result = LoadResult()
    load_text(text, name, result=result)
    assert not result.invalid, result.invalid
    return result.resources


def run_scenario(case: dict[str, Any], tmp_path: Path):
    profile = Profile()
    if case.get("scheduler_config"):
        config = tmp_path / "scheduler.yaml"
        config.write_text(case["scheduler_config"])
        profile = load_profile(str(config))
    version = int(str(case.get("k8s_version", "1.33")).split(".")[1])
    return simulate(
        _load(case.get("cluster", ""), "cluster.yaml"),
        _load(case.get("submit", ""), "submit.yaml"),
        nodes=case.get("nodes", []),
        profile=profile,
        options=Options(version=version, seed=case.get("seed", 0), explain=True),
    )


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_scenario(path: Path, tmp_path: Path):
    case = yaml.safe_load(path.read_text("utf-8"))
    assert set(case) <= KEYS, set(case) - KEYS
    result = run_scenario(case, tmp_path)
    document = result.to_json(explain=True)
    pods = {f"{p['namespace']}/{p['name']}": p for p in document["pods"]}
    expect = case["expect"]
    for key, wanted in (expect.get("pods") or {}).items():
        assert key in pods, f"{key} not in {sorted(pods)}"
        got = {k: pods[key][k] for k in wanted}
        assert got == wanted, key
    gangs = {f"{g['namespace']}/{g['name']}": g for g in document["gangs"]}
    for key, wanted in (expect.get("gangs") or {}).items():
        got = {k: gangs[key][k] for k in wanted}
        assert got == wanted, key
    summary = expect.get("summary") or {}
    assert {k: document["summary"][k] for k in summary} == summary
