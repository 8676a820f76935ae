import json
from importlib import resources

import pytest

from kubernai.load.files import LoadResult, load_text
from kubernai.model.dcgm import (
    builtin_counters,
    builtin_file,
    every_builtin_metric,
    exported_metrics,
    exporter_version,
    exporters,
    field,
    parse_bool,
    parse_counters,
    unit,
)
from kubernai.model.graph import ObjectGraph


def load(text):
    loaded = LoadResult()
    load_text(text, "x.yaml", result=loaded)
    return loaded.resources


def exporter_of(text):
    (resource,) = load(text)
    return next(exporters(resource.templates[0]))


DAEMONSET = """\
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: dcgm-exporter, namespace: gpu}}
spec:
  template:
    spec:
      containers:
        - name: exporter
          image: nvcr.io/nvidia/k8s/dcgm-exporter:{tag}
{extra}
"""


def daemonset(tag="4.5.3-4.8.2-distroless", extra=""):
    return DAEMONSET.format(tag=tag, extra=extra)


def test_data_file_has_a_source_everywhere():
    data = json.loads(
        (resources.files("kubernai") / "data" / "dcgm_fields.json").read_text("utf-8")
    )
    assert data["source"]
    assert all(entry["source"] for entry in data["fields"].values())
    assert all(entry["source"] for entry in data["units"].values())
    assert all(group["source"] for group in data["builtin_counters"])


def test_fields_and_units():
    assert field("DCGM_FI_DEV_GPU_UTIL").unit == "%"
    assert field("DCGM_FI_PROF_GR_ENGINE_ACTIVE").unit == "ratio"
    assert field("DCGM_FI_DEV_FB_USED").unit == "MiB"
    assert field("DCGM_FI_DEV_XID_ERRORS").type == "gauge"
    assert field("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL").type == "counter"
    assert field("DCGM_FI_NOPE") is None
    assert unit("ratio").max == 1
    assert unit("%").least_nonzero == 1
    assert unit("nope") is None


def test_builtin_counters_by_release():
    old = builtin_counters("default-counters.csv", "3.3.9-3.6.1")
    new = builtin_counters("default-counters.csv", "4.0.0-4.0.1")
    assert "DCGM_FI_PROF_GR_ENGINE_ACTIVE" not in old
    assert "DCGM_FI_PROF_GR_ENGINE_ACTIVE" in new
    assert "DCGM_FI_PROF_GR_ENGINE_ACTIVE" in builtin_counters(
        "dcp-metrics-included.csv", "3.3.9-3.6.1"
    )
    assert "DCGM_FI_DEV_FB_RESERVED" in builtin_counters(
        "default-counters.csv", "4.3.1-4.4.0"
    )
    # an unknown release: whatever any release enables
    unknown = builtin_counters("default-counters.csv", "9.9.9-9.9.9")
    assert old | new <= unknown
    assert "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL" not in every_builtin_metric()
    assert builtin_file("/etc/dcgm-exporter/default-counters.csv")
    assert builtin_file("/etc/other.csv") == ""


@pytest.mark.parametrize(
    ("image", "version"),
    [
        ("nvcr.io/nvidia/k8s/dcgm-exporter:3.3.9-3.6.1-ubuntu22.04", "3.3.9-3.6.1"),
        ("nvidia/dcgm-exporter:4.5.3-4.8.2-distroless@sha256:ab", "4.5.3-4.8.2"),
        ("registry:5000/dcgm-exporter", ""),
        ("nvcr.io/nvidia/k8s/dcgm-exporter:latest", ""),
    ],
)
def test_exporter_version(image, version):
    assert exporter_version(image) == version


def test_parse_counters_like_the_exporter():
    counters = parse_counters(
        "# comment\n\nDCGM_FI_DEV_GPU_UTIL,  gauge, GPU utilization (in %).\n"
        "DCGM_FI_DRIVER_VERSION, label, Driver Version\n"
        "DCGM_FI_DEV_DEC_UTIL ,     gauge, Decoder utilization (in %).\n"
    )
    assert dict(counters.metrics) == {
        "DCGM_FI_DEV_GPU_UTIL": "gauge",
        "DCGM_FI_DEV_DEC_UTIL": "gauge",
    }
    assert counters.malformed_line is None
    assert parse_counters("DCGM_FI_DEV_GPU_UTIL, gauge\n").malformed_line == 1
    assert parse_counters("DCGM_FI_DEV_GPU_UTIL, gaug, x\n").malformed_line == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("1", True), ("T", True), ("false", False), ("", False),
     ("0", False), ("yes", None), (None, None)],
)  # fmt: skip
def test_parse_bool_is_go_parse_bool(value, expected):
    assert parse_bool(value) is expected


def test_exporter_settings_from_flags_env_and_defaults():
    exporter = exporter_of(daemonset())
    assert exporter.kubernetes.value == "false"
    assert exporter.kubernetes.path == ()
    assert exporter.collectors.value == "/etc/dcgm-exporter/default-counters.csv"
    assert exporter.socket.value == "/var/lib/kubelet/pod-resources/kubelet.sock"
    exporter = exporter_of(
        daemonset(
            extra='          args: ["-f=/x.csv", "-k", "--configmap-data", "a:b"]\n'
            "          env:\n"
            "            - {name: DCGM_EXPORTER_COLLECTORS, value: /y.csv}\n"
            "            - name: DCGM_EXPORTER_KUBERNETES\n"
            "              valueFrom: {configMapKeyRef: {name: c, key: k}}\n"
        )
    )
    assert exporter.collectors.value == "/x.csv"  # a flag wins over its variable
    assert exporter.kubernetes.value == "true"
    assert exporter.kubernetes.how == "flag -k"
    assert exporter.configmap_data.value == "a:b"
    assert exporter.version == "4.5.3-4.8.2"


def test_exporter_setting_from_env_from_is_unknown():
    exporter = exporter_of(
        daemonset(extra="          envFrom: [{configMapRef: {name: env}}]\n")
    )
    assert exporter.kubernetes.value is None


def test_exported_metrics_default_file_of_the_release():
    graph = ObjectGraph(load(daemonset(tag="3.3.9-3.6.1-ubuntu22.04")))
    (found,) = exported_metrics(graph)
    assert "DCGM_FI_DEV_GPU_TEMP" in found.metrics
    assert "DCGM_FI_PROF_GR_ENGINE_ACTIVE" not in found.metrics
    assert "/etc/dcgm-exporter/default-counters.csv" in found.source


def test_exported_metrics_subpath_mount_over_the_builtin_file():
    text = daemonset(
        extra="          volumeMounts:\n"
        "            - name: m\n"
        "              mountPath: /etc/dcgm-exporter/default-counters.csv\n"
        "              subPath: counters.csv\n"
        "      volumes:\n"
        "        - {name: m, configMap: {name: cm}}\n"
    )
    text += (
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: gpu}\n"
        "data:\n  counters.csv: |\n    DCGM_FI_DEV_XID_ERRORS, gauge, x\n"
    )
    (found,) = exported_metrics(ObjectGraph(load(text)))
    assert found.metrics == {"DCGM_FI_DEV_XID_ERRORS"}


def test_exported_metrics_unknown_when_the_configmap_is_missing():
    text = daemonset(
        extra="          volumeMounts: [{name: m, mountPath: /etc/dcgm-exporter}]\n"
        "      volumes: [{name: m, configMap: {name: cm}}]\n"
    )
    (found,) = exported_metrics(ObjectGraph(load(text)))
    assert found.metrics is None


def test_exported_metrics_cluster_policy():
    text = (
        "apiVersion: nvidia.com/v1\nkind: ClusterPolicy\nmetadata: {name: p}\n"
        "spec: {dcgmExporter: {version: 4.0.0-4.0.1-ubuntu22.04}}\n"
        "---\napiVersion: nvidia.com/v1\nkind: ClusterPolicy\nmetadata: {name: off}\n"
        "spec: {dcgmExporter: {enabled: false}}\n"
    )
    (found,) = exported_metrics(ObjectGraph(load(text)))
    assert "DCGM_FI_PROF_GR_ENGINE_ACTIVE" in found.metrics
    assert "dcp-metrics-included.csv" in found.source
