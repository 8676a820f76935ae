from __future__ import annotations

import json

import jsonschema
import pytest

from kubernai.config import Config
from kubernai.engine import run, select_rules
from kubernai.load.files import LoadResult, load_text
from kubernai.report.sarif import render_sarif
from kubernai.report.text import render_text
from tests.conftest import SHARED, require_shared

MANIFEST = """\
apiVersion: v1
kind: ResourceQuota
metadata: {name: q, namespace: team-a}
spec:
  hard:
    limits.nvidia.com/gpu: "8"
---
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - name: c
      resources: {limits: {nvidia.com/gpus: 1}}
---
broken: [
"""


def report_for(text: str):
    loaded = LoadResult()
    load_text(text, "deploy/my manifests.yaml", result=loaded)
    config = Config()
    return run(loaded, config=config, rules=select_rules(config))


@pytest.fixture(scope="module")
def sarif_schema():
    path = require_shared(SHARED / "reference" / "sarif-schema-2.1.0.json")
    return json.loads(path.read_text())


@pytest.mark.parametrize("text", [MANIFEST, "apiVersion: v1\nkind: ConfigMap\n"])
def test_sarif_is_valid(sarif_schema, text):
    log = json.loads(render_sarif(report_for(text)))
    jsonschema.validate(log, sarif_schema)
    run_ = log["runs"][0]
    assert isinstance(run_["results"], list)
    assert run_["tool"]["driver"]["name"] == "kubernai"


def test_sarif_results_point_at_fields():
    log = json.loads(render_sarif(report_for(MANIFEST)))
    run_ = log["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    by_rule = {r["ruleId"]: r for r in run_["results"]}
    quota = by_rule["CLU005"]
    location = quota["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "deploy/my%20manifests.yaml"
    assert location["region"]["startLine"] == 6
    assert quota["level"] == "error"
    assert rules[quota["ruleIndex"]]["id"] == "CLU005"
    assert (
        "resource-quotas-for-gpu-namespaces"
        in rules[quota["ruleIndex"]]["help"]["markdown"]
    )
    assert quota["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == (
        "ResourceQuota team-a/q"
    )
    assert (
        by_rule["KAI001"]["locations"][0]["physicalLocation"]["region"]["startLine"]
        >= 16
    )


def test_text_groups_by_file_and_summarises():
    text = render_text(report_for(MANIFEST))
    lines = text.splitlines()
    assert lines[0] == "deploy/my manifests.yaml"
    assert lines[-1].startswith("3 errors, 0 warnings, 0 info in 1 file (2 objects")
