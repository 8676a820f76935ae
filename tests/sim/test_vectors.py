"""The simulator against kube-scheduler's own test tables (scheduler_vectors.json)."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from functools import cache
from typing import Any

import numpy as np
import pytest

from kubernai.sim import messages as msg
from kubernai.sim.filters import check_row, diagnose
from kubernai.sim.preemption import Pdb, post_filter
from kubernai.sim.profile import FILTERS, Profile
from kubernai.sim.scheduler import Scheduler
from kubernai.sim.scorers import (
    affinity_raw,
    balanced_score,
    fit_score,
    taint_raw,
)
from kubernai.sim.scoring import broken_linear, default_normalize
from tests.conftest import SHARED, require_shared
from tests.sim import helpers

VECTORS = SHARED / "reference" / "scheduler_vectors.json"


@cache
def _all() -> dict[str, Any]:
    return json.loads(VECTORS.read_text("utf-8"))


def cases(section: str) -> list[Any]:
    """The cases of a section, or one placeholder that skips when ../shared is absent."""
    if not VECTORS.exists():
        return [pytest.param(None, id=f"{section}-absent")]
    return [pytest.param(c, id=c["id"]) for c in _all()[section]]


def _load(case: Any) -> dict[str, Any]:
    require_shared(VECTORS)
    return case


def _profile(args: dict[str, Any] | None) -> Profile:
    args = args or {}
    strategy = args.get("scoringStrategy") or {}
    resources = tuple(
        (r["name"], r.get("weight") or 1) for r in strategy.get("resources", [])
    )
    shape = tuple(
        (p["utilization"], p["score"])
        for p in (strategy.get("requestedToCapacityRatio") or {}).get("shape", [])
    )
    kwargs: dict[str, Any] = {}
    if strategy.get("type"):
        kwargs["strategy"] = strategy["type"]
    if resources:
        kwargs["fit_resources"] = resources
    if shape:
        kwargs["shape"] = shape
    if "resources" in args:
        kwargs["balanced_resources"] = tuple(r["name"] for r in args["resources"])
    if "addedAffinity" in args:
        kwargs["added_affinity"] = args["addedAffinity"]
    if "ignoredResourceGroups" in args:
        kwargs["ignored_groups"] = frozenset(args["ignoredResourceGroups"])
    return Profile(**kwargs)


def _scores(cluster, values) -> dict[str, int]:
    return {cluster.names[i]: int(v) for i, v in enumerate(values)}


@pytest.mark.parametrize(
    "case",
    cases("noderesources_least_allocated")
    + cases("noderesources_most_allocated")
    + cases("noderesources_requested_to_capacity_ratio")
    + cases("noderesources_fit_score"),
)
def test_fit_score(case):
    case = _load(case)
    expected = case["expected"]
    if expected.get("status_code") == "Error":
        pytest.skip("an empty resources list is defaulted before the plugin runs")
    if "validation_error" in expected:
        from kubernai.errors import InputError
        from kubernai.sim.profile import validate_fit_resources

        field = expected["validation_error"]["field"]
        with pytest.raises(
            InputError, match=field.replace("[", r"\[").replace("]", r"\]")
        ):
            validate_fit_resources(
                case["inputs"]["plugin_args"]["scoringStrategy"]["resources"]
            )
        return
    cluster, pod = helpers.cluster(case["inputs"])
    profile = _profile(case["inputs"].get("plugin_args"))
    rows = np.arange(cluster.n)
    assert (
        _scores(cluster, fit_score(cluster, pod, profile, rows)) == expected["scores"]
    )


@pytest.mark.parametrize("case", cases("noderesources_broken_linear_function"))
def test_broken_linear(case):
    case = _load(case)
    points = [(p["utilization"], p["score"]) for p in case["inputs"]["points"]]
    values = case["expected"]["values"]
    got = broken_linear(points, np.array([v["p"] for v in values], dtype=np.int64))
    assert [int(g) for g in got] == [v["f"] for v in values]


@pytest.mark.parametrize("case", cases("noderesources_balanced_allocation"))
@pytest.mark.parametrize("version", [32, 33])
def test_balanced_allocation(case, version):
    from kubernai.sim.scorers import balanced_skipped

    case = _load(case)
    expected = case["expected"]
    cluster, pod = helpers.cluster(case["inputs"])
    profile = _profile(case["inputs"].get("plugin_args"))
    skipped = balanced_skipped(pod, profile, version)
    scores = expected.get("scores")
    if scores is None:
        assert skipped == (version >= 33)
        scores = next(iter(expected.get("scores_by_version", {}).values()), None)
        if version >= 33 or scores is None:
            return
    got = balanced_score(cluster, pod, profile, np.arange(cluster.n))
    assert _scores(cluster, got) == scores


@pytest.mark.parametrize("case", cases("tainttoleration_score"))
def test_taint_score(case):
    case = _load(case)
    if case.get("feature_gates"):
        pytest.skip("Gt/Lt tolerations are a v1.35 alpha gate")
    cluster, pod = helpers.cluster(case["inputs"])
    got = default_normalize(taint_raw(cluster, pod), reverse=True)
    assert _scores(cluster, got) == case["expected"]["scores"]


@pytest.mark.parametrize("case", cases("nodeaffinity_score"))
def test_node_affinity_score(case):
    case = _load(case)
    cluster, pod = helpers.cluster(case["inputs"])
    profile = _profile(case["inputs"].get("plugin_args"))
    raw = affinity_raw(cluster, pod, profile)
    got = (
        np.zeros(cluster.n, dtype=np.int64)
        if raw is None
        else default_normalize(raw, reverse=False)
    )
    assert _scores(cluster, got) == case["expected"]["scores"]


def _single_node_reasons(case, version: int):
    cluster, pod = helpers.cluster(case["inputs"])
    profile = _profile(case["inputs"].get("plugin_args"))
    profile = dataclasses.replace(profile, filters=frozenset({case["plugin"]}))
    diagnosis = diagnose(cluster, pod, profile, version)
    row = cluster.n - 1
    return diagnosis, cluster, row, check_row(cluster, pod, profile, version, row)


@pytest.mark.parametrize("case", cases("noderesources_fit_filter"))
@pytest.mark.parametrize("version", [33, 34])
def test_fit_filter(case, version):
    case = _load(case)
    expected = case["expected"]
    diagnosis, cluster, row, reasons = _single_node_reasons(case, version)
    codes = expected["status_code_by_version"]
    want = next(v for k, v in codes.items() if ("v1.34+" in k) == (version >= 34))
    got = {0: "Success", 1: "Unschedulable", 2: "UnschedulableAndUnresolvable"}[
        int(diagnosis.code(row))
    ]
    assert got == want
    assert list(reasons) == expected.get("reasons", [])
    assert list(diagnosis.node_reasons(cluster, row)) == expected.get("reasons", [])


@pytest.mark.parametrize(
    "case", cases("tainttoleration_filter") + cases("nodeaffinity_filter")
)
def test_node_filters(case):
    case = _load(case)
    if case.get("feature_gates"):
        pytest.skip("Gt/Lt tolerations are a v1.35 alpha gate")
    expected = case["expected"]
    diagnosis, _, row, reasons = _single_node_reasons(case, 33)
    if expected["status_code"] == "Success":
        assert reasons == ()
        return
    want = (
        expected.get("reason")
        or expected["reason_by_version"]["v1.24-v1.34 (and early v1.34.x patches)"]
    )
    assert reasons == (want,)
    assert diagnosis.code(row) == msg.Code.UNRESOLVABLE


@pytest.mark.parametrize("case", cases("fit_error_message"))
def test_fit_error_message(case):
    case = _load(case)
    inputs = case["inputs"]
    reasons = Counter()
    if not inputs["prefilter_msg"]:
        for status in inputs["node_to_status"].values():
            reasons.update(status["reasons"])
    got = msg.fit_error(
        inputs["num_all_nodes"],
        reasons,
        prefilter=inputs["prefilter_msg"],
        postfilter=inputs["postfilter_msg"],
    )
    assert got == case["expected"]["message_by_version"]["v1.29+"]


def _scheduler(inputs, filters) -> tuple[Scheduler, Any]:
    cluster, pod = helpers.cluster(inputs)
    profile = Profile(filters=frozenset(filters))
    pdbs = [
        Pdb(
            namespace=p.get("namespace", ""),
            name=f"pdb{i}",
            selector=p.get("selector"),
            disrupted=frozenset(p.get("disruptedPods") or ()),
            allowed=p.get("disruptionsAllowed"),
        )
        for i, p in enumerate(inputs.get("pdbs") or [])
    ]
    return Scheduler(cluster, profile, version=33, pdbs=pdbs), pod


@pytest.mark.parametrize("case", cases("defaultpreemption_postfilter"))
def test_preemption_post_filter(case):
    case = _load(case)
    inputs = case["inputs"]
    scheduler, pod = _scheduler(inputs, inputs["registered_filters"])
    diagnosis = scheduler.diagnose(pod)
    statuses = inputs["filtered_node_statuses"]
    for row, name in enumerate(scheduler.cluster.names):
        code = statuses.get(name, inputs["absent_node_status"])
        diagnosis.unresolvable[row] = code == "UnschedulableAndUnresolvable"
        if diagnosis.stage[row] == 0:
            diagnosis.stage[row] = 8
    outcome = post_filter(scheduler, pod, diagnosis)
    expected = case["expected"]
    got = scheduler.cluster.names[outcome.row] if outcome.row >= 0 else ""
    assert got == expected["nominated_node"]
    if "message" in expected:
        assert outcome.message == expected["message"]


def _dry_run_filters(inputs) -> list[str]:
    registered = inputs["registered_filters"]
    return [f for f in FILTERS if f in registered]


@pytest.mark.parametrize("case", cases("defaultpreemption_dry_run"))
def test_preemption_dry_run(case):
    from kubernai.sim.preemption import select_victims

    case = _load(case)
    inputs = case["inputs"]
    scheduler, pod = _scheduler(inputs, _dry_run_filters(inputs))
    found = []
    for row, name in enumerate(scheduler.cluster.names):
        candidate = select_victims(scheduler, pod, row)
        if candidate is not None and candidate.victims:
            found.append(
                {
                    "node": name,
                    "victims": sorted(v.name for v in candidate.victims),
                    "num_pdb_violations": candidate.violations,
                }
            )
    assert found == case["expected"]["candidates"]


@pytest.mark.parametrize("case", cases("defaultpreemption_select_candidate"))
def test_preemption_select(case):
    case = _load(case)
    inputs = case["inputs"]
    scheduler, pod = _scheduler(inputs, inputs["registered_filters"])
    diagnosis = scheduler.diagnose(pod)
    outcome = post_filter(scheduler, pod, diagnosis)
    assert (
        scheduler.cluster.names[outcome.row]
        in case["expected"]["nominated_node_any_of"]
    )


@pytest.mark.parametrize("case", cases("derived_end_to_end"))
@pytest.mark.parametrize("version", [31, 32, 33, 34])
def test_end_to_end(case, version):
    case = _load(case)
    inputs = case["inputs"]
    scheduler, pod = _scheduler(inputs, FILTERS)
    scheduler.version = version
    attempt = scheduler.schedule(pod)
    by_version = case["expected"]["message_by_version"]
    keys = [k for k in by_version if version == 34 and k.startswith("v1.34")]
    keys += [k for k in by_version if k.startswith("v1.29")]
    key = keys[0]
    assert attempt.message == by_version[key]
    assert attempt.row == -1


def _topology_cluster(inputs):
    raw = dict(inputs)
    raw["existing_pods"] = [
        p for p in inputs.get("existing_pods", []) if not p.get("terminating")
    ]
    return helpers.cluster(raw)


@pytest.mark.parametrize("case", cases("podtopologyspread_filter"))
def test_spread_filter(case):
    case = _load(case)
    cluster, pod = _topology_cluster(case["inputs"])
    profile = Profile(filters=frozenset({"PodTopologySpread"}))
    diagnosis = diagnose(
        cluster, pod, profile, 33, Scheduler(cluster, profile).topology.filters(pod)
    )
    got = {}
    for row, name in enumerate(cluster.names):
        code = diagnosis.code(row)
        entry = {
            "status_code": {
                0: "Success",
                1: "Unschedulable",
                2: "UnschedulableAndUnresolvable",
            }[int(code)]
        }
        if code:
            entry["reason"] = diagnosis.node_reasons(cluster, row)[0]
        got[name] = entry
    assert got == case["expected"]["per_node"]


@pytest.mark.parametrize("case", cases("podtopologyspread_score"))
def test_spread_score(case):
    case = _load(case)
    inputs = case["inputs"]
    cluster, pod = _topology_cluster(inputs)
    scheduler = Scheduler(cluster, Profile())
    scored = [n["name"] for n in inputs["nodes"]]
    rows = np.array([cluster.index[n] for n in scored], dtype=np.intp)
    got = scheduler.topology.scores(pod, rows, {"PodTopologySpread": 2})
    values = got.get("PodTopologySpread", np.zeros(len(rows), dtype=np.int64))
    assert {n: int(v) for n, v in zip(scored, values, strict=True)} == case["expected"][
        "scores"
    ]
