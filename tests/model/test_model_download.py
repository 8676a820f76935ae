from __future__ import annotations

import pytest
import yaml

from kubernai.model.model_download import (
    AWS_S3,
    AZCOPY,
    GCLOUD_STORAGE,
    GSUTIL,
    HF_CLI,
    KSERVE_STORAGE_INITIALIZER,
    LEGACY_HF_CLI,
    S5CMD,
    SNAPSHOT_DOWNLOAD,
    command_lines,
    downloads,
    expand,
    hub_cache,
    hub_install,
    mount_for,
    weight_dirs,
    weight_volumes,
)
from kubernai.model.resource import Resource, Source, format_path


def template_of(spec_yaml: str):
    raw = {"apiVersion": "v1", "kind": "Pod", "spec": yaml.safe_load(spec_yaml)}
    (template,) = Resource(raw=raw, source=Source(file="f", line=1)).templates
    return template


def container_of(container_yaml: str):
    template = template_of(f"containers: [{container_yaml}]")
    return template.containers[0]


def only_download(container_yaml: str):
    found = downloads(container_of(container_yaml))
    assert len(found) == 1, found
    return found[0]


def test_command_lines_split_a_script_at_separators_and_newlines():
    container = container_of(
        '{command: [/bin/bash, -c], args: ["set -e\\nA=1; echo $A && hf download x || true | cat"]}'
    )
    lines = [[t.text for t in line] for line in command_lines(container)]
    assert lines == [
        ["/bin/bash", "-c"],
        ["set", "-e"],
        ["A=1"],
        ["echo", "$A"],
        ["hf", "download", "x"],
        ["true"],
        ["cat"],
    ]
    assert (
        format_path(command_lines(container)[4][0].path) == "spec.containers[0].args[0]"
    )


def test_command_lines_join_continuations_and_survive_bad_quotes():
    container = container_of(
        '{command: [sh, -c, "hf download m \\\\\\n  --local-dir /x\\necho \'oops"]}'
    )
    lines = [[t.text for t in line] for line in command_lines(container)]
    assert ["hf", "download", "m", "--local-dir", "/x"] in lines


def test_expand_kubelet_and_shell_variables():
    variables = {"A": "/models", "B": "x"}
    assert expand("$(A)/$B/${B}/${C:-d}/$D", variables) == "/models/x/x/d/$D"
    assert expand("$(A)/$B", variables, shell=False) == "/models/$B"


def test_hf_download_local_dir_revision_and_include_lists():
    download = only_download(
        "{command: [sh, -c], args: [\"hf download org/m --include '*.json' '*.safetensors'"
        ' --revision=abc --local-dir $(DIR)/m"], env: [{name: DIR, value: /models/}]}'
    )
    assert download.tool == HF_CLI
    assert download.source == "org/m"
    assert download.revision == "abc"
    assert (download.target, download.target_from) == ("/models/m", "--local-dir")
    assert download.from_hub
    assert not download.pinned


def test_hf_download_script_variables_and_exec_form():
    download = only_download(
        '{command: [bash, -c, "export M=org/m\\nD=/data\\nhuggingface-cli download $M'
        ' --cache-dir ${D}/hub --revision 0123456789abcdef0123456789abcdef01234567"]}'
    )
    assert download.tool == LEGACY_HF_CLI
    assert download.source == "org/m"
    assert (download.target, download.target_from) == ("/data/hub", "--cache-dir")
    assert download.pinned


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HF_HUB_CACHE": "/a", "HF_HOME": "/b"}, ("/a", "HF_HUB_CACHE")),
        (
            {"HUGGINGFACE_HUB_CACHE": "/c", "HF_HOME": "/b"},
            ("/c", "HUGGINGFACE_HUB_CACHE"),
        ),
        ({"HF_HOME": "/b/"}, ("/b/hub", "HF_HOME")),
        ({"XDG_CACHE_HOME": "/x"}, ("/x/huggingface/hub", "XDG_CACHE_HOME")),
        ({"HOME": "/home/u"}, ("/home/u/.cache/huggingface/hub", "the default cache")),
        ({}, (None, "the default cache")),
        ({"HF_HOME": "relative"}, (None, "HF_HOME")),
    ],
)
def test_hub_cache_follows_huggingface_hub_precedence(env, expected):
    assert hub_cache(env) == expected


@pytest.mark.parametrize(
    ("command", "tool", "source", "target"),
    [
        (
            '[aws, s3, cp, --recursive, "s3://b/p", /models]',
            AWS_S3,
            "s3://b/p",
            "/models",
        ),
        (
            '[aws, s3, sync, "s3://b/p/", /models/, --exclude, "*.bin"]',
            AWS_S3,
            "s3://b/p/",
            "/models",
        ),
        (
            '[s5cmd, --numworkers, "64", cp, "s3://b/p/*", /models/]',
            S5CMD,
            "s3://b/p/*",
            "/models",
        ),
        ('[gsutil, -m, cp, -r, "gs://b/p", /models]', GSUTIL, "gs://b/p", "/models"),
        (
            '[gcloud, storage, cp, -r, "gs://b/p", /models]',
            GCLOUD_STORAGE,
            "gs://b/p",
            "/models",
        ),
        (
            '[azcopy, copy, "https://a.blob.core.windows.net/c/p", /models, "--recursive=true"]',
            AZCOPY,
            "https://a.blob.core.windows.net/c/p",
            "/models",
        ),
        ('[aws, s3, cp, "s3://b/p", relative/dir]', AWS_S3, "s3://b/p", None),
    ],
)
def test_object_store_copies(command, tool, source, target):
    download = only_download(f"{{command: {command}}}")
    assert (download.tool, download.source, download.target) == (tool, source, target)
    assert download.target_from == "destination"
    assert not download.from_hub


@pytest.mark.parametrize(
    "command",
    [
        '[aws, s3, cp, /outputs, "s3://b/out"]',
        '[aws, s3, sync, "s3://a/x", "s3://b/x"]',
        '[aws, s3, cp, "s3://b/file", "-"]',
        '[aws, s3, ls, "s3://b/"]',
        "[gsutil, ls]",
        "[hf, upload, me/model, /outputs]",
    ],
)
def test_uploads_and_other_subcommands_are_not_downloads(command):
    assert downloads(container_of(f"{{command: {command}}}")) == []


def test_snapshot_download_in_inline_python():
    download = only_download(
        '{command: [python, -c, "from huggingface_hub import snapshot_download\\n'
        "snapshot_download(repo_id='org/m', revision='v1', local_dir='/models/m')\"]}"
    )
    assert download.tool == SNAPSHOT_DOWNLOAD
    assert (download.source, download.revision, download.target) == (
        "org/m",
        "v1",
        "/models/m",
    )
    assert format_path(download.path) == "spec.containers[0].command[2]"


def test_snapshot_download_with_a_variable_target_is_unknown():
    download = only_download(
        "{command: [python, -c, \"snapshot_download('org/m', local_dir=d)\"]}"
    )
    assert download.source == "org/m"
    assert download.target is None


def test_kserve_storage_initializer():
    download = only_download(
        '{image: "kserve/storage-initializer:v0.15.0", args: ["hf://org/m", /mnt/models]}'
    )
    assert download.tool == KSERVE_STORAGE_INITIALIZER
    assert (download.source, download.target) == ("hf://org/m", "/mnt/models")


def test_target_used_later_in_the_same_script():
    download = only_download(
        '{command: [sh, -c, "hf download org/m --local-dir /tmp/m && mv /tmp/m/ /models/"]}'
    )
    assert download.used_later


def test_mount_for_picks_the_deepest_mount():
    container = container_of(
        "{volumeMounts: [{name: a, mountPath: /models}, {name: b, mountPath: /models/x/}, {name: c, mountPath: /modelsy}]}"
    )
    found = mount_for(container, "/models/x/y")
    assert found is not None
    assert found[1]["name"] == "b"
    assert mount_for(container, "/modelsz") is None
    assert mount_for(container, "/models")[1]["name"] == "a"


def test_weight_dirs_and_volumes():
    template = template_of(
        """
initContainers:
  - name: fetch
    command: [aws, s3, sync, "s3://b/m", /weights]
    volumeMounts: [{name: w, mountPath: /weights}]
containers:
  - name: vllm
    image: vllm/vllm-openai:v0.10.1
    args: [--model, Qwen/Qwen3-8B]
    volumeMounts: [{name: hf, mountPath: /root/.cache/huggingface}, {name: w, mountPath: /weights}]
  - name: tgi
    image: ghcr.io/huggingface/text-generation-inference:3.3.4
    env: [{name: MODEL_ID, value: org/m}]
    volumeMounts: [{name: data, mountPath: /data}]
volumes:
  - {name: w, emptyDir: {}}
  - {name: hf, emptyDir: {}}
  - {name: data, emptyDir: {}}
"""
    )
    whys = [(d.container.name, d.path, d.why) for d in weight_dirs(template)]
    assert ("fetch", "/weights", "the target of aws s3") in whys
    assert ("vllm", "/root/.cache/huggingface", "the Hugging Face cache") in whys
    assert ("tgi", "/data", "TGI's model cache") in whys
    volumes = {(v.name, v.index, v.mount_path) for v in weight_volumes(template)}
    assert volumes == {
        ("w", 0, "/weights"),
        ("hf", 1, "/root/.cache/huggingface"),
        ("data", 2, "/data"),
    }


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("pip install huggingface_hub && x", ("huggingface_hub", False)),
        ("pip install -U 'huggingface_hub[cli]' && x", ("huggingface_hub[cli]", False)),
        ("pip3 install huggingface-hub==0.36.0", ("huggingface-hub==0.36.0", True)),
        ("pip install 'huggingface_hub<1.0'", ("huggingface_hub<1.0", True)),
        ("pip install 'huggingface_hub>=0.30,<1'", ("huggingface_hub>=0.30,<1", True)),
        ("uv pip install 'huggingface_hub~=0.34'", ("huggingface_hub~=0.34", True)),
        ("pip install 'huggingface_hub>=0.34'", ("huggingface_hub>=0.34", False)),
        ("pip install vllm", None),
    ],
)
def test_hub_install(script, expected):
    container = container_of(f'{{command: [sh, -c, "{script}"]}}')
    assert hub_install(container) == expected


def test_malformed_containers_give_nothing():
    template = template_of(
        "containers: [{command: 3, args: {a: b}, env: x, volumeMounts: [null]}, {image: 5}]"
    )
    for container in template.containers:
        assert downloads(container) == []
        assert command_lines(container) == []
    assert weight_volumes(template) == []


def test_weight_volume_model_comes_from_a_whole_repo_download_or_the_server():
    template = template_of(
        """
initContainers:
  - name: a
    command: [sh, -c, "hf download org/filtered --include '*.json' --local-dir /cfg"]
    volumeMounts: [{name: cfg, mountPath: /cfg}]
  - name: b
    command: [sh, -c, "hf download org/whole --local-dir /w/m"]
    volumeMounts: [{name: w, mountPath: /w}]
containers:
  - name: vllm
    image: vllm/vllm-openai:v0.10.1
    args: [--model, org/served]
    volumeMounts: [{name: hf, mountPath: /root/.cache/huggingface}, {name: cfg, mountPath: /cfg}]
volumes:
  - {name: cfg, emptyDir: {}}
  - {name: w, emptyDir: {}}
  - {name: hf, emptyDir: {}}
"""
    )
    models = {v.name: v.model for v in weight_volumes(template)}
    assert models == {"cfg": "", "w": "org/whole", "hf": "org/served"}


def test_results_are_memoised_per_graph():
    from kubernai.model.graph import ObjectGraph

    raw = {
        "apiVersion": "v1",
        "kind": "Pod",
        "spec": yaml.safe_load(
            "containers: [{command: [aws, s3, cp, 's3://b/m', /m], volumeMounts: [{name: m, mountPath: /m}]}]\n"
            "volumes: [{name: m, emptyDir: {}}]"
        ),
    }
    resource = Resource(raw=raw, source=Source(file="f", line=1))
    graph = ObjectGraph([resource])
    (template,) = resource.templates
    first = weight_volumes(template, graph)
    assert weight_volumes(template, graph) == first
    assert downloads(template.containers[0], graph) == downloads(template.containers[0])
    assert [v.name for v in first] == ["m"]
