import pytest
import yaml

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, Source
from kubernai.model.velero import (
    annotation_names,
    annotation_path,
    backup_spec,
    covers,
    filters_mixed,
    fs_backup_by_default,
    fs_backup_copies,
    is_go_duration,
    is_pod_annotation,
    is_zero_duration,
    labels_selected,
    namespace_included,
    pod_volumes,
    pods_included,
    selectors_conflict,
    server_flags,
    snapshot_move_data,
    velero_backups,
)


def resource(text: str) -> Resource:
    return Resource(raw=yaml.safe_load(text), source=Source(file="f", line=1))


def graph(*texts: str) -> ObjectGraph:
    return ObjectGraph([resource(t) for t in texts])


DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: vllm, namespace: llm}
spec:
  template:
    metadata:
      labels: {app: vllm}
      annotations:
        backup.velero.io/backup-volumes: "ckpt, cache"
        backup.velero.io/backup-volumes-excludes: cache
    spec:
      initContainers:
        - {name: init, image: x, volumeMounts: [{name: seed, mountPath: /seed}]}
      containers:
        - name: c
          image: x
          volumeMounts:
            - {name: ckpt, mountPath: /ckpt}
            - {name: cache, mountPath: /cache}
            - {name: host, mountPath: /host}
            - {name: cfg, mountPath: /cfg}
            - {name: claim, mountPath: /claim}
          volumeDevices: [{name: raw, devicePath: /dev/x}]
      volumes:
        - {name: ckpt, emptyDir: {}}
        - {name: cache, emptyDir: {}}
        - {name: host, hostPath: {path: /x}}
        - {name: cfg, configMap: {name: c}}
        - {name: seed, emptyDir: {}}
        - {name: raw, persistentVolumeClaim: {claimName: raw}}
        - {name: claim, persistentVolumeClaim: {claimName: claim}}
        - {name: default-token-abc, secret: {secretName: t}}
"""


@pytest.mark.parametrize(
    ("text", "valid", "zero"),
    [
        ("720h", True, False),
        ("720h0m0s", True, False),
        ("1.5h", True, False),
        (".5m", True, False),
        ("1h30m", True, False),
        ("300ms", True, False),
        ("0", True, True),
        ("-0", True, True),
        ("0s", True, True),
        ("0h0m0s", True, True),
        ("30d", False, False),
        ("1w", False, False),
        ("10", False, False),
        ("", False, False),
        ("4 hours", False, False),
        ("h", False, False),
    ],
)
def test_go_durations(text, valid, zero):
    assert is_go_duration(text) is valid
    assert is_zero_duration(text) is zero


def test_annotation_names_split_like_velero():
    assert annotation_names("a, b,,c,") == ["a", " b", "c"]
    assert annotation_names("") == []


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("backup.velero.io/backup-volumes", True),
        ("backup.velero.io/backup-volumes-excludes", True),
        ("pre.hook.backup.velero.io/command", True),
        ("hook.backup.velero.io/container", True),
        ("post.hook.restore.velero.io/command", True),
        ("init.hook.restore.velero.io/container-image", True),
        ("velero.io/exclude-from-backup", False),
        ("backup.velero.io/other", False),
    ],
)
def test_pod_annotations(key, expected):
    assert is_pod_annotation(key) is expected


@pytest.mark.parametrize(
    ("spec", "namespace", "expected"),
    [
        ({}, "llm", True),
        ({}, "", True),
        ({"includedNamespaces": ["*"]}, "llm", True),
        ({"includedNamespaces": ["llm"]}, "llm", True),
        ({"includedNamespaces": ["llm"]}, "", None),
        ({"includedNamespaces": ["ml"]}, "llm", False),
        ({"includedNamespaces": ["ll?"]}, "llm", True),
        ({"includedNamespaces": ["l*"]}, "llm", True),
        ({"includedNamespaces": ["{llm,ml}"]}, "llm", None),
        ({"excludedNamespaces": ["llm"]}, "llm", False),
        ({"excludedNamespaces": ["kube-*"]}, "llm", True),
        ({"excludedNamespaces": ["kube-*"]}, "", None),
        ({"excludedNamespaces": ["[a-z]lm"]}, "llm", None),
        ({"includedNamespaces": "llm"}, "llm", True),  # not a list: empty
        ({"includedNamespaces": [1]}, "llm", None),
    ],
)
def test_namespace_included(spec, namespace, expected):
    assert namespace_included(spec, namespace) is expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, True),
        ({"includedResources": ["*"]}, True),
        ({"includedResources": ["pods", "persistentvolumeclaims"]}, True),
        ({"includedResources": ["Pod"]}, True),
        ({"includedResources": ["deployments"]}, False),
        ({"excludedResources": ["po"]}, False),
        ({"excludedNamespaceScopedResources": ["*"]}, False),
        ({"includedNamespaceScopedResources": ["configmaps"]}, False),
        ({"includedNamespaceScopedResources": ["pods"]}, True),
        (
            {"includedResources": ["pods"], "includedClusterScopedResources": ["*"]},
            False,
        ),
        ({"includedResources": [{"pods": 1}]}, False),
    ],
)
def test_pods_included(spec, expected):
    assert pods_included(spec) is expected


def test_filters_and_selectors():
    assert filters_mixed(
        {"includeClusterResources": False, "excludedClusterScopedResources": ["x"]}
    )
    assert not filters_mixed({"includeClusterResources": None, "includedResources": []})
    assert selectors_conflict({"labelSelector": {}, "orLabelSelectors": []})
    assert not selectors_conflict({"labelSelector": {}, "orLabelSelectors": None})
    labels = {"app": "vllm"}
    assert labels_selected({}, labels)
    assert labels_selected({"labelSelector": {"matchLabels": labels}}, labels)
    assert not labels_selected({"labelSelector": {"matchLabels": {"app": "x"}}}, labels)
    assert labels_selected(
        {"orLabelSelectors": [{"matchLabels": {"a": "b"}}, {"matchLabels": labels}]},
        labels,
    )
    assert not labels_selected({"orLabelSelectors": "x"}, labels)
    assert not labels_selected({"labelSelector": "app=vllm"}, labels)


def test_backup_spec_and_paused_schedules():
    g = graph(
        "{apiVersion: velero.io/v1, kind: Backup, metadata: {name: b}, spec: {ttl: 1h}}",
        "{apiVersion: velero.io/v1, kind: Schedule, metadata: {name: s}, spec: {template: {ttl: 2h}}}",
        "{apiVersion: velero.io/v1, kind: Schedule, metadata: {name: p}, spec: {paused: true, template: {}}}",
        "{apiVersion: velero.io/v1, kind: Schedule, metadata: {name: t}, spec: {schedule: x}}",
        "{apiVersion: velero.io/v1, kind: Schedule, metadata: {name: bad}, spec: {template: x}}",
        "{apiVersion: k8up.io/v1, kind: Schedule, metadata: {name: k}, spec: {template: {}}}",
    )
    found = {(b.owner.name, b.path) for b in velero_backups(g)}
    assert found == {
        ("b", ("spec",)),
        ("s", ("spec", "template")),
        ("t", ("spec", "template")),
    }
    schedule = backup_spec(g.get("Schedule", "", "s"))
    assert schedule is not None
    assert schedule.field("ttl") == ("spec", "template", "ttl")
    assert schedule.label == "Schedule s"


def test_server_flags_and_settings():
    server = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: velero, namespace: velero}
spec:
  template:
    spec:
      containers:
        - name: velero
          image: velero/velero:v1.16.1
          command: [/velero]
          args: [server, --default-volumes-to-fs-backup, --default-backup-ttl, 72h, --default-snapshot-move-data=false]
"""
    backup = "{apiVersion: velero.io/v1, kind: Backup, metadata: {name: b, namespace: velero}, spec: {}}"
    other = "{apiVersion: velero.io/v1, kind: Backup, metadata: {name: o, namespace: ops}, spec: {snapshotMoveData: true}}"
    g = graph(server, backup, other)
    assert server_flags(g, "velero") == {
        "--default-volumes-to-fs-backup": "true",
        "--default-backup-ttl": "72h",
        "--default-snapshot-move-data": "false",
    }
    assert server_flags(g, "ops") is None
    spec = backup_spec(g.get("Backup", "velero", "b"))
    fs = fs_backup_by_default(spec, g)
    assert fs.value is True
    assert "--default-volumes-to-fs-backup=true" in fs.shown
    assert snapshot_move_data(spec, g).value is False
    spec = backup_spec(g.get("Backup", "ops", "o"))
    assert fs_backup_by_default(spec, g).value is None
    assert snapshot_move_data(spec, g).value is True


def test_fs_backup_copies_follows_velero():
    workload = resource(DEPLOYMENT)
    (template,) = workload.templates
    volumes = {v.name: v for v in pod_volumes(template)}

    def copied(opt_out, move_data=False):
        return {
            name
            for name, volume in volumes.items()
            if fs_backup_copies(template, volume, opt_out=opt_out, move_data=move_data)
        }

    # the opt-in list reads "ckpt" and " cache": only ckpt matches
    assert copied(False) == {"ckpt"}
    assert copied(True) == {"ckpt", "claim"}
    assert copied(True, move_data=True) == {"ckpt"}


def test_covers_and_annotation_path():
    workload = resource(DEPLOYMENT)
    (template,) = workload.templates
    g = graph(
        DEPLOYMENT,
        "{apiVersion: v1, kind: Namespace, metadata: {name: llm}}",
    )
    spec = backup_spec(
        resource(
            "{apiVersion: velero.io/v1, kind: Backup, metadata: {name: b}, spec: {includedNamespaces: [llm]}}"
        )
    )
    assert covers(spec, workload, template, g)
    excluded = graph(
        DEPLOYMENT,
        "{apiVersion: v1, kind: Namespace, metadata: {name: llm, labels: {velero.io/exclude-from-backup: 'true'}}}",
    )
    assert not covers(spec, workload, template, excluded)
    key = "backup.velero.io/backup-volumes"
    assert annotation_path(workload, template, key) == (
        "spec",
        "template",
        "metadata",
        "annotations",
        key,
    )
    pod = resource(
        "{apiVersion: v1, kind: Pod, metadata: {name: p, annotations: {a: b}}, spec: {containers: []}}"
    )
    (pod_template,) = pod.templates
    assert annotation_path(pod, pod_template, "a") == ("metadata", "annotations", "a")
