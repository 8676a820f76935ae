"""``kubernai simulate`` in-process: arguments, output formats, exit codes."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from kubernai.cli.simulate import add_simulate_command, run_simulate
from kubernai.errors import InputError

SUBMIT = """\
apiVersion: batch/v1
kind: Job
metadata: {name: train, namespace: ml}
spec:
  parallelism: 3
  template:
    spec:
      tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
      containers:
      - name: trainer
        resources: {requests: {cpu: "8", memory: 64Gi}, limits: {nvidia.com/gpu: "4"}}
"""


def _run(argv: list[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    add_simulate_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["simulate", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = run_simulate(args, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def submit(tmp_path: Path) -> str:
    path = tmp_path / "job.yaml"
    path.write_text(SUBMIT)
    return str(path)


def test_json_places_pods_on_synthesised_nodes(submit):
    code, out, _ = _run(
        ["--nodes", "1xNVIDIA-H100-80GB-HBM3:8", "--submit", submit, "-f", "json"]
    )
    document = json.loads(out)
    assert code == 1
    placed = [p for p in document["pods"] if p["node"]]
    pending = [p for p in document["pods"] if not p["node"]]
    assert len(placed) == 2
    assert len(pending) == 1
    assert pending[0]["message"].startswith(
        "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
    )
    assert document["summary"]["accelerators"]["nvidia.com/gpu"]["requested"] == 8
    assert "filter" not in document["pods"][0]


def test_explain_adds_filter_reasons_and_scores(submit):
    code, out, _ = _run(
        ["--nodes", "2xNVIDIA-H100-80GB-HBM3:8", "--nodes", "1xcpu", "--submit", submit,
         "-f", "json", "--explain"]
    )  # fmt: skip
    assert code == 0
    first = json.loads(out)["pods"][0]
    assert first["filter"] == {"cpu-0": "Insufficient nvidia.com/gpu"}
    assert set(first["scores"]) == {"h100-sxm-0", "h100-sxm-1"}
    assert "total" in first["scores"]["h100-sxm-0"]


def test_text_report(submit):
    code, out, _ = _run(["--nodes", "1xH100:8", "--submit", submit])
    assert code == 1
    assert "Scheduled:" in out
    assert "Pending:" in out
    assert "Accelerator use per node:" in out
    assert "nvidia.com/gpu 8/8" in out


def test_seed_is_reported_and_repeatable(submit):
    argv = ["--nodes", "4xH100:8", "--submit", submit, "-f", "json", "--seed", "7"]
    assert _run(argv)[1] == _run(argv)[1]
    assert json.loads(_run(argv)[1])["summary"]["seed"] == 7


def test_scheduler_config_changes_strategy(submit, tmp_path):
    config = tmp_path / "sched.yaml"
    config.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\n"
        "kind: KubeSchedulerConfiguration\n"
        "profiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n    args:\n"
        "      scoringStrategy: {type: MostAllocated}\n"
    )
    code, out, _ = _run(
        ["--nodes", "3xH100:8", "--submit", submit, "-f", "json", "--scheduler-config",
         str(config)]
    )  # fmt: skip
    nodes = [p["node"] for p in json.loads(out)["pods"]]
    assert code == 0
    assert nodes[0] == nodes[1]  # bin packing puts the second pod beside the first


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (["--nodes", "1xH100"], "needs --submit"),
        (["--nodes", "2xWhatever:8", "--submit", "x.yaml"], "unknown GPU"),
        (["--nodes", "lots", "--submit", "x.yaml"], "expected COUNTxPRODUCT"),
    ],
)
def test_usage_errors(argv, text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.yaml").write_text(SUBMIT)
    with pytest.raises(InputError, match=text):
        _run(argv)


def test_missing_cluster_and_nodes(submit):
    with pytest.raises(InputError, match="--cluster PATH or --nodes SPEC"):
        _run(["--submit", submit])
