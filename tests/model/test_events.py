from datetime import UTC, datetime

import pytest

from kubernai.load.files import LoadResult, load_text
from kubernai.model.events import (
    ReasonKind,
    events_about,
    format_time,
    gpu_resource_named,
    happened_after,
    latest,
    parse_scheduling_failure,
    parse_timestamp,
    quoted,
    read_event,
    representative,
    seen,
    total_count,
)
from kubernai.model.graph import ObjectGraph

INS = ReasonKind.INSUFFICIENT
TNT = ReasonKind.TAINT
AFF = ReasonKind.NODE_AFFINITY
UNS = ReasonKind.UNSCHEDULABLE
PAF = ReasonKind.POD_AFFINITY
OTH = ReasonKind.OTHER
PODS = ReasonKind.TOO_MANY_PODS

# Every message of shared/reference/failedscheduling_real.json (26, verbatim), with
# what the parser must read: PODS of "0/N", the prefix when there is no "0/N", the
# reasons as (count, kind, resource or taint key), and whether preemption spoke.
REAL = [
    pytest.param(
        "0/1 nodes are available: 1 Insufficient nvidia.com/gpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod..",
        1, "", [(1, INS, "nvidia.com/gpu")], True,
        id="k8s-device-plugin#430 double period",
    ),
    pytest.param(
        "Insufficient nvidia.com/gpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
        None, "", [(None, INS, "nvidia.com/gpu")], True,
        id="k8s-device-plugin#348 fragment",
    ),
    pytest.param(
        "0/1 nodes are available: 1 node(s) had untolerated taint {gpu: }. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling..",
        1, "", [(1, TNT, "gpu")], True,
        id="k8s-device-plugin#421 empty taint value",
    ),
    pytest.param(
        "0/2 nodes are available: 1 Insufficient nvidia.com/gpu, 1 node(s) were unschedulable.",
        2, "", [(1, INS, "nvidia.com/gpu"), (1, UNS, "")], False,
        id="k8s-device-plugin#119 cordoned",
    ),
    pytest.param(
        "0/6 nodes are available: 3 node(s) didn't match node selector, 6 Insufficient nvidia.com/gpu.",
        6, "", [(3, AFF, ""), (6, INS, "nvidia.com/gpu")], False,
        id="k8s-device-plugin#283 old node selector wording",
    ),
    pytest.param(
        "0/2 nodes are available: 2 Insufficient nvidia.com/gpu",
        2, "", [(2, INS, "nvidia.com/gpu")], False,
        id="k8s-device-plugin#159 no period",
    ),
    pytest.param(
        "0/3 nodes are available: 3 insufficient nvidia.com/gpu.",
        3, "", [(3, INS, "nvidia.com/gpu")], False,
        id="k8s-device-plugin#165 lower case",
    ),
    pytest.param(
        "0/1 nodes are available: 1 Insufficient nvidia.com/gpu",
        1, "", [(1, INS, "nvidia.com/gpu")], False,
        id="k8s-device-plugin#33",
    ),
    pytest.param(
        "0/6 nodes are available: 6 Insufficient nvidia.com/gpu.",
        6, "", [(6, INS, "nvidia.com/gpu")], False,
        id="k8s-device-plugin#245",
    ),
    pytest.param(
        "0/5 nodes are available: 1 Insufficient nvidia.com/gpu, 4 node(s) didn't match Pod's node affinity/selector. preemption: 0/5 nodes are available: 1 No preemption victims found for incoming pod, 4 Preemption is not helpful for scheduling.",
        5, "", [(1, INS, "nvidia.com/gpu"), (4, AFF, "")], True,
        id="amazon-eks-ami#2342",
    ),
    pytest.param(
        "0/4 nodes are available: 1 node(s) didn't match pod affinity rules, 3 Insufficient nvidia.com/gpu. preemption: 0/4 nodes are available: 1 Preemption is not helpful for scheduling, 3 No preemption victims found for incoming pod.",
        4, "", [(1, PAF, ""), (3, INS, "nvidia.com/gpu")], True,
        id="devpod-provider-kubernetes#63 pod affinity",
    ),
    pytest.param(
        "0/1 nodes are available: 1 Insufficient amd.com/gpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod..",
        1, "", [(1, INS, "amd.com/gpu")], True,
        id="k3s#8575 amd",
    ),
    pytest.param(
        "0/2 nodes are available: 1 Insufficient nvidia.com/gpucores, 1 Insufficient nvidia.com/gpumem, 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling..",
        2, "",
        [
            (1, INS, "nvidia.com/gpucores"),
            (1, INS, "nvidia.com/gpumem"),
            (1, TNT, "node-role.kubernetes.io/control-plane"),
        ],
        True,
        id="HAMi#1429 counts above N",
    ),
    pytest.param(
        "0/4 nodes are available: 1 NodeUnfitPod, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 2 node unregistered. preemption: 0/4 nodes are available: 1 Preemption is not helpful for scheduling, 3 No preemption victims found for incoming pod..",
        4, "", [(1, OTH, ""), (1, TNT, "node.kubernetes.io/unreachable"), (2, OTH, "")], True,
        id="HAMi#1527 extender reasons",
    ),
    pytest.param(
        "0/4 nodes are available: 3 node unregistered. preemption: 0/4 nodes are available: 4 No preemption victims found for incoming pod..",
        4, "", [(3, OTH, "")], True,
        id="HAMi#620",
    ),
    pytest.param(
        "0/10 nodes are available: 1 node unregisterd, 6 node(s) didn't match Pod's node affinity/selector.",
        10, "", [(1, OTH, ""), (6, AFF, "")], False,
        id="HAMi#75",
    ),
    pytest.param(
        "0/8 nodes are available: 8 Insufficient cpu, 8 Insufficient memory, 8 Insufficient nvidia.com/gpu.",
        8, "", [(8, INS, "cpu"), (8, INS, "memory"), (8, INS, "nvidia.com/gpu")], False,
        id="autoscaler#3448 several per node",
    ),
    pytest.param(
        "0/2 nodes are available: 2 Insufficient nvidia.com/gpu, 2 node(s) didn't match node selector.",
        2, "", [(2, INS, "nvidia.com/gpu"), (2, AFF, "")], False,
        id="kserve#794",
    ),
    pytest.param(
        "0/6 nodes are available: 6 Insufficient nvidia.com/gpu.",
        6, "", [(6, INS, "nvidia.com/gpu")], False,
        id="kubeflow#794",
    ),
    pytest.param(
        "0/5 nodes are available: 5 Insufficient nvidia.com/gpu.",
        5, "", [(5, INS, "nvidia.com/gpu")], False,
        id="kubeflow#1262",
    ),
    pytest.param(
        "0/8 nodes are available: 8 Insufficient k8s.amazonaws.com/vgpu.",
        8, "", [(8, INS, "k8s.amazonaws.com/vgpu")], False,
        id="aws-virtual-gpu-device-plugin#26",
    ),
    pytest.param(
        "0/4 nodes are available: 1 Insufficient tencent.com/vcuda-core, 3 node(s) didn't match node selector.",
        4, "", [(1, INS, "tencent.com/vcuda-core"), (3, AFF, "")], False,
        id="gpu-admission#1",
    ),
    pytest.param(
        "0/2 nodes are available: 2 Insufficient aliyun.com/gpu-mem",
        2, "", [(2, INS, "aliyun.com/gpu-mem")], False,
        id="gpushare-scheduler-extender#59",
    ),
    pytest.param(
        "0/41 nodes are available: 2 Insufficient pods, 35 Insufficient cpu, 4 Insufficient memory.",
        41, "", [(2, PODS, ""), (35, INS, "cpu"), (4, INS, "memory")], False,
        id="jupyter-apis#57 Insufficient pods",
    ),
    pytest.param(
        "pod didn't trigger scale-up: 1 max node group size reached, 2 node(s) didn't match Pod's node affinity/selector, 1 Insufficient nvidia.com/mig-1g.10gb",
        None, "pod didn't trigger scale-up",
        [(1, OTH, ""), (2, AFF, ""), (1, INS, "nvidia.com/mig-1g.10gb")],
        False,
        id="gpu-operator#693 autoscaler NotTriggerScaleUp",
    ),
    pytest.param(
        "No nodes with enough resources were found: 2 node(s) didn't have enough resources: GPUs.",
        None, "No nodes with enough resources were found", [(2, OTH, "")], False,
        id="KAI-Scheduler#39 other scheduler",
    ),
]  # fmt: skip


def _shape(reason):
    name = reason.resource if reason.kind == INS else (reason.taint_key or "")
    return (reason.count, reason.kind, name)


@pytest.mark.parametrize(("message", "nodes", "prefix", "reasons", "preempted"), REAL)
def test_real_failed_scheduling_messages(message, nodes, prefix, reasons, preempted):
    failure = parse_scheduling_failure(message)
    assert failure is not None
    assert failure.nodes == nodes
    assert failure.prefix == prefix
    assert [_shape(r) for r in failure.reasons] == reasons
    assert bool(failure.preemption) == preempted
    assert "preemption:" not in failure.text


def test_the_scheduling_part_is_kept_for_quoting():
    failure = parse_scheduling_failure(
        "0/1 nodes are available: 1 Insufficient nvidia.com/gpu. preemption: 0/1 "
        "nodes are available: 1 No preemption victims found for incoming pod.."
    )
    assert failure is not None
    assert failure.text == "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
    assert failure.preemption == (
        "0/1 nodes are available: 1 No preemption victims found for incoming pod"
    )


@pytest.mark.parametrize(
    ("message", "key", "value"),
    [
        (
            "0/3 nodes are available: 3 node(s) had untolerated taint {nvidia.com/gpu: present}.",
            "nvidia.com/gpu",
            "present",
        ),
        (
            "0/1 nodes are available: 1 node(s) had taint {nvidia.com/gpu: true}, that the pod didn't tolerate.",
            "nvidia.com/gpu",
            "true",
        ),
        ("0/2 nodes are available: 2 node(s) had untolerated taint(s).", None, None),
    ],
)
def test_every_taint_wording(message, key, value):
    failure = parse_scheduling_failure(message)
    assert failure is not None
    (reason,) = failure.reasons
    assert reason.kind == ReasonKind.TAINT
    assert (reason.taint_key, reason.taint_value) == (key, value)


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity.", AFF),
        (
            "0/3 nodes are available: 3 node(s) didn't satisfy plugin(s) [NodeAffinity].",
            AFF,
        ),
        (
            "0/3 nodes are available: 3 node(s) didn't match pod topology spread constraints (missing required label).",
            ReasonKind.TOPOLOGY_SPREAD,
        ),
        ("0/3 nodes are available: 3 Too many pods.", PODS),
        (
            "0/3 nodes are available: 3 node(s) had volume node affinity conflict.",
            ReasonKind.VOLUME,
        ),
        (
            "0/3 nodes are available: 3 node(s) didn't satisfy existing pods anti-affinity rules.",
            PAF,
        ),
    ],
)
def test_other_reason_kinds(message, kind):
    failure = parse_scheduling_failure(message)
    assert failure is not None
    assert [r.kind for r in failure.reasons] == [kind]


def test_prefilter_message_without_counts():
    failure = parse_scheduling_failure(
        "0/3 nodes are available: pod affinity terms conflict. preemption: 0/3 nodes "
        "are available: 3 Preemption is not helpful for scheduling."
    )
    assert failure is not None
    assert failure.nodes == 3
    assert [(r.count, r.kind) for r in failure.reasons] == [(None, PAF)]


def test_volcano_and_truncated_messages():
    failure = parse_scheduling_failure(
        "0/3 nodes are unavailable: 3 Insufficient nvidia.com/gpu, 1 node(s) were "
        "unschedulable ..."
    )
    assert failure is not None
    assert failure.nodes == 3
    assert [r.kind for r in failure.reasons] == [INS, UNS]
    cut = parse_scheduling_failure(
        "0/3 nodes are available: 2 Insufficient cpu, 1 no ..."
    )
    assert cut is not None
    assert [r.kind for r in cut.reasons] == [INS, OTH]


@pytest.mark.parametrize("message", ["", "   ", None, 42, ["0/1"]])
def test_nothing_to_parse(message):
    assert parse_scheduling_failure(message) is None


def test_of_kind():
    failure = parse_scheduling_failure(
        "0/5 nodes are available: 1 Insufficient nvidia.com/gpu, 4 node(s) didn't "
        "match Pod's node affinity/selector."
    )
    assert failure is not None
    assert [r.count for r in failure.of_kind(AFF)] == [4]


@pytest.mark.parametrize(
    ("name", "gpu"),
    [
        ("nvidia.com/gpu", True),
        ("nvidia.com/mig-1g.10gb", True),
        ("nvidia.com/gpumem", True),
        ("amd.com/gpu", True),
        ("aliyun.com/gpu-mem", True),
        ("tencent.com/vcuda-core", True),
        ("k8s.amazonaws.com/vgpu", True),
        ("cpu", False),
        ("memory", False),
        ("example.com/foo", False),
    ],
)
def test_gpu_resource_named(name, gpu):
    assert gpu_resource_named(name) is gpu


# -- reading Events -----------------------------------------------------------------


def graph_of(text: str) -> ObjectGraph:
    loaded = LoadResult()
    load_text(text, "t.yaml", result=loaded)
    return ObjectGraph(loaded.resources)


CORE = """\
apiVersion: v1
kind: Event
metadata: {name: a.1, namespace: ml}
involvedObject: {kind: Pod, namespace: ml, name: a, uid: u1}
reason: FailedScheduling
type: Warning
source: {component: default-scheduler}
count: 7
firstTimestamp: "2025-05-01T10:00:00Z"
lastTimestamp: "2025-05-01T10:30:00Z"
message: "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
---
apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: a.2, namespace: ml}
regarding: {kind: Pod, namespace: ml, name: a, uid: u1}
reason: FailedScheduling
type: Warning
reportingController: default-scheduler
eventTime: "2025-05-01T10:31:00.123456Z"
series: {count: 3, lastObservedTime: "2025-05-01T10:40:00.000000Z"}
note: "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
---
apiVersion: v1
kind: Event
metadata: {name: a.3, namespace: ml}
involvedObject: {kind: Pod, namespace: ml, name: a, uid: u0}
reason: FailedScheduling
lastTimestamp: "2025-05-01T11:00:00Z"
message: "stale: an earlier pod of the same name"
---
apiVersion: v1
kind: Event
metadata: {name: a.4, namespace: ml}
involvedObject: {kind: Pod, name: a, uid: u1}
reason: Scheduled
source: {component: default-scheduler}
eventTime: "2025-05-01T10:50:00Z"
message: Successfully assigned ml/a to gpu-node-1
"""


def test_both_event_versions_read_the_same():
    graph = graph_of(CORE)
    first, second, _, scheduled = (read_event(r) for r in graph.of_kind("Event"))
    assert first is not None
    assert second is not None
    assert scheduled is not None
    assert (first.reason, first.count, first.component) == (
        "FailedScheduling",
        7,
        "default-scheduler",
    )
    assert first.message_path == ("message",)
    assert second.message_path == ("note",)
    assert second.count == 3
    assert second.component == "default-scheduler"
    assert second.last_seen == datetime(2025, 5, 1, 10, 40, tzinfo=UTC)
    assert second.first_seen == datetime(2025, 5, 1, 10, 31, 0, 123456, tzinfo=UTC)
    # involvedObject without a namespace takes the Event's
    assert scheduled.about.namespace == "ml"


def test_index_order_latest_and_counts():
    graph = graph_of(CORE)
    records = events_about(graph, "Pod", "ml", "a")
    assert [r.resource.name for r in records] == ["a.1", "a.2", "a.4", "a.3"]
    failed = frozenset({"FailedScheduling"})
    last = latest(records, failed, "u1")
    assert last is not None
    assert last.resource.name == "a.2"
    assert total_count(records, failed, "u1") == 10
    assert latest(records, failed) is records[-1]  # no uid: every incarnation
    assert representative(last, graph, failed)
    assert not representative(records[0], graph, failed)
    after = happened_after(last, graph, frozenset({"Scheduled"}))
    assert after is not None
    assert after.resource.name == "a.4"
    assert events_about(graph, "Pod", "ml", "missing") == ()


def test_read_event_of_other_kinds_and_groups():
    graph = graph_of(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n---\n"
        "apiVersion: example.com/v1\nkind: Event\nmetadata: {name: e}\n"
    )
    assert [read_event(r) for r in graph.resources] == [None, None]


def test_malformed_event_fields():
    graph = graph_of(
        "apiVersion: v1\nkind: Event\nmetadata: {name: e, namespace: x}\n"
        "involvedObject: [Pod]\nreason: [FailedScheduling]\nmessage: {a: b}\n"
        "count: -3\nlastTimestamp: yesterday\nseries: oops\n"
    )
    record = read_event(graph.resources[0])
    assert record is not None
    assert (record.reason, record.message, record.count) == ("", "", 1)
    assert record.last_seen is None
    assert record.about.name == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-05-01T10:00:00Z", datetime(2025, 5, 1, 10, tzinfo=UTC)),
        ("2025-05-01T10:00:00.5Z", datetime(2025, 5, 1, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2025-05-01T12:00:00+02:00", datetime(2025, 5, 1, 10, tzinfo=UTC)),
        ("2025-05-01T10:00:00", datetime(2025, 5, 1, 10, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
        (12, None),
        (None, None),
    ],
)
def test_parse_timestamp(value, expected):
    assert parse_timestamp(value) == expected


def test_formatting_helpers():
    graph = graph_of(CORE)
    record = read_event(graph.resources[0])
    assert record is not None
    assert format_time(record.last_seen) == "2025-05-01T10:30:00Z"
    assert format_time(None) == ""
    assert seen(record) == "(FailedScheduling x7, last 2025-05-01T10:30:00Z)"
    assert seen(record, 10) == "(FailedScheduling x10, last 2025-05-01T10:30:00Z)"
    assert quoted("a\n  b") == '"a b"'
    assert quoted("x" * 400, limit=20) == '"' + "x" * 17 + '..."'
