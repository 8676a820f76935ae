from fractions import Fraction

import pytest
import yaml

from kubernai.model.kubelet_config import (
    default_eviction_hard,
    gpu_node_hint,
    kubelet_configs,
    parse_duration,
)
from kubernai.model.resource import Resource, Source


def resource(text: str) -> Resource:
    return Resource(raw=yaml.safe_load(text), source=Source(file="f", line=1))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", Fraction(0)),
        ("30s", Fraction(30)),
        ("1m30s", Fraction(90)),
        ("1h", Fraction(3600)),
        ("1.5h", Fraction(5400)),
        ("500ms", Fraction(1, 2)),
        ("-2s", Fraction(-2)),
        ("", None),
        ("30", None),
        ("s", None),
        ("1d", None),
        ("1m 30s", None),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


def test_parse_duration_needs_a_string():
    assert parse_duration(30) is None


def test_default_eviction_hard():
    assert default_eviction_hard() == {
        "memory.available": "100Mi",
        "nodefs.available": "10%",
        "imagefs.available": "15%",
        "nodefs.inodesFree": "5%",
    }


def test_configs_top_level_and_embedded():
    top = resource(
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
    )
    (config,) = kubelet_configs(top)
    assert config.field_path("evictionHard") == ("evictionHard",)
    cm = resource(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kubelet-config}\ndata:\n"
        "  kubelet: |\n"
        "    apiVersion: kubelet.config.k8s.io/v1beta1\n"
        "    kind: KubeletConfiguration\n"
        "    maxPods: 50\n"
        "    ---\n"
        "    apiVersion: kubeadm.k8s.io/v1beta3\n"
        "    kind: InitConfiguration\n"
    )
    (embedded,) = kubelet_configs(cm)
    assert embedded.raw["maxPods"] == 50
    assert embedded.field_path("evictionHard") == ("data", "kubelet")
    assert embedded.where("evictionHard") == "data[kubelet] evictionHard"


def test_gpu_node_hint():
    plain = resource(
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
        "registerWithTaints: [{key: amd.com/gpu, effect: NoSchedule}]\n"
    )
    (config,) = kubelet_configs(plain)
    assert (
        gpu_node_hint(config, plain, "nvidia.com/gpu")
        == "registerWithTaints has amd.com/gpu"
    )
    cm = resource(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kubelet-gpus, labels: {a: b}}\n"
        "data: {k: 'apiVersion: kubelet.config.k8s.io/v1beta1\n\n  kind: KubeletConfiguration'}\n"
    )
    (embedded,) = kubelet_configs(cm)
    assert gpu_node_hint(embedded, cm, "nvidia.com/gpu") == ""
