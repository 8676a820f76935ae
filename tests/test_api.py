import kubernai


def test_all_is_sorted_and_resolves():
    assert kubernai.__all__ == sorted(kubernai.__all__)
    for name in kubernai.__all__:
        assert getattr(kubernai, name) is not None


def test_lint_text():
    report = kubernai.lint(
        text="apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: q}\nspec: {hard: {nvidia.com/gpu: 4}}\n"
    )
    (finding,) = report.findings
    assert finding.code == "CLU005"
    assert finding.line == 4
    assert finding.severity is kubernai.Severity.ERROR


def test_lint_paths(tmp_path):
    (tmp_path / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
    )
    report = kubernai.lint([str(tmp_path)])
    assert report.objects == 1
    assert report.findings == []
