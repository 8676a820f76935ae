from fractions import Fraction

import pytest
import yaml

from kubernai.api import lint
from kubernai.model.gang import (
    GangMember,
    accelerator_demand,
    distributed_marker,
    gang_marker,
    is_checkable_queue_name,
    kubeflow_members,
    least_demand,
    volcano_job_gang,
    volcano_queue_refs,
)
from kubernai.model.resource import Resource, Source

GPU = "nvidia.com/gpu"


def resource(text: str) -> Resource:
    return Resource(raw=yaml.safe_load(text), source=Source(file="f.yaml", line=1))


def member(replicas: int, minimum: int, gpus: int) -> GangMember:
    demand = {GPU: Fraction(gpus)} if gpus else {}
    return GangMember("r", 0, replicas, minimum, demand)


VCJOB = """
apiVersion: batch.volcano.sh/v1alpha1
kind: Job
metadata: {name: j}
spec:
  minAvailable: %s
  tasks:
    - name: master
      replicas: 1
      template: {spec: {containers: [{name: c, resources: {limits: {cpu: 1}}}]}}
    - name: worker
      replicas: 4
      %s
      template: {spec: {containers: [{name: c, resources: {limits: {nvidia.com/gpu: 2}}}]}}
"""


def test_volcano_job_defaults_min_available_to_the_task_minimums():
    gang = volcano_job_gang(resource(VCJOB % ("null", "minAvailable: 2")))
    assert gang is not None
    assert gang.min_available == 3
    assert not gang.min_available_set
    assert gang.task_minimums_enforced
    assert gang.total_replicas == 5
    assert [m.minimum for m in gang.members] == [1, 2]
    assert gang.members[1].demand == {GPU: 2}


def test_volcano_job_min_available_below_task_sum_drops_task_minimums():
    gang = volcano_job_gang(resource(VCJOB % ("2", "")))
    assert gang is not None
    assert gang.min_available == 2
    assert gang.min_available_set
    assert not gang.task_minimums_enforced


@pytest.mark.parametrize(
    "replicas",
    ["", "replicas: $N", "replicas: [1]"],
    ids=["missing", "templated", "list"],
)
def test_volcano_job_with_unknown_replicas_is_unknown(replicas):
    text = VCJOB.replace("replicas: 4", replicas) % ("3", "")
    assert volcano_job_gang(resource(text)) is None


@pytest.mark.parametrize(
    ("members", "min_pods", "minimums", "expected"),
    [
        pytest.param([member(1, 1, 0), member(4, 4, 2)], 5, True, 8, id="all"),
        pytest.param([member(1, 1, 0), member(4, 2, 2)], 3, True, 4, id="task-min"),
        pytest.param([member(1, 1, 0), member(4, 4, 2)], 2, False, 2, id="cheapest"),
        pytest.param([member(2, 0, 8), member(2, 0, 1)], 3, False, 10, id="mixed"),
        pytest.param([member(2, 0, 8)], 5, False, 16, id="short-of-pods"),
        pytest.param([], 3, True, 0, id="empty"),
    ],
)
def test_least_demand(members, min_pods, minimums, expected):
    got = least_demand(members, min_pods=min_pods, minimums=minimums, name=GPU)
    assert got == expected


def test_accelerator_demand_counts_the_effective_pod_request():
    (template,) = resource(
        "apiVersion: v1\nkind: Pod\nspec:\n"
        "  initContainers: [{resources: {limits: {nvidia.com/gpu: 4}}}]\n"
        "  containers:\n"
        "    - {resources: {limits: {nvidia.com/gpu: 1, cpu: 2}}}\n"
        "    - {resources: {requests: {amd.com/gpu: 2}, limits: {amd.com/gpu: 2}}}\n"
    ).templates
    assert accelerator_demand(template) == {GPU: 4, "amd.com/gpu": 2}


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        ("{env: [{name: WORLD_SIZE, value: '4'}]}", "env WORLD_SIZE in container"),
        (
            "{args: ['python -m torch.distributed.run train.py']}",
            "torch.distributed.run",
        ),
        ("{command: mpirun}", "'mpirun' in container"),
        ("{command: [python, train.py], env: [{name: NCCL_DEBUG}]}", ""),
        ("{env: 'WORLD_SIZE=4', command: {a: torchrun}}", ""),
    ],
)
def test_distributed_marker(container, expected):
    (template,) = resource(
        f"kind: Pod\napiVersion: v1\nspec: {{containers: [{container}]}}"
    ).templates
    found = distributed_marker(template)
    assert (expected in found) if expected else found == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "metadata: {labels: {kueue.x-k8s.io/queue-name: q}}",
            "kueue.x-k8s.io/queue-name",
        ),
        (
            "metadata: {annotations: {kueue.x-k8s.io/queue-name: q}}",
            "kueue.x-k8s.io/queue-name",
        ),
        ("spec: {runPolicy: {schedulingPolicy: {}}}", "runPolicy.schedulingPolicy"),
        ("spec: {runPolicy: {cleanPodPolicy: None}}", ""),
    ],
)
def test_gang_marker_on_the_object(text, expected):
    base = yaml.safe_load(
        "apiVersion: kubeflow.org/v1\nkind: PyTorchJob\nmetadata: {name: j}"
    )
    extra = yaml.safe_load(text)
    for key, value in extra.items():
        base.setdefault(key, {}).update(value)
    assert gang_marker(Resource(raw=base, source=Source("f", 1))) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            "{metadata: {labels: {pod-group.scheduling.sigs.k8s.io/name: g}}, spec: {}}",
            "pod-group",
        ),
        ("{spec: {schedulerName: volcano}}", "schedulerName volcano"),
        ("{spec: {schedulerName: default-scheduler}}", ""),
        ("{spec: {schedulerName: ''}}", ""),
    ],
)
def test_gang_marker_on_the_pod_template(template, expected):
    found = gang_marker(
        resource(f"apiVersion: batch/v1\nkind: Job\nspec: {{template: {template}}}")
    )
    assert (expected in found) if expected else found == ""


def test_kubeflow_members_written_only():
    job = resource(
        "apiVersion: kubeflow.org/v1\nkind: PyTorchJob\nspec:\n  pytorchReplicaSpecs:\n"
        "    Master: {template: {spec: {containers: []}}}\n"
        "    Worker: {replicas: 3, template: {spec: {containers: []}}}\n"
    )
    members = kubeflow_members(job)
    assert members is not None
    assert [(m.role, m.replicas) for m in members] == [("Master", 1), ("Worker", 3)]
    assert kubeflow_members(job, written_only=True) is None


def test_queue_refs_pod_annotation_only_for_volcano_pods():
    text = (
        "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n"
        "    metadata: {annotations: {scheduling.volcano.sh/queue-name: q}}\n"
        "    spec: {schedulerName: %s, containers: []}\n"
    )
    (ref,) = volcano_queue_refs(resource(text % "volcano"))
    assert ref.name == "q"
    assert ref.path == (
        "spec",
        "template",
        "metadata",
        "annotations",
        "scheduling.volcano.sh/queue-name",
    )
    assert list(volcano_queue_refs(resource(text % "default-scheduler"))) == []


def test_queue_refs_mpijob_policy_wins_over_annotation():
    job = resource(
        "apiVersion: kubeflow.org/v2beta1\nkind: MPIJob\n"
        "metadata: {annotations: {scheduling.volcano.sh/queue-name: a}}\n"
        "spec: {runPolicy: {schedulingPolicy: {queue: b}}}\n"
    )
    assert [r.name for r in volcano_queue_refs(job)] == ["b"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [("team-a", True), ("default", False), ("root", False), ("", False), ("$Q", False)],
)
def test_checkable_queue_names(name, expected):
    assert is_checkable_queue_name(name) is expected


QUEUE = "apiVersion: scheduling.volcano.sh/v1beta1\nkind: Queue\nmetadata: {name: research}\n"
JOB = (
    "apiVersion: batch.volcano.sh/v1alpha1\nkind: Job\nmetadata: {name: j}\n"
    "spec: {queue: other, tasks: [{name: w, replicas: 1, template: {spec: {}}}]}\n"
)


def test_missing_queue_needs_queues_next_to_the_object(tmp_path):
    (tmp_path / "queues").mkdir()
    (tmp_path / "jobs").mkdir()
    (tmp_path / "queues" / "q.yaml").write_text(QUEUE)
    (tmp_path / "jobs" / "j.yaml").write_text(JOB)
    report = lint([str(tmp_path)], rules=["CLU073"])
    assert [f for f in report.findings if f.code == "CLU073"] == []
    (tmp_path / "jobs" / "q.yaml").write_text(QUEUE.replace("research", "batch"))
    report = lint([str(tmp_path)], rules=["CLU073"])
    (finding,) = [f for f in report.findings if f.code == "CLU073"]
    assert "(batch, research)" in finding.message
