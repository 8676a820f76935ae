from fractions import Fraction

import pytest
import yaml

from kubernai.model.eviction import (
    QosClass,
    added_containers,
    gpu_request,
    pod_qos,
    prestop_sleep,
    sleep_seconds,
    termination_grace,
)
from kubernai.model.resource import Resource, Source


def resource(kind: str, body: str, api_version: str = "v1") -> Resource:
    raw = {"apiVersion": api_version, "kind": kind, **yaml.safe_load(body)}
    return Resource(raw=raw, source=Source(file="f", line=1))


def template(spec: str):
    (found,) = resource("Pod", f"spec: {spec}").templates
    return found


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param("{containers: [{name: a}]}", QosClass.BEST_EFFORT, id="nothing"),
        pytest.param(
            "{containers: [{resources: {limits: {nvidia.com/gpu: 1}}}]}",
            QosClass.BEST_EFFORT,
            id="gpu-does-not-count",
        ),
        pytest.param(
            "{containers: [{resources: {requests: {cpu: '0', memory: '0'}}}]}",
            QosClass.BEST_EFFORT,
            id="zero-ignored",
        ),
        pytest.param(
            "{containers: [{resources: {limits: {cpu: '1', memory: 1Gi}}}]}",
            QosClass.GUARANTEED,
            id="limits-default-requests",
        ),
        pytest.param(
            "{containers: [{resources: {requests: {cpu: 1000m, memory: 1024Mi},"
            " limits: {cpu: '1', memory: 1Gi}}}]}",
            QosClass.GUARANTEED,
            id="equal-in-other-units",
        ),
        pytest.param(
            "{containers: [{resources: {limits: {cpu: '1'}}}]}",
            QosClass.BURSTABLE,
            id="no-memory-limit",
        ),
        pytest.param(
            "{containers: [{resources: {requests: {cpu: 500m}, limits: {cpu: '1', memory: 1Gi}}}]}",
            QosClass.BURSTABLE,
            id="request-below-limit",
        ),
        pytest.param(
            "{containers: [{resources: {requests: {cpu: '0'}, limits: {cpu: '1', memory: 1Gi}}}]}",
            QosClass.BURSTABLE,
            id="explicit-zero-request",
        ),
        pytest.param(
            "{initContainers: [{resources: {requests: {cpu: 10m}}}],"
            " containers: [{resources: {limits: {cpu: '1', memory: 1Gi}}}]}",
            QosClass.BURSTABLE,
            id="init-container-counts",
        ),
        pytest.param(
            "{initContainers: [{resources: {limits: {cpu: 10m, memory: 10Mi}}}],"
            " containers: [{resources: {limits: {cpu: '1', memory: 1Gi}}}]}",
            QosClass.GUARANTEED,
            id="guaranteed-init-container",
        ),
        pytest.param(
            "{containers: [{resources: {limits: {cpu: '1', memory: 1Gi}}}, {name: sidecar}]}",
            QosClass.BURSTABLE,
            id="second-container-without-limits",
        ),
        pytest.param(
            "{containers: [{resources: {requests: {ephemeral-storage: 1Gi}}}]}",
            QosClass.BEST_EFFORT,
            id="storage-does-not-count",
        ),
    ],
)
def test_pod_qos_matches_compute_pod_qos(spec, expected):
    qos = pod_qos(template(spec))
    assert qos is not None
    assert qos.qos_class is expected


def test_burstable_reason_names_memory_first():
    qos = pod_qos(
        template(
            "{containers: [{name: t, resources: {requests: {cpu: '1', memory: 1Gi}}}]}"
        )
    )
    assert qos is not None
    assert qos.reason == "container 't' sets no memory limit"
    assert qos.path == ("spec", "containers", 0, "resources", "limits", "memory")


@pytest.mark.parametrize(
    "spec",
    [
        "{resources: {limits: {cpu: '1'}}, containers: [{name: a}]}",
        "{containers: [{resources: {limits: {cpu: lots}}}]}",
        "{containers: [{resources: {limits: {memory: $MEM}}}]}",
        "{containers: [{resources: {limits: {memory: [1]}}}]}",
    ],
    ids=["pod-level", "bad-quantity", "placeholder", "list"],
)
def test_pod_qos_unknown(spec):
    assert pod_qos(template(spec)) is None


@pytest.mark.parametrize(
    ("value", "seconds", "explicit"),
    [(None, 30, False), (0, 0, True), (600, 600, True), ("45", 45, True)],
)
def test_termination_grace(value, seconds, explicit):
    spec = {"containers": [], "terminationGracePeriodSeconds": value}
    grace = termination_grace(template(yaml.safe_dump(spec, default_flow_style=True)))
    assert grace is not None
    assert (grace.seconds, grace.explicit) == (seconds, explicit)


@pytest.mark.parametrize("value", ["$GRACE", "[30]", "true", "-5", "1.5"])
def test_termination_grace_unreadable(value):
    assert (
        termination_grace(template(f"{{terminationGracePeriodSeconds: {value}}}"))
        is None
    )


@pytest.mark.parametrize(
    ("argument", "seconds"),
    [
        ("30", Fraction(30)),
        ("1.5", Fraction(3, 2)),
        ("2m", Fraction(120)),
        ("1h", Fraction(3600)),
        ("'10'", Fraction(10)),
        ("infinity", None),
        ("$T", Fraction(-1)),
        ("1e3", Fraction(-1)),
    ],
)
def test_sleep_seconds(argument, seconds):
    assert sleep_seconds(argument) == seconds


@pytest.mark.parametrize(
    ("lifecycle", "seconds", "index"),
    [
        ("{preStop: {sleep: {seconds: 20}}}", Fraction(20), None),
        ("{preStop: {exec: {command: [sleep, '20']}}}", Fraction(20), 1),
        ("{preStop: {exec: {command: [/bin/sleep, 20]}}}", Fraction(20), 1),
        ("{preStop: {exec: {command: [/bin/sh, -c, 'sleep 20']}}}", Fraction(20), 2),
        ("{preStop: {exec: {command: [bash, -c, 'exec sleep 5m']}}}", Fraction(300), 2),
        (
            "{preStop: {exec: {command: [sh, -c, 'sleep 9; nginx -s quit']}}}",
            Fraction(9),
            2,
        ),
    ],
)
def test_prestop_sleep(lifecycle, seconds, index):
    (container,) = template(f"{{containers: [{{lifecycle: {lifecycle}}}]}}").containers
    hook = prestop_sleep(container)
    assert hook is not None
    assert hook.seconds == seconds
    if index is not None:
        assert hook.path[-1] == index


@pytest.mark.parametrize(
    "lifecycle",
    [
        "{preStop: {exec: {command: [sh, -c, 'nginx -s quit && sleep 20']}}}",
        "{preStop: {exec: {command: [sleep]}}}",
        "{preStop: {exec: {command: [sleep, '1', '2']}}}",
        "{preStop: {exec: {command: [python, -c, 'sleep 20']}}}",
        "{preStop: {httpGet: {path: /x, port: 80}}}",
        "{preStop: {sleep: {seconds: many}}}",
        "{postStart: {exec: {command: [sleep, '20']}}}",
    ],
)
def test_prestop_sleep_not_read(lifecycle):
    (container,) = template(f"{{containers: [{{lifecycle: {lifecycle}}}]}}").containers
    assert prestop_sleep(container) is None


def test_gpu_request_skips_tpus_init_containers_and_zero():
    spec = (
        "{initContainers: [{resources: {limits: {nvidia.com/gpu: 1}}}],"
        " containers: [{resources: {limits: {google.com/tpu: 4, amd.com/gpu: 0}}},"
        " {name: b, resources: {limits: {nvidia.com/mig-1g.10gb: 1}}}]}"
    )
    found = gpu_request(template(spec))
    assert found is not None
    assert (found[0].name, found[1]) == ("b", "nvidia.com/mig-1g.10gb")


def test_added_containers():
    pytorch = resource(
        "PyTorchJob",
        "spec: {pytorchReplicaSpecs: {Master: {template: {spec: {containers: []}}},"
        " Worker: {template: {spec: {containers: []}}}}}",
        "kubeflow.org/v1",
    )
    roles = {t.role: added_containers(pytorch, t) for t in pytorch.templates}
    assert roles["Master"] == ""
    assert "init-pytorch" in roles["Worker"]
    knative = resource(
        "Service",
        "spec: {template: {spec: {containers: []}}}",
        "serving.knative.dev/v1",
    )
    assert added_containers(knative, knative.templates[0])
