"""The bundled examples: each deliberate mistake is found, nothing else is."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import yaml

from kubernai.cli.main import main
from tests.conftest import ROOT

# (file, code) of every finding expected, once per finding: the DeepSpeed job
# is reported once for each of its two replica templates (Master and Worker).
EXPECTED = Counter(
    [
        ("examples/cluster/quota-ml-training.yaml", "CLU005"),
        ("examples/cluster/limitrange-ml-training.yaml", "CLU006"),
        ("examples/cluster/dcgm-exporter.yaml", "OPS032"),
        ("examples/serving/embeddings.yaml", "CLU001"),
        ("examples/serving/reranker.yaml", "CLU003"),
        ("examples/serving/llm-gateway.yaml", "CLU002"),
        ("examples/serving/summarizer-l4.yaml", "SRV051"),
        ("examples/serving/llama-3.1-8b-ingress.yaml", "SRV041"),
        ("examples/training/eval-job.yaml", "CLU004"),
        ("examples/training/corpus-embedding-job.yaml", "CLU059"),
        ("examples/training/reward-model-deepspeed.yaml", "TRN020"),
        ("examples/training/reward-model-deepspeed.yaml", "TRN020"),
    ]
)


def test_examples_report_exactly_the_deliberate_mistakes(monkeypatch):
    monkeypatch.chdir(ROOT)
    out = io.StringIO()
    code = main(["check", "--no-config", "-f", "json", "examples/"], stdout=out)
    report = json.loads(out.getvalue())
    assert code == 1
    assert Counter((f["file"], f["code"]) for f in report["findings"]) == EXPECTED
    assert report["summary"]["suppressed"] == 1
    assert report["errors"] == []


def test_readme_states_the_summary_line(monkeypatch):
    monkeypatch.chdir(ROOT)
    out = io.StringIO()
    main(["check", "--no-config", "examples/"], stdout=out)
    summary = out.getvalue().strip().splitlines()[-1]
    readme = (ROOT / "examples" / "README.md").read_text(encoding="utf-8")
    assert f"Expected summary: `{summary}`." in readme


def test_every_deliberate_mistake_is_marked_and_listed_in_the_readme():
    readme = (ROOT / "examples" / "README.md").read_text(encoding="utf-8")
    for file, code in EXPECTED:
        text = (ROOT / file).read_text(encoding="utf-8")
        assert f"MISTAKE ({code})" in text, file
        assert f"`{Path(file).relative_to('examples').as_posix()}`" in readme, file
        assert code in readme, code


def test_every_example_file_parses():
    files = sorted((ROOT / "examples").rglob("*.yaml"))
    assert files
    for path in files:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        assert docs, path
        for doc in docs:
            assert doc.get("apiVersion"), path
            assert doc.get("kind"), path
