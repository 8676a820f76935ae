"""The whole third-party corpus: no internal error, no traceback, nothing lost silently."""

from __future__ import annotations

import io
import json

import pytest

from kubernai.cli.main import main
from tests.conftest import CORPUS, require_shared


@pytest.fixture(scope="module")
def corpus_report():
    require_shared(CORPUS)
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["check", "--no-config", "-f", "json", str(CORPUS)], stdout=out, stderr=err
    )
    return code, json.loads(out.getvalue()), err.getvalue()


def test_corpus_has_no_internal_error(corpus_report):
    code, report, err = corpus_report
    assert code in (0, 1)
    assert "Traceback" not in err
    assert [f for f in report["findings"] if f["code"] == "KAI002"] == []


def test_corpus_is_read_whole(corpus_report):
    _, report, _ = corpus_report
    summary = report["summary"]
    # 442 objects parse with PyYAML's own loader; a few unrendered Helm templates that
    # happen to parse are refused here as invalid-manifest instead.
    assert summary["objects"] >= 430
    assert summary["files"] >= 370
    for error in report["errors"]:
        assert error["line"] >= 1
        assert error["message"]


def test_every_corpus_finding_points_inside_its_file(corpus_report):
    _, report, _ = corpus_report
    for finding in report["findings"]:
        path = finding["file"]
        if path.startswith(str(CORPUS)):
            with open(path, "rb") as handle:
                lines = handle.read().count(b"\n") + 1
            assert 1 <= finding["line"] <= lines, finding
