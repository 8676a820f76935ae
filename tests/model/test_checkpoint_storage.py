from __future__ import annotations

import json
from importlib import resources

import pytest
import yaml

from kubernai.model.checkpoint import Option
from kubernai.model.checkpoint_storage import (
    attach_free,
    attaches_anywhere,
    checkpoint_targets,
    claim_uses,
    disk_provisioner,
    is_shared_host_path,
    names_output,
    read_only_reason,
    runs_after_others,
    single_node,
    storage_class_of,
    volume_access_modes,
    writes_checkpoints,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, Source, format_path


def resource(text: str) -> Resource:
    return Resource(raw=yaml.safe_load(text), source=Source(file="f.yaml", line=1))


def graph(*texts: str) -> ObjectGraph:
    return ObjectGraph([resource(t) for t in texts])


def option(key: str, *, dashed: bool = True) -> Option:
    return Option(key, "/x", (), f"--{key} /x", dashed)


@pytest.mark.parametrize(
    ("key", "dashed", "writes", "output"),
    [
        pytest.param("output_dir", True, True, True, id="hf-output-dir"),
        pytest.param("OUTPUT_DIR", False, True, True, id="env-output-dir"),
        pytest.param("save", True, True, True, id="megatron-save"),
        pytest.param("save", False, False, False, id="bare-save-is-vague"),
        pytest.param("checkpoint_dir", True, True, False, id="checkpoint-dir"),
        pytest.param("CHECKPOINT_DIR", False, True, False, id="env-checkpoint-dir"),
        pytest.param("save_checkpoint_dir", True, True, True, id="save-checkpoint"),
        pytest.param("checkpointer.output_dir", False, True, True, id="tt-output"),
        pytest.param("checkpointer.checkpoint_dir", False, False, False, id="tt-in"),
        pytest.param("resume_from_checkpoint", True, False, False, id="resume"),
        pytest.param("gradient_checkpointing", True, False, False, id="activation"),
    ],
)
def test_write_keys(key: str, dashed: bool, writes: bool, output: bool) -> None:
    assert writes_checkpoints(option(key, dashed=dashed)) is writes
    assert names_output(option(key, dashed=dashed)) is output


JOB = """
apiVersion: batch/v1
kind: Job
metadata: {name: t}
spec:
  template:
    spec:
      containers:
        - name: t
          args: ["--output_dir=/out/run", "--checkpoint_dir", "/ckpt/a", "--load=/ckpt/a"]
          volumeMounts:
            - {name: ckpt, mountPath: /ckpt}
            - {name: out, mountPath: /out, readOnly: true}
            - {name: cfg, mountPath: /etc/cfg}
      volumes:
        - {name: ckpt, hostPath: {path: /mnt/ssd}}
        - {name: out, persistentVolumeClaim: {claimName: out}}
        - {name: cfg, configMap: {name: cfg}}
"""


def test_checkpoint_targets_and_read_only_reasons() -> None:
    job = resource(JOB)
    template = job.templates[0]
    targets = checkpoint_targets(template, template.containers[0])
    shown = [(t.path, t.storage.kind, t.option is not None) for t in targets]
    assert shown == [
        ("/ckpt", "hostPath", False),
        ("/out/run", "persistentVolumeClaim", True),
        ("/ckpt/a", "hostPath", True),
    ]
    assert [read_only_reason(t) for t in targets] == [
        "",
        "its volumeMount sets readOnly: true",
        "",
    ]
    assert format_path(targets[1].field) == "spec.template.spec.containers[0].args[0]"
    assert checkpoint_targets(template, template.containers[0]) is targets


@pytest.mark.parametrize(
    ("path", "shared"),
    [
        ("/fsx", True),
        ("/mnt/nfs/team", True),
        ("/lustre-scratch/x", True),
        ("/mnt/local-nvme", False),
        ("/raid/scratch", False),
        ("/nfsdata", False),
    ],
)
def test_shared_host_paths(path: str, shared: bool) -> None:
    assert is_shared_host_path(path) is shared


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("nodeName: n1", "nodeName: n1"),
        ("nodeSelector: {kubernetes.io/hostname: n2}", "kubernetes.io/hostname=n2"),
        (
            "affinity: {podAffinity: {requiredDuringSchedulingIgnoredDuringExecution:"
            " [{topologyKey: kubernetes.io/hostname, labelSelector: {}}]}}",
            "required podAffinity on kubernetes.io/hostname",
        ),
        ("nodeSelector: {kubernetes.io/hostname: [n2]}", ""),
        ("nodeSelector: {topology.kubernetes.io/zone: a}", ""),
        ("affinity: {podAffinity: []}", ""),
    ],
)
def test_single_node(spec: str, why: str) -> None:
    pod = resource(
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec: {{{spec}}}"
    )
    assert single_node(pod.templates[0]) == why


def test_runs_after_others() -> None:
    jobset = resource(
        """
apiVersion: jobset.x-k8s.io/v1alpha2
kind: JobSet
metadata: {name: j}
spec:
  replicatedJobs:
    - name: init
      template: {spec: {template: {spec: {containers: [{name: a}]}}}}
    - name: node
      dependsOn: [{name: init, status: Complete}]
      template: {spec: {template: {spec: {containers: [{name: b}]}}}}
"""
    )
    assert [runs_after_others(jobset, t) for t in jobset.templates] == [False, True]
    job = resource(JOB)
    assert runs_after_others(job, job.templates[0]) is False


PVC = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: ckpt, namespace: ml}
spec: {accessModes: [ReadWriteOnce]}
"""


def test_access_modes_come_from_the_bound_volume() -> None:
    claim_text = PVC
    alone = graph(claim_text)
    claim = alone.get("PersistentVolumeClaim", "ml", "ckpt")
    assert claim is not None
    modes = volume_access_modes(claim, alone)
    assert modes is not None
    assert (modes.modes, modes.volume, modes.shown()) == (
        ("ReadWriteOnce",),
        None,
        "[ReadWriteOnce]",
    )
    bound = graph(
        claim_text,
        """
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv1}
spec:
  accessModes: [ReadWriteOnce, ReadWriteMany]
  claimRef: {name: ckpt, namespace: ml}
  nfs: {server: s, path: /x}
""",
    )
    claim = bound.get("PersistentVolumeClaim", "ml", "ckpt")
    assert claim is not None
    modes = volume_access_modes(claim, bound)
    assert modes is not None
    assert modes.modes == ("ReadWriteOnce", "ReadWriteMany")
    assert attach_free(claim, modes, bound).startswith("PersistentVolume 'pv1'")


@pytest.mark.parametrize(
    "spec",
    [
        "{accessModes: [ReadWriteOnce], volumeName: elsewhere}",
        "{accessModes: [ReadWriteOnce], storageClassName: ''}",
        "{accessModes: ReadWriteOnce}",
        "{accessModes: [ReadWriteOnce, Sometimes]}",
        "{accessModes: []}",
    ],
)
def test_unknown_access_modes(spec: str) -> None:
    found = graph(
        f"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: c}}\nspec: {spec}"
    )
    claim = found.get("PersistentVolumeClaim", "", "c")
    assert claim is not None
    assert volume_access_modes(claim, found) is None


def test_storage_class_resolution() -> None:
    classes = (
        "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: gp3,"
        " annotations: {storageclass.kubernetes.io/is-default-class: 'true'}}\n"
        "provisioner: ebs.csi.aws.com",
        "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: efs}\n"
        "provisioner: efs.csi.aws.com",
    )
    found = graph(*classes)
    named = {"spec": {"storageClassName": "efs"}}
    beta = {
        "metadata": {"annotations": {"volume.beta.kubernetes.io/storage-class": "efs"}}
    }
    default: dict[str, dict[str, str]] = {"spec": {}}
    assert (storage_class_of(named, found) or resource(classes[0])).name == "efs"
    assert (storage_class_of(beta, found) or resource(classes[0])).name == "efs"
    assert (storage_class_of(default, found) or resource(classes[1])).name == "gp3"
    assert storage_class_of({"spec": {"storageClassName": ""}}, found) is None
    assert storage_class_of({"spec": {"storageClassName": "nope"}}, found) is None


def test_provisioner_catalog() -> None:
    ebs = disk_provisioner("ebs.csi.aws.com")
    assert ebs is not None
    assert ebs.refuses_filesystem == {"ReadWriteMany", "ReadOnlyMany"}
    pd = disk_provisioner("pd.csi.storage.gke.io")
    assert pd is not None
    assert pd.refuses_filesystem == {"ReadWriteMany"}
    assert disk_provisioner("efs.csi.aws.com") is None
    assert attaches_anywhere("efs.csi.aws.com")
    assert attaches_anywhere("ebs.csi.aws.com") == ""


def test_every_catalog_value_has_a_source() -> None:
    text = (
        resources.files("kubernai")
        .joinpath("data/checkpoint_storage.json")
        .read_text("utf-8")
    )
    data = json.loads(text)
    assert data["source"]
    for section in ("disk_provisioners", "no_attach_provisioners"):
        for entry in data[section]:
            assert entry["source"], entry
    assert data["shared_host_path_words"]["source"]


def test_claim_uses_in_manifest_order() -> None:
    job = resource(
        """
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: j}
spec:
  pytorchReplicaSpecs:
    Master:
      template: {spec: {volumes: [{name: a, persistentVolumeClaim: {claimName: c1}}]}}
    Worker:
      replicas: 2
      template:
        spec:
          volumes:
            - {name: a, persistentVolumeClaim: {claimName: c1}}
            - {name: b, persistentVolumeClaim: {claimName: c2}}
            - {name: c, emptyDir: {}}
"""
    )
    uses = claim_uses(job)
    assert list(uses) == ["c1", "c2"]
    assert [u.template.role for u in uses["c1"]] == ["Master", "Worker"]
    assert format_path(uses["c2"][0].field) == (
        "spec.pytorchReplicaSpecs.Worker.template.spec.volumes[1]"
        ".persistentVolumeClaim.claimName"
    )
