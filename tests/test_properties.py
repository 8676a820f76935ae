"""Property tests: arbitrary input never crashes the loader, the accessors or the rules."""

from __future__ import annotations

from collections.abc import Mapping

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubernai.config import Config
from kubernai.engine import run, select_rules
from kubernai.load.files import LoadResult, load_bytes, load_text
from kubernai.model.resource import Resource, Source, get_path
from kubernai.model.workload import WORKLOADS

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(
        ["nvidia.com/gpu", "1", "0.5", "500m", "Exists", "NoSchedule", "$GPUS"]
    ),
)
keys = st.one_of(
    st.text(max_size=8),
    st.sampled_from(
        [
            "spec", "template", "containers", "initContainers", "resources", "limits",
            "requests", "nvidia.com/gpu", "tolerations", "key", "operator", "effect",
            "hard", "limits.nvidia.com/gpu", "default", "type", "replicas", "tasks",
            "pytorchReplicaSpecs", "Worker", "predictor", "model", "nodeSelector",
            "workerGroupSpecs", "headGroupSpec", "leaderWorkerTemplate", "workerTemplate",
            "replicatedJobs", "metadata", "annotations", "labels", "trainer",
        ]
    ),
)  # fmt: skip
trees = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)
    ),
    max_leaves=40,
)
kinds = st.sampled_from([*sorted(WORKLOADS), ("", "ResourceQuota"), ("", "LimitRange")])


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_loader_never_raises_on_bytes(data):
    result = LoadResult()
    load_bytes(data, "fuzz.yaml", result=result)
    for problem in result.invalid:
        assert problem.line >= 1
        assert problem.reason


@settings(max_examples=200)
@given(st.text(max_size=300))
def test_loader_never_raises_on_text(text):
    result = LoadResult()
    load_text(text, "fuzz.yaml", result=result)
    for resource in result.resources:
        assert resource.line_of(("spec", "x", 0)) >= 1


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(kinds, trees)
def test_rules_never_crash_on_arbitrary_objects(kind, spec):
    group, name = kind
    obj = {
        "apiVersion": f"{group}/v1" if group else "v1",
        "kind": name,
        "metadata": {"name": "x"},
        "spec": spec,
    }
    loaded = LoadResult()
    load_text(yaml.safe_dump(obj), "fuzz.yaml", result=loaded)
    config = Config()
    report = run(loaded, config=config, rules=select_rules(config))
    assert [f for f in report.findings if f.code == "KAI002"] == []


@given(trees, st.lists(st.one_of(keys, st.integers(-2, 5)), max_size=6))
def test_get_path_is_total(tree, path):
    get_path(tree, *path)


@settings(max_examples=200)
@given(kinds, trees)
def test_workload_table_is_total(kind, spec):
    group, name = kind
    raw = {"apiVersion": f"{group}/v1" if group else "v1", "kind": name, "spec": spec}
    resource = Resource(raw=raw, source=Source(file="f", line=1))
    for template in resource.templates:
        assert get_path(raw, *template.path) is template.spec or not template.spec
        for container in template.containers:
            assert container.path[: len(template.path)] == template.path
            assert isinstance(container.limits, Mapping)
            assert isinstance(container.requests, Mapping)
