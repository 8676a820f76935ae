from __future__ import annotations

from fractions import Fraction

import pytest
import yaml

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, Source
from kubernai.model.scheduler_config import (
    DEFAULT_SCHEDULER,
    LEAST_ALLOCATED,
    configs_in,
    external_schedulers,
    folder_of,
    scheduler_index,
)


def resource(text: str) -> Resource:
    return Resource(raw=yaml.safe_load(text), source=Source(file="f.yaml", line=1))


def config_doc(body: str, version: str = "v1") -> Resource:
    return resource(
        f"apiVersion: kubescheduler.config.k8s.io/{version}\n"
        f"kind: KubeSchedulerConfiguration\n{body}"
    )


def fit(scoring: str) -> Resource:
    return config_doc(
        "profiles:\n"
        "  - pluginConfig:\n"
        "      - name: NodeResourcesFit\n"
        f"        args: {{scoringStrategy: {scoring}}}\n"
    )


def strategy_of(res: Resource):
    (config,) = configs_in(res)
    return config.profiles[0].fit_strategy()


def test_document_is_one_config_with_inner_paths():
    (config,) = configs_in(config_doc("profiles: [{schedulerName: a}]"))
    assert config.text_path == ()
    assert config.finding_path(("profiles", 0)) == ("profiles", 0)
    assert config.prefix(("profiles", 0)) == ""


def test_other_groups_and_kinds_are_not_configs():
    assert (
        configs_in(
            resource("apiVersion: example.com/v1\nkind: KubeSchedulerConfiguration")
        )
        == ()
    )
    assert (
        configs_in(
            resource(
                "apiVersion: v1\nkind: Secret\ndata: {a: KubeSchedulerConfiguration}"
            )
        )
        == ()
    )


def test_configmap_text_holds_configs_and_other_documents_are_skipped():
    cm = resource(
        "apiVersion: v1\nkind: ConfigMap\ndata:\n"
        "  config.yaml: |\n"
        "    apiVersion: kubescheduler.config.k8s.io/v1\n"
        "    kind: KubeSchedulerConfiguration\n"
        "    profiles: [{schedulerName: a}, {schedulerName: b}]\n"
        "    ---\n"
        "    apiVersion: v1\n"
        "    kind: KubeSchedulerConfiguration\n"
        "  other: plain text\n"
    )
    (config,) = configs_in(cm)
    assert config.text_path == ("data", "config.yaml")
    assert config.scheduler_names == ("a", "b")
    assert config.finding_path(("profiles",)) == ("data", "config.yaml")
    assert config.prefix(("profiles", 1)) == "data[config.yaml] profiles[1]: "


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("kind: KubeSchedulerConfiguration\nprofiles: [", id="broken-yaml"),
        pytest.param(
            "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
            "a: &a [x]\nprofiles: *a\n",
            id="aliases-refused",
        ),
        pytest.param("KubeSchedulerConfiguration", id="a-mere-mention"),
    ],
)
def test_configmap_text_that_is_not_a_config(text):
    cm = Resource(
        raw={"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": text}},
        source=Source(file="f.yaml", line=1),
    )
    assert configs_in(cm) == ()


@pytest.mark.parametrize(
    ("body", "names"),
    [
        pytest.param(
            "profiles: [{plugins: {}}]", ("default-scheduler",), id="lone-unnamed"
        ),
        pytest.param("parallelism: 16", ("default-scheduler",), id="no-profiles"),
        pytest.param(
            "profiles: [{plugins: {}}, {schedulerName: b}]",
            ("b",),
            id="two-one-unnamed",
        ),
        pytest.param("profiles: [{schedulerName: ''}]", (), id="explicit-empty"),
    ],
)
def test_scheduler_names_are_defaulted_like_kube_scheduler(body, names):
    (config,) = configs_in(config_doc(body))
    assert config.scheduler_names == names


def test_fit_strategy_defaults_when_not_written():
    (config,) = configs_in(config_doc("profiles: [{schedulerName: a}]"))
    strategy = config.profiles[0].fit_strategy()
    assert not strategy.written
    assert strategy.type == LEAST_ALLOCATED
    assert [(r.name, r.weight) for r in strategy.resources] == [
        ("cpu", 1),
        ("memory", 1),
    ]
    assert strategy.spreads
    assert not strategy.packs


def test_written_strategy_keeps_missing_type_and_defaults_weights():
    strategy = strategy_of(
        fit(
            "{resources: [{name: nvidia.com/gpu, weight: 0}, {name: cpu}, {name: m, weight: x}]}"
        )
    )
    assert strategy.written
    assert strategy.type == ""
    assert [(r.name, r.weight) for r in strategy.resources] == [
        ("nvidia.com/gpu", 1),
        ("cpu", 1),
        ("m", None),
    ]
    assert strategy.resources[0].path == (
        "profiles",
        0,
        "pluginConfig",
        0,
        "args",
        "scoringStrategy",
        "resources",
        0,
    )


def test_empty_resources_list_gets_cpu_and_memory():
    strategy = strategy_of(fit("{type: MostAllocated, resources: []}"))
    assert not strategy.resources_written
    assert [r.name for r in strategy.resources] == ["cpu", "memory"]
    assert strategy.packs


@pytest.mark.parametrize(
    ("shape", "packs", "spreads"),
    [
        pytest.param(
            "[{utilization: 0, score: 0}, {utilization: 100, score: 10}]",
            True,
            False,
            id="rising",
        ),
        pytest.param(
            "[{utilization: 0, score: 10}, {utilization: 100, score: 0}]",
            False,
            True,
            id="falling",
        ),
        pytest.param("[{utilization: 0, score: 5}]", False, False, id="one-point"),
        pytest.param(
            "[{utilization: 0, score: 5}, {utilization: 100, score: 5}]",
            False,
            False,
            id="flat",
        ),
        pytest.param("bad", False, False, id="malformed"),
    ],
)
def test_requested_to_capacity_ratio_direction(shape, packs, spreads):
    strategy = strategy_of(
        fit(
            f"{{type: RequestedToCapacityRatio, requestedToCapacityRatio: {{shape: {shape}}}}}"
        )
    )
    assert strategy.ratio_written
    assert strategy.packs is packs
    assert strategy.spreads is spreads


def test_shape_points_default_missing_fields_to_zero():
    strategy = strategy_of(
        fit(
            "{type: RequestedToCapacityRatio, requestedToCapacityRatio: {shape: [{score: 3}]}}"
        )
    )
    assert strategy.shape is not None
    assert [(p.utilization, p.score) for p in strategy.shape] == [(0, 3)]


def test_weight_share():
    strategy = strategy_of(
        fit(
            "{type: MostAllocated, resources: [{name: nvidia.com/gpu, weight: 3}, {name: cpu}, {name: memory}]}"
        )
    )
    assert strategy.weight_share(strategy.resources[0]) == Fraction(3, 5)
    broken = strategy_of(fit("{resources: [{name: a, weight: -1}, {name: b}]}"))
    assert broken.weight_share(broken.resources[1]) is None


def test_scores_with_reads_disabled_and_reenabled_plugins():
    (config,) = configs_in(
        config_doc(
            "profiles:\n"
            "  - schedulerName: a\n"
            "    plugins: {score: {disabled: [{name: '*'}], enabled: [{name: NodeResourcesFit}]}}\n"
            "  - schedulerName: b\n"
            "    plugins: {multiPoint: {disabled: [{name: NodeResourcesFit}]}}\n"
        )
    )
    a, b = config.profiles
    assert a.scores_with("NodeResourcesFit")
    assert not a.scores_with("ImageLocality")
    assert not b.scores_with("NodeResourcesFit")


def test_scheduler_index_is_built_once_per_graph():
    docs = [
        config_doc("profiles: [{schedulerName: gpu-binpack}]"),
        resource(
            "apiVersion: v1\nkind: ConfigMap\ndata:\n"
            '  j: \'{"schedulerName": "json-sched"}\'\n'
            "  y: 'schedulerName: yaml-sched'\n"
        ),
        resource(
            "apiVersion: apps/v1\nkind: Deployment\nspec: {template: {spec: {containers: "
            "[{name: s, command: [kube-scheduler, --scheduler-name, flag-sched]}]}}}"
        ),
        resource(
            "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec: {template: {spec: "
            "{schedulerName: gpu-binpack, containers: [{name: c, resources: {limits: "
            "{nvidia.com/gpu: 1, nvidia.com/mig-1g.10gb: 1}}}]}}}"
        ),
        resource(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: "
            "[{name: c, resources: {limits: {nvidia.com/gpu: 1}}}]}"
        ),
    ]
    graph = ObjectGraph(docs)
    index = scheduler_index(graph)
    assert scheduler_index(graph) is index
    assert index.profile_names == frozenset({"gpu-binpack"})
    assert {"json-sched", "yaml-sched", "flag-sched"} <= index.mentioned_names
    users = index.accelerator_users
    assert [u.names for u in users["gpu-binpack"]] == [
        ("nvidia.com/gpu", "nvidia.com/mig-1g.10gb")
    ]
    assert [u.resource.name for u in users[DEFAULT_SCHEDULER]] == ["p"]


def test_empty_graph_has_no_configs():
    index = scheduler_index(ObjectGraph([]))
    assert index.configs == ()
    assert index.profile_names == frozenset()


def test_external_schedulers_catalog():
    names = external_schedulers()
    assert {"volcano", "kai-scheduler", "yunikorn"} <= names
    assert DEFAULT_SCHEDULER not in names


def test_config_folders_are_the_folders_of_their_files():
    config = Resource(
        raw={
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
        },
        source=Source(file="charts/sched/templates/config.yaml", line=1),
    )
    pod = Resource(
        raw={"apiVersion": "v1", "kind": "Pod"},
        source=Source(file="charts\\sched\\templates\\pod.yaml", line=1),
    )
    graph = ObjectGraph([config, pod])
    index = scheduler_index(graph)
    assert index.config_folders == frozenset({"charts/sched/templates"})
    assert folder_of(pod) == "charts/sched/templates"


def test_aks_scheduler_configuration_raw_config():
    aks = resource(
        "apiVersion: aks.azure.com/v1alpha1\nkind: SchedulerConfiguration\n"
        "spec:\n  rawConfig: |\n"
        "    apiVersion: kubescheduler.config.k8s.io/v1\n"
        "    kind: KubeSchedulerConfiguration\n"
        "    profiles: [{schedulerName: gpu}]\n"
    )
    (config,) = configs_in(aks)
    assert config.text_path == ("spec", "rawConfig")
    assert config.scheduler_names == ("gpu",)


@pytest.mark.parametrize(
    ("plugins", "scores"),
    [
        pytest.param("{}", True, id="default"),
        pytest.param(
            "{multiPoint: {disabled: [{name: '*'}]}}", False, id="all-multipoint-off"
        ),
        pytest.param(
            "{multiPoint: {disabled: [{name: '*'}]}, score: {enabled: [{name: NodeResourcesFit}]}}",
            True,
            id="score-re-enables",
        ),
        pytest.param(
            "{multiPoint: {enabled: [{name: NodeResourcesFit}]}, score: {disabled: [{name: '*'}]}}",
            False,
            id="score-disables-over-multipoint",
        ),
        pytest.param(
            "{score: {disabled: [{name: ImageLocality}]}}", True, id="other-off"
        ),
    ],
)
def test_scores_with_precedence(plugins, scores):
    (config,) = configs_in(config_doc(f"profiles: [{{plugins: {plugins}}}]"))
    assert config.profiles[0].scores_with("NodeResourcesFit") is scores
