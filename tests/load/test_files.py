import io
import time

import pytest

from kubernai.errors import InputError
from kubernai.load.files import LoadResult, load_bytes, load_paths, load_text

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: app
          resources:
            limits:
              nvidia.com/gpu: 1
"""


def load(text: str, file: str = "m.yaml") -> LoadResult:
    result = LoadResult()
    load_text(text, file, result=result)
    return result


def test_lines_point_at_fields():
    result = load(DEPLOYMENT)
    (resource,) = result.resources
    assert resource.source.line == 1
    path = (
        "spec",
        "template",
        "spec",
        "containers",
        0,
        "resources",
        "limits",
        "nvidia.com/gpu",
    )
    assert resource.line_of(path) == 12
    assert resource.line_of(("spec", "template", "spec", "containers", 0)) == 9
    # A path that does not exist gives the line of its deepest existing parent.
    assert resource.line_of(("spec", "template", "spec", "missing", "x")) == 7


def test_multi_document_lines_and_skipped_documents():
    text = (
        "a: 1\n---\n"
        + DEPLOYMENT
        + "---\n# only a comment\n---\napiVersion: v1\nkind: Service\n"
    )
    result = load(text)
    assert [r.kind for r in result.resources] == ["Deployment", "Service"]
    assert result.resources[0].source.line == 3
    assert result.resources[1].source.line == 18
    assert result.skipped == 1  # the values-style document, not the empty one


def test_list_items_become_objects_with_their_lines():
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: a}\n"
        "  - not-an-object\n"
        "  - apiVersion: v1\n    kind: Secret\n    metadata: {name: b}\n"
    )
    result = load(text)
    assert [(r.kind, r.name, r.source.line) for r in result.resources] == [
        ("ConfigMap", "a", 4),
        ("Secret", "b", 8),
    ]
    assert result.skipped == 1


def test_json_with_tabs():
    text = (
        '{\n\t"apiVersion": "v1",\n\t"kind": "Pod",\n\t"metadata": {"name": "p"}\n}\n'
    )
    result = load(text, "pod.json")
    assert [r.name for r in result.resources] == ["p"]
    assert result.resources[0].line_of(("metadata", "name")) == 4


def test_broken_document_is_reported_and_the_rest_still_loads():
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n data: {}\n---\n"
        + DEPLOYMENT
    )
    result = load(text)
    assert [r.kind for r in result.resources] == ["Deployment"]
    assert result.resources[0].source.line == 7
    (problem,) = result.invalid
    assert problem.file == "m.yaml"
    assert problem.line == 5
    assert "YAML does not parse" in problem.reason


def test_helm_source_comments_map_objects_to_templates():
    text = (
        "---\n# Source: chart/templates/svc.yaml\napiVersion: v1\nkind: Service\n"
        "metadata:\n  name: s\n"
        "---\n# Source: chart/templates/deploy.yaml\n" + DEPLOYMENT
    )
    result = load(text, "<stdin>")
    service, deployment = result.resources
    assert service.source.file == "chart/templates/svc.yaml"
    assert service.source.line == 1
    assert deployment.source.file == "chart/templates/deploy.yaml"
    assert deployment.source.origin == "<stdin>"
    path = (
        "spec",
        "template",
        "spec",
        "containers",
        0,
        "resources",
        "limits",
        "nvidia.com/gpu",
    )
    assert deployment.line_of(path) == 12
    assert {"chart/templates/svc.yaml", "chart/templates/deploy.yaml"} <= result.files


def test_unrendered_template_is_one_clear_problem():
    result = load("apiVersion: v1\nkind: Pod\nspec:\n  image: {{ .Values.image }}\n")
    (problem,) = result.invalid
    assert "unrendered template" in problem.reason
    assert problem.line == 4


def test_alias_bomb_is_fast_and_bounded():
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 12):
        prev = chr(ord("a") + i - 1)
        name = chr(ord("a") + i)
        levels.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\n"
        + "\n".join(levels)
        + "\n"
    )
    start = time.perf_counter()
    result = load(text)
    assert time.perf_counter() - start < 2
    assert len(result.resources) == 1


def test_self_referencing_alias_is_refused():
    result = load("apiVersion: v1\nkind: ConfigMap\ndata: &x\n  self: *x\n")
    assert result.resources == []
    assert "refers to itself" in result.invalid[0].reason


def test_deep_nesting_is_a_finding_not_a_crash():
    depth = 5000
    text = "apiVersion: v1\nkind: ConfigMap\ndata: " + "[" * depth + "]" * depth + "\n"
    start = time.perf_counter()
    result = load(text)
    assert time.perf_counter() - start < 2
    assert result.resources == []
    assert result.invalid


def test_binary_and_non_utf8_bytes():
    result = LoadResult()
    load_bytes(b"\x7fELF\x00\x00\x01binary", "a.yaml", result=result)
    load_bytes(
        b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: caf\xe9\n",
        "b.yaml",
        result=result,
    )
    binary, latin = result.invalid
    assert "binary" in binary.reason
    assert latin.line == 4
    assert "not UTF-8" in latin.reason


def test_utf16_with_bom_is_read():
    data = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n".encode("utf-16")
    result = LoadResult()
    load_bytes(data, "p.yaml", result=result)
    assert [r.name for r in result.resources] == ["p"]


def test_large_file_is_refused_without_reading_it(tmp_path):
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(200 * 1024 * 1024)  # sparse: 200 MB that costs no disk
    start = time.perf_counter()
    result = load_paths([str(big)])
    assert time.perf_counter() - start < 2
    (problem,) = result.invalid
    assert "over the 16 MiB limit" in problem.reason


def test_stdin_is_bounded():
    stream = io.BytesIO(b"a: b\n" * 1000)
    result = load_paths(["-"], stdin=stream, max_file_bytes=100)
    assert "over the" in result.invalid[0].reason


def test_folders_are_searched_for_manifests(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n"
    )
    (tmp_path / "y.yml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: y}\n")
    (tmp_path / "z.json").write_text(
        '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "z"}}'
    )
    (tmp_path / "notes.txt").write_text("kind: Pod")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "h.yaml").write_text("apiVersion: v1\nkind: Pod\n")
    result = load_paths([str(tmp_path)])
    assert sorted(r.name for r in result.resources) == ["x", "y", "z"]


def test_missing_path_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_paths([str(tmp_path / "nope.yaml")])


def test_many_broken_documents_are_capped_and_fast():
    text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n bad: x\n---\n" * 5000
    start = time.perf_counter()
    result = load(text)
    assert time.perf_counter() - start < 2
    assert len(result.invalid) == 100
    assert [p.line for p in result.invalid[:2]] == [5, 11]
    assert "the rest is skipped" in result.invalid[-1].reason


# --- gzipped input -------------------------------------------------------------


def test_gzipped_files_are_read_by_name_and_by_magic_bytes(tmp_path):
    import gzip

    document = '{\n\t"apiVersion": "v1",\n\t"kind": "List",\n\t"items": [\n\t\t{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}\n\t]\n}\n'
    (tmp_path / "cluster.json.gz").write_bytes(gzip.compress(document.encode()))
    result = load_paths([str(tmp_path / "cluster.json.gz")])
    assert result.invalid == []
    assert [(r.kind, r.name, r.source.line) for r in result.resources] == [
        ("Node", "n1", 5)
    ]
    stream = io.BytesIO(gzip.compress(DEPLOYMENT.encode()))
    result = load_paths(["-"], stdin=stream)
    assert [r.name for r in result.resources] == ["web"]


def test_gzipped_files_are_found_in_folders(tmp_path):
    import gzip

    (tmp_path / "a.yaml.gz").write_bytes(gzip.compress(DEPLOYMENT.encode()))
    (tmp_path / "b.txt.gz").write_bytes(gzip.compress(DEPLOYMENT.encode()))
    result = load_paths([str(tmp_path)])
    assert result.files == {str(tmp_path / "a.yaml.gz")}
    assert [r.name for r in result.resources] == ["web"]


def test_concatenated_gzip_members_are_all_read():
    import gzip

    first, second = DEPLOYMENT, DEPLOYMENT.replace("name: web", "name: api")
    data = gzip.compress(first.encode()) + gzip.compress(("---\n" + second).encode())
    result = LoadResult()
    load_bytes(data, "two.yaml.gz", result=result)
    assert [r.name for r in result.resources] == ["web", "api"]


def test_a_gzip_bomb_stops_at_the_size_limit():
    import gzip

    bomb = gzip.compress(b" " * 2**20) * 512  # 512 MiB from 0.5 MB
    start = time.perf_counter()
    result = LoadResult()
    load_bytes(bomb, "bomb.json.gz", result=result)
    assert time.perf_counter() - start < 1
    (problem,) = result.invalid
    assert (problem.file, problem.line) == ("bomb.json.gz", 1)
    assert problem.reason == (
        "gzip data decompresses to over the 16 MiB limit (raise it with --max-file-size)"
    )


def test_the_size_limit_applies_to_the_decompressed_bytes():
    import gzip

    data = gzip.compress(DEPLOYMENT.encode())
    result = LoadResult()
    load_bytes(data, "d.yaml.gz", result=result, max_file_bytes=len(DEPLOYMENT) - 1)
    assert "decompresses to over" in result.invalid[0].reason
    result = LoadResult()
    load_bytes(data, "d.yaml.gz", result=result, max_file_bytes=len(DEPLOYMENT))
    assert [r.name for r in result.resources] == ["web"]


def test_broken_gzip_is_an_invalid_document():
    import gzip

    data = gzip.compress(DEPLOYMENT.encode())
    truncated, garbage = LoadResult(), LoadResult()
    load_bytes(data[: len(data) // 2], "t.yaml.gz", result=truncated)
    load_bytes(b"apiVersion: v1\n", "plain.yaml.gz", result=garbage)
    assert truncated.invalid[0].reason == "gzip data is truncated"
    assert garbage.invalid[0].reason.startswith("not valid gzip data (")
