from __future__ import annotations

import pytest

from kubernai.load.files import LoadResult, load_text
from kubernai.model.graph import ObjectGraph
from kubernai.model.mig import known_mig_strategy
from kubernai.model.resource import Resource
from kubernai.model.shared_gpus import shared_use
from kubernai.model.sharing import (
    MPS,
    TIME_SLICING,
    full_resource_name,
    plugin_configs_in,
    selected_values,
    sharing_index,
)

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: device-plugin-config, namespace: gpu-operator}
data:
  KEY: |
BODY
"""


def load(text: str, file: str = "case.yaml") -> list[Resource]:
    loaded = LoadResult()
    load_text(text, file, result=loaded)
    return loaded.resources


def configmap(body: str, key: str = "any", file: str = "case.yaml") -> Resource:
    indented = "\n".join("    " + line for line in body.strip("\n").splitlines())
    text = CONFIGMAP.replace("KEY", key).replace("BODY", indented)
    (resource,) = load(text, file)
    return resource


TIME_SLICED = """\
version: v1
flags:
  migStrategy: none
sharing:
  timeSlicing:
    resources:
    - name: gpu
      replicas: 4
"""


def test_time_slicing_config_is_read():
    (config,) = plugin_configs_in(configmap(TIME_SLICED))
    assert config.data_key == "any"
    assert config.mig_strategy == "none"
    block = config.active
    assert block is not None
    assert block.key == TIME_SLICING
    assert not block.rejects_above_one
    assert set(block.advertised()) == {"nvidia.com/gpu"}
    assert config.finding_path == ("data", "any")


def test_mps_wins_and_rejects_above_one_by_default():
    body = """\
sharing:
  timeSlicing:
    resources: [{name: nvidia.com/gpu, replicas: 8}]
  mps:
    renameByDefault: true
    resources: [{name: nvidia.com/gpu, replicas: 2}]
"""
    (config,) = plugin_configs_in(configmap(body))
    block = config.active
    assert block is not None
    assert block.key == MPS
    assert block.rejects_above_one
    assert set(block.advertised()) == {"nvidia.com/gpu.shared"}


def test_explicit_fail_requests_is_honoured():
    body = """\
sharing:
  mps:
    failRequestsGreaterThanOne: false
    resources: [{name: nvidia.com/gpu, replicas: 2}]
"""
    (config,) = plugin_configs_in(configmap(body))
    assert config.active is not None
    assert not config.active.rejects_above_one


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("version: v2\nsharing: {timeSlicing: {}}", id="other-version"),
        pytest.param("sharing: true\nreplicas: 1", id="not-a-plugin-config"),
        pytest.param("a: &x [1]\nb: *x\nsharing: {mps: {}}", id="aliases-refused"),
        pytest.param("sharing: {mps: {{ .Values.mps }}}", id="unrendered-template"),
        pytest.param("sharing: [timeSlicing", id="not-yaml"),
    ],
)
def test_texts_that_are_not_read(body):
    assert plugin_configs_in(configmap(body)) == ()


def test_only_configmaps_hold_configs():
    (secret,) = load("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n")
    assert plugin_configs_in(secret) == ()


def test_full_resource_name():
    assert full_resource_name("gpu") == "nvidia.com/gpu"
    assert full_resource_name("nvidia.com/mig-1g.10gb") == "nvidia.com/mig-1g.10gb"


POD = """\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  nodeSelector: SELECTOR
  affinity: AFFINITY
  containers:
    - name: c
      resources: {limits: {nvidia.com/gpu: 2}}
"""


def template_of(selector: str = "{}", affinity: str = "{}", file: str = "case.yaml"):
    text = POD.replace("SELECTOR", selector).replace("AFFINITY", affinity)
    (pod,) = load(text, file)
    return pod, pod.templates[0]


def terms(*expressions: str) -> str:
    listed = ", ".join(f"{{matchExpressions: [{e}]}}" for e in expressions)
    return (
        "{nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
        f"{{nodeSelectorTerms: [{listed}]}}}}}}"
    )


def test_selected_values_from_node_selector():
    _, template = template_of("{nvidia.com/gpu.product: Tesla-T4}")
    assert selected_values(template, "nvidia.com/gpu.product") == ("Tesla-T4",)
    assert selected_values(template, "nvidia.com/gpu.family") is None


def test_selected_values_union_of_terms():
    affinity = terms(
        "{key: k, operator: In, values: [a, b]}",
        "{key: k, operator: In, values: [b, c]}",
    )
    _, template = template_of(affinity=affinity)
    assert selected_values(template, "k") == ("a", "b", "c")


@pytest.mark.parametrize(
    "expressions",
    [
        pytest.param(
            (
                "{key: k, operator: In, values: [a]}",
                "{key: o, operator: In, values: [x]}",
            ),
            id="one-term-unrestricted",
        ),
        pytest.param(("{key: k, operator: NotIn, values: [a]}",), id="not-in"),
        pytest.param(("{key: k, operator: Exists}",), id="exists"),
        pytest.param(("{key: k, operator: In, values: [1]}",), id="non-text-values"),
    ],
)
def test_selected_values_unknown(expressions):
    _, template = template_of(affinity=terms(*expressions))
    assert selected_values(template, "k") is None


def graph_of(*resources: Resource) -> ObjectGraph:
    return ObjectGraph(resources)


def test_configs_apply_to_workloads_in_their_folder_and_below():
    config = configmap(TIME_SLICED, file="clusters/prod/gpu/plugin.yaml")
    below, below_template = template_of(file="clusters/prod/gpu/apps/train.yaml")
    beside, beside_template = template_of(file="clusters/prod/gpu/job.yaml")
    elsewhere, elsewhere_template = template_of(file="examples/train.yaml")
    index = sharing_index(graph_of(config, below, beside, elsewhere))
    assert shared_use("nvidia.com/gpu", below_template, below, index) is not None
    assert shared_use("nvidia.com/gpu", beside_template, beside, index) is not None
    assert shared_use("nvidia.com/gpu", elsewhere_template, elsewhere, index) is None


def test_shared_name_is_shared_without_any_config():
    pod, template = template_of()
    use = shared_use(
        "nvidia.com/gpu.shared", template, pod, sharing_index(graph_of(pod))
    )
    assert use is not None
    assert use.rejects_above_one is None


def test_sharing_labels():
    pod, template = template_of("{nvidia.com/gpu.sharing-strategy: mps}")
    use = shared_use("nvidia.com/gpu", template, pod, sharing_index(graph_of(pod)))
    assert use is not None
    assert use.method == MPS
    assert use.rejects_above_one is True
    pod, template = template_of("{nvidia.com/gpu.replicas: '1'}")
    assert (
        shared_use("nvidia.com/gpu", template, pod, sharing_index(graph_of(pod)))
        is None
    )


POLICY = """\
apiVersion: nvidia.com/v1
kind: ClusterPolicy
metadata: {name: cluster-policy}
spec:
  mig: {strategy: single}
"""


def test_known_strategy_from_policy_in_scope_only():
    (policy,) = load(POLICY, "ops/gpu-operator/clusterpolicy.yaml")
    inside, inside_template = template_of(file="ops/gpu-operator/test/pod.yaml")
    outside, outside_template = template_of(file="apps/pod.yaml")
    index = sharing_index(graph_of(policy, inside, outside))
    known = known_mig_strategy(inside, inside_template, index)
    assert known is not None
    assert known.strategy == "single"
    assert known_mig_strategy(outside, outside_template, index) is None


def test_policy_overrides_config_strategy():
    (policy,) = load(POLICY.replace("single", "mixed"))
    config = configmap(TIME_SLICED)
    pod, template = template_of()
    known = known_mig_strategy(
        pod, template, sharing_index(graph_of(policy, config, pod))
    )
    assert known is not None
    assert known.strategy == "mixed"


def test_index_is_built_once_per_graph():
    graph = graph_of(configmap(TIME_SLICED))
    assert sharing_index(graph) is sharing_index(graph)
