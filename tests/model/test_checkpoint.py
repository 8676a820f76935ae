import pytest
import yaml

from kubernai.model.checkpoint import (
    checkpoint_evidence,
    is_checkpoint_dir_key,
    is_checkpoint_key,
    options,
    storage_of,
)
from kubernai.model.resource import Resource, Source


def template(spec: str):
    raw = {"apiVersion": "v1", "kind": "Pod", "spec": yaml.safe_load(spec)}
    (found,) = Resource(raw=raw, source=Source(file="f", line=1)).templates
    return found


def container(body: str):
    return template(f"{{containers: [{body}]}}").containers[0]


def test_options_pairs_and_shell_strings():
    c = container(
        "{args: ['--a=1', '--b', '2', '-c', '--flag', 'x=y',"
        " \"python t.py --checkpoint_dir '/ckpt' \\\\\"],"
        " env: [{name: E, value: v}, {name: F, valueFrom: {secretKeyRef: {name: s, key: k}}}]}"
    )
    found = {(o.key, o.value) for o in options(c)}
    assert {("a", "1"), ("b", "2"), ("flag", "x=y"), ("x", "y")} <= found
    assert ("checkpoint_dir", "/ckpt") in found
    assert ("E", "v") in found
    assert ("F", "(valueFrom)") in found


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("checkpoint_dir", True),
        ("CKPT_PATH", True),
        ("exp_manager.checkpoint_callback_params.save_top_k", True),
        ("gradient_checkpointing", False),
        ("activation-checkpointing", False),
        ("checkpoint-activations", False),
        ("recompute_checkpoint", False),
        ("output_dir", False),
    ],
)
def test_is_checkpoint_key(key, expected):
    assert is_checkpoint_key(key) is expected


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("--output_dir=/x", True),
        ("--save=/x", True),
        ("save=/x", False),
        ("trainer.default_root_dir=/x", True),
        ("--resume_from_checkpoint=/x", False),
        ("--load=/x", False),
        ("--init_checkpoint=/x", False),
        ("--checkpoint-file=/x", True),
        ("--logging_dir=/x", False),
    ],
)
def test_is_checkpoint_dir_key(arg, expected):
    (option,) = options(container(f"{{args: ['{arg}']}}"))
    assert is_checkpoint_dir_key(option) is expected


def test_evidence_ignores_switched_off_options_and_read_only_mounts():
    c = container(
        "{args: ['enable_checkpointing=false'], env: [{name: CKPT, value: '0'}],"
        " volumeMounts: [{name: ckpt, mountPath: /ckpt, readOnly: true}]}"
    )
    assert checkpoint_evidence(c) == ""
    c = container("{volumeMounts: [{name: data, mountPath: /mnt/checkpoints}]}")
    assert checkpoint_evidence(c) == "volume 'data' mounted at /mnt/checkpoints"


def test_storage_longest_mount_wins():
    t = template(
        "{containers: [{volumeMounts: [{name: s, mountPath: /w}, {name: p, mountPath: /w/c/}]}],"
        " volumes: [{name: s, emptyDir: {medium: Memory}}, {name: p, persistentVolumeClaim: {claimName: c}}]}"
    )
    c = t.containers[0]
    assert storage_of(t, c, "/w/c/x").kind == "persistentVolumeClaim"
    scratch = storage_of(t, c, "/w/cc")
    assert (scratch.kind, scratch.medium, scratch.volume) == ("emptyDir", "Memory", "s")
    assert storage_of(t, c, "/w").kind == "emptyDir"
    assert storage_of(t, c, "/other").kind == "container"


def test_storage_unknown_volume():
    t = template("{containers: [{volumeMounts: [{name: injected, mountPath: /w}]}]}")
    assert storage_of(t, t.containers[0], "/w/x") is None
