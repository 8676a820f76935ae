"""The bundled examples: each deliberate mistake is found, nothing else is."""

from __future__ import annotations

import io
import json

from kubernai.cli.main import main
from tests.conftest import ROOT

EXPECTED = {
    ("examples/cluster/quota-ml-training.yaml", "CLU005"),
    ("examples/cluster/limitrange-ml-training.yaml", "CLU006"),
    ("examples/serving/embeddings.yaml", "CLU001"),
    ("examples/serving/reranker.yaml", "CLU003"),
    ("examples/serving/llm-gateway.yaml", "CLU002"),
    ("examples/training/eval-job.yaml", "CLU004"),
}


def test_examples_report_exactly_the_deliberate_mistakes(monkeypatch):
    monkeypatch.chdir(ROOT)
    out = io.StringIO()
    code = main(["check", "--no-config", "-f", "json", "examples/"], stdout=out)
    report = json.loads(out.getvalue())
    assert code == 1
    assert {(f["file"], f["code"]) for f in report["findings"]} == EXPECTED
    assert len(report["findings"]) == len(EXPECTED)
    assert report["summary"]["suppressed"] == 1
    assert report["errors"] == []
