import pytest
import yaml

from kubernai.model.autoscaling import (
    DEFAULT_SCALE_DOWN_WINDOW_S,
    KEDA_DEFAULT_COOLDOWN_S,
    keda_cooldown,
    keda_hpa_name,
    keda_min_replicas,
    keda_scales_to_zero,
    measured_containers,
    metrics,
    owner_scaled_object,
    scale_down_window,
    scale_target,
    target_ref,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, Source


def obj(text: str) -> Resource:
    return Resource(raw=yaml.safe_load(text), source=Source(file="f", line=1))


def hpa(spec: str, version: str = "autoscaling/v2") -> Resource:
    return obj(
        f"apiVersion: {version}\nkind: HorizontalPodAutoscaler\n"
        f"metadata: {{name: h}}\nspec: {spec}"
    )


def scaled_object(spec: str, meta: str = "{name: so}") -> Resource:
    return obj(
        f"apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {meta}\n"
        f"spec: {spec}"
    )


def test_hpa_without_metrics_gets_the_cpu_default():
    (found,) = metrics(hpa("{scaleTargetRef: {kind: Deployment, name: x}}"))
    assert (found.source, found.resource, found.target_type) == (
        "Resource",
        "cpu",
        "Utilization",
    )
    assert found.defaulted
    assert found.describe() == "cpu Utilization 80% (the default)"


def test_empty_metrics_list_is_defaulted_too():
    (found,) = metrics(hpa("{metrics: []}"))
    assert found.defaulted


def test_autoscaling_v1_target():
    (found,) = metrics(hpa("{targetCPUUtilizationPercentage: 50}", "autoscaling/v1"))
    assert found.on_host_resource
    assert found.utilization
    assert not found.defaulted
    assert found.path == ("spec", "targetCPUUtilizationPercentage")
    (default,) = metrics(hpa("{}", "autoscaling/v1"))
    assert default.defaulted


def test_v2_metric_kinds():
    spec = """
      metrics:
        - {type: Resource, resource: {name: memory, target: {type: AverageValue}}}
        - type: ContainerResource
          containerResource: {name: cpu, container: app, target: {type: Utilization}}
        - {type: Pods, pods: {metric: {name: q}, target: {type: AverageValue}}}
        - {type: External, external: {metric: {name: e}, target: {type: Value}}}
        - {type: Object, object: {metric: {name: o}, target: {type: Value}}}
    """
    found = metrics(hpa(spec))
    assert [m.source for m in found] == [
        "Resource",
        "ContainerResource",
        "Pods",
        "External",
        "Object",
    ]
    assert [m.on_host_resource for m in found] == [True, True, False, False, False]
    assert found[1].container == "app"
    assert found[1].utilization
    assert found[0].target_type == "AverageValue"
    assert not found[0].utilization
    assert [m.name for m in found[2:]] == ["q", "e", "o"]
    assert found[3].path == ("spec", "metrics", 3)


def test_v2beta1_targets():
    spec = """
      metrics:
        - {type: Resource, resource: {name: cpu, targetAverageUtilization: 70}}
        - {type: Resource, resource: {name: memory, targetAverageValue: 1Gi}}
        - {type: Pods, pods: {metricName: q, targetAverageValue: "5"}}
    """
    found = metrics(hpa(spec, "autoscaling/v2beta1"))
    assert [m.target_type for m in found] == ["Utilization", "AverageValue", ""]
    assert found[2].name == "q"


@pytest.mark.parametrize(
    "spec",
    ['{metrics: "cpu"}', "{metrics: [null, 3, {type: Resource, resource: cpu}]}"],
)
def test_malformed_metrics_are_never_host_resources(spec):
    found = metrics(hpa(spec))
    assert found
    assert not any(m.on_host_resource for m in found)


def test_keda_triggers():
    spec = """
      triggers:
        - {type: cpu, metricType: Utilization, metadata: {value: "60"}}
        - {type: memory, metadata: {type: AverageValue, containerName: app}}
        - {type: prometheus, metadata: {query: "sum(vllm:num_requests_waiting)"}}
        - "oops"
    """
    found = metrics(scaled_object(spec))
    assert [(m.source, m.resource, m.target_type) for m in found] == [
        ("cpu", "cpu", "Utilization"),
        ("memory", "memory", "AverageValue"),
        ("prometheus", "", "AverageValue"),
    ]
    assert found[1].container == "app"
    assert found[2].name == "sum(vllm:num_requests_waiting)"
    assert found[0].describe() == "cpu Utilization trigger"


def test_other_kinds_have_no_metrics():
    assert metrics(obj("kind: Deployment\nmetadata: {name: d}")) == ()


def test_target_ref_defaults_for_keda():
    ref = target_ref(scaled_object("{scaleTargetRef: {name: llama}}"))
    assert ref is not None
    assert (ref.kind, ref.name) == ("Deployment", "llama")
    assert target_ref(hpa("{scaleTargetRef: {name: llama}}")) is None
    assert target_ref(hpa('{scaleTargetRef: "llama"}')) is None


def test_scale_target_is_unknown_when_the_input_has_two_copies():
    deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: llama}"
    scaler = scaled_object("{scaleTargetRef: {name: llama}}")
    one = obj(deployment)
    assert scale_target(ObjectGraph([one, scaler]), scaler) is one
    assert scale_target(ObjectGraph([one, obj(deployment), scaler]), scaler) is None


def test_windows():
    explicit = scale_down_window(
        hpa("{behavior: {scaleDown: {stabilizationWindowSeconds: 60}}}")
    )
    assert (explicit.seconds, explicit.explicit) == (60, True)
    default = scale_down_window(hpa("{}"))
    assert (default.seconds, default.explicit) == (DEFAULT_SCALE_DOWN_WINDOW_S, False)
    keda = scale_down_window(
        scaled_object(
            "{advanced: {horizontalPodAutoscalerConfig: "
            "{behavior: {scaleDown: {stabilizationWindowSeconds: 30}}}}}"
        )
    )
    assert keda.seconds == 30
    assert keda.path[-1] == "stabilizationWindowSeconds"
    bad = scale_down_window(
        hpa('{behavior: {scaleDown: {stabilizationWindowSeconds: "1m"}}}')
    )
    assert bad.seconds is None
    assert bad.explicit
    assert keda_cooldown(scaled_object("{}")).seconds == KEDA_DEFAULT_COOLDOWN_S
    assert keda_cooldown(scaled_object("{cooldownPeriod: 45}")).seconds == 45


def test_keda_replicas_and_hpa_name():
    assert keda_min_replicas(scaled_object("{}")) == 0
    assert keda_min_replicas(scaled_object("{minReplicaCount: 2}")) == 2
    assert keda_min_replicas(scaled_object('{minReplicaCount: "two"}')) is None
    assert keda_scales_to_zero(scaled_object("{}"))
    assert not keda_scales_to_zero(scaled_object("{minReplicaCount: 1}"))
    assert keda_scales_to_zero(
        scaled_object("{minReplicaCount: 1, idleReplicaCount: 0}")
    )
    assert keda_hpa_name(scaled_object("{}")) == "keda-hpa-so"
    custom = "{advanced: {horizontalPodAutoscalerConfig: {name: mine}}}"
    assert keda_hpa_name(scaled_object(custom)) == "mine"


def test_owner_scaled_object():
    owned = obj(
        "kind: HorizontalPodAutoscaler\nmetadata: {name: keda-hpa-x, ownerReferences:"
        " [{kind: ScaledObject, name: x}]}"
    )
    assert owner_scaled_object(owned) == "x"
    assert owner_scaled_object(hpa("{}")) == ""


def test_measured_containers_count_sidecars_not_init_containers():
    pod = obj(
        """
        kind: Pod
        metadata: {name: p}
        spec:
          initContainers:
            - {name: download}
            - {name: proxy, restartPolicy: Always}
          containers:
            - {name: app}
            - {name: exporter}
        """
    )
    (template,) = pod.templates
    assert [c.name for c in measured_containers(template)] == [
        "proxy",
        "app",
        "exporter",
    ]
    assert [c.name for c in measured_containers(template, "app")] == ["app"]
