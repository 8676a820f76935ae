from kubernai.load.files import LoadResult, load_text
from kubernai.model.pod_status import (
    condition,
    node_name,
    phase,
    pod_template,
    spec_container,
    state_messages,
    terminations,
    training_evidence,
    uid,
)


def load(text: str):
    loaded = LoadResult()
    load_text(text, "t.yaml", result=loaded)
    return loaded.resources


POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: w-0
  uid: u-1
  ownerReferences:
    - {apiVersion: kubeflow.org/v1, kind: PyTorchJob, name: llama, uid: j-1}
spec:
  nodeName: gpu-1
  initContainers:
    - name: init
  containers:
    - name: pytorch
      resources: {limits: {nvidia.com/gpu: 8, memory: 64Gi}}
status:
  phase: Running
  conditions:
    - {type: Initialized, status: "True"}
    - {type: PodScheduled, status: "True", reason: "", message: ""}
  initContainerStatuses:
    - name: init
      state:
        terminated: {reason: Completed, exitCode: 0}
  containerStatuses:
    - name: pytorch
      restartCount: 1
      state:
        waiting: {reason: CrashLoopBackOff, message: back-off 10s}
      lastState:
        terminated: {reason: OOMKilled, exitCode: 137, finishedAt: "2025-05-01T10:00:00Z"}
"""


def test_pod_fields():
    (pod,) = load(POD)
    assert (phase(pod), node_name(pod), uid(pod)) == ("Running", "gpu-1", "u-1")
    scheduled = condition(pod, "PodScheduled")
    assert scheduled is not None
    assert scheduled.path == ("status", "conditions", 1)
    assert scheduled.status == "True"
    assert condition(pod, "Ready") is None


def test_terminations_and_messages():
    (pod,) = load(POD)
    found = [
        (t.container, t.init, t.reason, t.exit_code, t.restarts)
        for t in terminations(pod)
    ]
    assert found == [
        ("init", True, "Completed", 0, None),
        ("pytorch", False, "OOMKilled", 137, 1),
    ]
    last = list(terminations(pod))[-1]
    assert last.path == ("status", "containerStatuses", 0, "lastState", "terminated")
    assert [(m.container, m.reason, m.message) for m in state_messages(pod)] == [
        ("pytorch", "CrashLoopBackOff", "back-off 10s")
    ]


def test_training_evidence():
    (pod,) = load(POD)
    assert training_evidence(pod) == "created by PyTorchJob llama"
    template = pod_template(pod)
    assert template is not None
    container = spec_container(template, "pytorch")
    assert container is not None
    assert container.limits["memory"] == "64Gi"
    assert spec_container(template, "nope") is None


def test_training_evidence_needs_a_gpu_and_a_training_owner():
    cpu_job, serving, labelled, deployment = load(
        """\
apiVersion: v1
kind: Pod
metadata:
  name: a
  ownerReferences: [{apiVersion: batch/v1, kind: Job, name: etl}]
spec:
  containers: [{name: c, resources: {limits: {cpu: "1"}}}]
---
apiVersion: v1
kind: Pod
metadata:
  name: b
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web}]
spec:
  containers: [{name: c, resources: {limits: {nvidia.com/gpu: 1}}}]
---
apiVersion: v1
kind: Pod
metadata:
  name: c
  labels: {training.kubeflow.org/job-name: resnet}
spec:
  containers: [{name: c, resources: {limits: {nvidia.com/gpu: 1}}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  template:
    spec:
      containers: [{name: c, resources: {limits: {nvidia.com/gpu: 1}}}]
"""
    )
    assert training_evidence(cpu_job) == ""
    assert training_evidence(serving) == ""
    assert training_evidence(labelled) == "label training.kubeflow.org/job-name=resnet"
    assert training_evidence(deployment) == ""
    assert pod_template(deployment) is None


def test_malformed_status():
    (pod,) = load(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: [{name: c}]}\n"
        "status:\n  phase: [Running]\n  conditions: {a: b}\n"
        "  containerStatuses: [oops, {name: c, state: [x], lastState: {terminated: oops}}]\n"
    )
    assert phase(pod) == ""
    assert condition(pod, "PodScheduled") is None
    assert list(terminations(pod)) == []
    assert list(state_messages(pod)) == []
