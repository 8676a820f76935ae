from __future__ import annotations

import pytest

from kubernai.load.files import LoadResult, load_text
from kubernai.model.elastic import (
    COMMAND_LINE,
    CONTAINER_ENV,
    DEFAULT,
    OPERATOR,
    UNKNOWN,
    as_int,
    elastic_range,
    endpoint_service,
    env_name,
    hostname_of,
    is_loopback,
    job_rendezvous,
    operator_settings,
    port_of,
    service_ports,
    worker_port,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, format_path

ELASTIC = """\
apiVersion: v1
kind: Service
metadata: {name: etcd, namespace: ml}
spec:
  ports: [{port: 2379}, {port: "x"}]
---
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: gpt, namespace: ml}
spec:
  elasticPolicy:
    rdzvBackend: etcd
    rdzvHost: etcd
    rdzvPort: 2379
    maxReplicas: 4
    maxRestarts: 5
  pytorchReplicaSpecs:
    Worker:
      replicas: 2
      template:
        spec:
          containers:
            - name: pytorch
              command: [torchrun, --rdzv-id=gpt, train.py, --nnodes=9]
              env:
                - {name: PET_MAX_RESTARTS, value: "1"}
                - {name: PET_NODE_RANK, value: "3"}
"""

PLAIN = """\
apiVersion: batch/v1
kind: Job
metadata: {name: train}
spec:
  template:
    spec:
      containers:
        - name: a
          command: [torchrun, --nnodes=2, train.py]
          env: [{name: PET_MASTER_ADDR, valueFrom: {fieldRef: {fieldPath: x}}}]
        - name: b
          command: [bash, -c, "export PET_RDZV_ENDPOINT=x:1; torchrun train.py"]
          envFrom: [{configMapRef: {name: c}}]
        - name: c
          command: [torchrun, --standalone, train.py]
          env: [{name: PET_STANDALONE, value: "0"}]
        - name: d
          command: [python, train.py]
"""


def load(text: str) -> ObjectGraph:
    loaded = LoadResult()
    load_text(text, "t.yaml", result=loaded)
    return ObjectGraph(loaded.resources)


def job(graph: ObjectGraph, kind: str) -> Resource:
    (found,) = graph.of_kind(kind)
    return found


def test_operator_settings_win_over_container_env_but_not_the_command_line():
    g = load(ELASTIC)
    pytorchjob = job(g, "PyTorchJob")
    (found,) = job_rendezvous(pytorchjob)
    nnodes = found["--nnodes"]
    assert (nnodes.origin, nnodes.value) == (OPERATOR, "4:4")
    assert format_path(nnodes.path) == "spec.elasticPolicy.maxReplicas"
    assert found["--max-restarts"].origin == OPERATOR
    assert found["--max-restarts"].value == "5"
    assert found["--rdzv-endpoint"].value == "etcd:2379"
    assert found["--rdzv-id"].origin == COMMAND_LINE
    assert found["--node-rank"].origin == CONTAINER_ENV  # no Master replica
    assert found["--master-addr"].origin == DEFAULT
    assert found.backend == "etcd"
    assert found.standalone is False
    assert found.node_range() == (4, 4)
    assert "set by the operator from" in found["--max-restarts"].describe()


def test_elastic_range_defaults():
    g = load(ELASTIC)
    node_range = elastic_range(job(g, "PyTorchJob"))
    assert node_range is not None
    assert (node_range.low, node_range.high) == (4, 4)
    assert "minReplicas defaults to it" in node_range.text
    assert elastic_range(job(g, "Service")) is None


def test_worker_replicas_are_the_default_range_and_port():
    g = load(
        ELASTIC.replace("    maxReplicas: 4\n", "").replace(
            "            - name: pytorch\n",
            "            - name: pytorch\n"
            "              ports: [{name: pytorchjob-port, containerPort: 29500}]\n",
        )
    )
    pytorchjob = job(g, "PyTorchJob")
    node_range = elastic_range(pytorchjob)
    assert node_range is not None
    assert (node_range.low, node_range.high) == (2, 2)
    assert worker_port(pytorchjob) == "29500"


def test_unknown_and_default_origins():
    g = load(PLAIN)
    a, b, c = job_rendezvous(job(g, "Job"))
    assert a["--master-addr"].origin == UNKNOWN  # valueFrom
    assert not a["--master-addr"].known
    assert a["--rdzv-backend"].origin == DEFAULT
    assert a["--rdzv-backend"].value == "static"
    assert b["--rdzv-endpoint"].origin == UNKNOWN  # shell export
    assert b["--max-restarts"].origin == UNKNOWN  # envFrom
    assert c.standalone is True  # the command line wins over PET_STANDALONE=0
    assert c.backend == "c10d"
    assert "--rdzv-endpoint empty" in a["--rdzv-endpoint"].describe()


def test_trainer_kinds_are_unknown_and_plain_kinds_get_nothing():
    g = load(
        """\
apiVersion: trainer.kubeflow.org/v1alpha1
kind: TrainJob
metadata: {name: t}
spec:
  runtimeRef: {name: torch-distributed}
  trainer: {numNodes: 2, command: [torchrun, train.py]}
"""
    )
    trainjob = job(g, "TrainJob")
    assert operator_settings(trainjob) is None
    (found,) = job_rendezvous(trainjob)
    assert found["--master-addr"].origin == UNKNOWN
    assert operator_settings(job(load(PLAIN), "Job")) == {}


def test_non_elastic_pytorchjob_nnodes_is_the_pod_count():
    g = load(
        """\
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: ddp}
spec:
  pytorchReplicaSpecs:
    Master: {replicas: 1, template: {spec: {containers: [{name: pytorch}]}}}
    Worker: {template: {spec: {containers: [{name: pytorch}]}}}
"""
    )
    settings = operator_settings(job(g, "PyTorchJob"))
    assert settings is not None
    assert settings["--nnodes"].value == "2"
    assert settings["--master-addr"].value == "ddp-master-0"
    assert settings["--node-rank"].value is None
    assert "--rdzv-backend" not in settings


def test_endpoint_service_lookup():
    g = load(ELASTIC)
    pytorchjob = job(g, "PyTorchJob")
    for host in ("etcd", "etcd.ml", "etcd.ml.svc", "etcd.ml.svc.cluster.local"):
        found = endpoint_service(pytorchjob, host, g)
        assert found is not None
        assert found.name == "etcd"
        assert service_ports(found) == [2379]
    for host in ("etcd.example.com", "etcd.other", "$ETCD_HOST", "10.0.0.1"):
        assert endpoint_service(pytorchjob, host, g) is None


@pytest.mark.parametrize(
    ("endpoint", "host", "port"),
    [
        ("node-0.train:29400", "node-0.train", "29400"),
        ("node-0.train", "node-0.train", ""),
        ("[::1]:29400", "::1", "29400"),
        ("", "", ""),
    ],
)
def test_endpoint_parts(endpoint: str, host: str, port: str):
    assert hostname_of(endpoint) == host
    assert port_of(endpoint) == port


def test_small_helpers():
    assert env_name("--rdzv_backend") == "PET_RDZV_BACKEND"
    assert as_int("-1") == -1
    assert as_int(True) is None
    assert as_int([1]) is None
    assert is_loopback("127.0.0.1")
    assert is_loopback("LOCALHOST")
    assert is_loopback("::1")
    assert not is_loopback("train-0.train")
