from __future__ import annotations

import pytest
import yaml

from kubernai.load.files import LoadResult, load_text
from kubernai.model.data_streaming import (
    absolute_dir,
    cache_limit_bytes,
    credentials,
    endpoint_problem,
    format_bytes,
    is_training,
    parses_as_int,
    scheme_of,
    store_uris,
    streaming_configs,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, Source


def graph_of(text: str) -> ObjectGraph:
    loaded = LoadResult()
    load_text(text, "t.yaml", result=loaded)
    return ObjectGraph(loaded.resources)


def pod(spec_yaml: str) -> Resource:
    raw = {"apiVersion": "v1", "kind": "Pod", "spec": yaml.safe_load(spec_yaml)}
    return Resource(raw=raw, source=Source(file="f", line=1))


def configs_of(text: str):
    graph = graph_of(text)
    (workload,) = [r for r in graph.resources if r.templates]
    (template,) = workload.templates
    return streaming_configs(workload, template, graph)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("10gb", 10 * 1024**3, id="gb-is-gibibytes"),
        pytest.param("10GB", 10 * 1024**3, id="case-insensitive"),
        pytest.param(" 10 gb ", 10 * 1024**3, id="spaces"),
        pytest.param("1.5tb", int(1.5 * 1024**4), id="fraction"),
        pytest.param("0.25gb", 256 * 1024**2, id="quarter-gb"),
        pytest.param("100b", 100, id="b-suffix"),
        pytest.param("100", 100, id="bare-number-is-bytes"),
        pytest.param(107374182400, 107374182400, id="int"),
        pytest.param(1e10, 10_000_000_000, id="float"),
        pytest.param("1e10", 10_000_000_000, id="omegaconf-reads-numbers"),
        pytest.param("-5gb", -5 * 1024**3, id="negative"),
        pytest.param("10Gi", None, id="kubernetes-binary"),
        pytest.param("10G", None, id="kubernetes-decimal"),
        pytest.param("10GiB", None, id="gib"),
        pytest.param("1.5b", None, id="fractional-bytes"),
        pytest.param("gb", None, id="no-number"),
        pytest.param("", None, id="empty"),
        pytest.param("inf gb", None, id="infinite"),
        pytest.param(True, None, id="bool"),
        pytest.param([1], None, id="list"),
    ],
)
def test_cache_limit_bytes_follows_bytes_to_int(value, expected):
    assert cache_limit_bytes(value) == expected


@pytest.mark.parametrize(
    ("value", "ok"),
    [("100000000000", True), (" 12 ", True), ("1_000", True), ("-3", True),
     ("1e11", False), ("10GB", False), ("", False), ("1__0", False), ("1_", False)],
)  # fmt: skip
def test_parses_as_int_matches_python_int(value, ok):
    assert parses_as_int(value) is ok
    try:
        int(value)
        accepted = True
    except ValueError:
        accepted = False
    assert accepted is ok


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://minio.storage.svc:9000", ""),
        ("https://10.0.0.7:9443", ""),
        ("http://[fd00::1]:9000", ""),
        ("https://s3.us-east-1.amazonaws.com/", ""),
        ("minio:9000", "it has no http:// or https:// scheme"),
        ("minio.storage.svc", "it has no http:// or https:// scheme"),
        ("http://my_minio:9000", "its host 'my_minio' is not a valid DNS name"),
        ("http://minio\n:9000", "it contains a tab or newline"),
    ],
)
def test_endpoint_problem_mirrors_botocore(url, problem):
    assert endpoint_problem(url) == problem


def test_small_helpers():
    assert format_bytes(200 * 1024**3) == "200 GiB"
    assert format_bytes(210 * 10**9) == "195.6 GiB"
    assert format_bytes(100) == "100 bytes"
    assert scheme_of("GCS://b/x") == "gcs"
    assert scheme_of("dbfs:/Volumes/x") == ""
    assert absolute_dir("/cache//c4/") == "/cache/c4"
    assert absolute_dir("./c4") is None
    assert absolute_dir("/cache/$(X)") is None


CONFIG_JOB = """
apiVersion: batch/v1
kind: Job
metadata: {name: j}
spec:
  template:
    spec:
      containers:
        - name: train
          env: [{name: EVAL_LIMIT, value: 5gb}]
          command: ["composer", "train.py", "/cfg/c.yaml",
                    "variables.data_local=/override",
                    "+train_loader.dataset.cache_limit=20gb"]
          volumeMounts: [{name: cfg, mountPath: /cfg}]
      volumes: [{name: cfg, configMap: {name: c}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data:
  c.yaml: |
    variables:
      data_local: /from-config
      data_remote: s3://bucket/mds
    train_loader:
      dataset:
        local: ${variables.data_local}/train
        remote: ${variables.data_remote}
    eval_loader:
      dataset:
        local: ${variables.missing}
        remote: ${variables.data_remote}
        cache_limit: ${oc.env:EVAL_LIMIT}
"""


def test_config_interpolation_and_overrides():
    train, evaluation = configs_of(CONFIG_JOB)
    assert train.name == "train_loader.dataset"
    assert train.local_dir == "/override/train"
    assert train.remote_text == "s3://bucket/mds"
    assert train.cache_limit is not None
    assert train.cache_limit.value == "20gb"
    assert train.complete
    assert train.downloads
    assert train.limit_set
    assert evaluation.local is not None
    assert not evaluation.local.known
    assert evaluation.local_dir is None
    assert evaluation.cache_limit is not None
    assert evaluation.cache_limit.value == "5gb"


def test_overrides_without_a_config_are_incomplete():
    (found,) = configs_of(
        """
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - name: t
      command: ["composer", "train.py", "train_loader.dataset.streams.a.remote=gs://b/a",
                "train_loader.dataset.streams.a.local=/c/a"]
"""
    )
    assert found.name == "train_loader.dataset.streams.a"
    assert not found.complete
    assert found.remote_text == "gs://b/a"


def test_python_calls_with_streams():
    found = configs_of(
        """
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - name: t
      args:
        - python
        - -c
        - |
          from streaming import Stream, StreamingDataset
          ds = StreamingDataset(
              streams=[Stream(remote="s3://b/x", local="/c/x"),
                       Stream(remote="s3://b/y", local="/c/y", proportion=0.5)],
              cache_limit="50gb", batch_size=8)
          torch.cuda.Stream(device=0)
"""
    )
    assert [c.local_dir for c in found] == ["/c/x", "/c/y"]
    assert all(c.cache_limit is not None for c in found)
    assert {c.cache_limit.value for c in found if c.cache_limit} == {"50gb"}


def test_store_uris_and_training_detection():
    graph = graph_of(
        """
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - name: t
      command: ["sh", "-c", "torchrun train.py --data s3://anonymous@pub/x --out gs://b/out  # s3://comment"]
      env: [{name: DATA, value: "abfss://c@acct.dfs.core.windows.net/d"}]
"""
    )
    (workload,) = graph.resources
    (template,) = workload.templates
    uris = store_uris(workload, template, graph)
    assert [(u.uri, u.provider) for u in uris] == [
        ("gs://b/out", "gcp"),
        ("abfss://c@acct.dfs.core.windows.net/d", "azure"),
    ]
    assert is_training(workload, template, graph)
    serving = pod("containers: [{name: s, image: vllm/vllm-openai, args: [x]}]")
    assert not is_training(serving, serving.templates[0], ObjectGraph([serving]))


def test_credentials_sources():
    graph = graph_of(
        """
apiVersion: v1
kind: ServiceAccount
metadata: {name: irsa, namespace: ml, annotations: {eks.amazonaws.com/role-arn: arn:x}}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: ml}
spec:
  serviceAccountName: irsa
  containers:
    - name: a
    - name: b
      env: [{name: GOOGLE_APPLICATION_CREDENTIALS, value: /var/key.json}]
"""
    )
    workload = graph.get("Pod", "ml", "p")
    assert workload is not None
    template = workload.templates[0]
    first, second = template.containers
    aws = credentials(workload, template, first, "aws", graph)
    assert aws.found == "ServiceAccount 'irsa' annotation eks.amazonaws.com/role-arn"
    gcp = credentials(workload, template, first, "gcp", graph)
    assert (gcp.found, gcp.unknown, gcp.service_account) == ("", "", "irsa")
    assert credentials(workload, template, second, "gcp", graph).found == (
        "env GOOGLE_APPLICATION_CREDENTIALS"
    )
    other = pod("serviceAccountName: elsewhere\ncontainers: [{name: c}]")
    unknown = credentials(
        other, other.templates[0], other.templates[0].containers[0], "aws", graph
    )
    assert unknown.unknown == "ServiceAccount 'elsewhere' is not in the input"
