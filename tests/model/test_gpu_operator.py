from __future__ import annotations

import pytest

from kubernai.load.files import LoadResult, load_text
from kubernai.model.gpu_operator import (
    DRAIN,
    POD_DELETION,
    WAIT_FOR_COMPLETION,
    as_int,
    cluster_upgrade_policy,
    deleted_for_driver_upgrade,
    empty_dir_volumes,
    has_controller,
    is_gpu_operator_policy,
    is_int_or_percent,
    percent,
    policy_in_force,
    upgrade_policy,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource, format_path


def load(text: str) -> ObjectGraph:
    loaded = LoadResult()
    load_text(text, "t.yaml", result=loaded)
    return ObjectGraph(loaded.resources)


def first(graph: ObjectGraph, kind: str) -> Resource:
    return graph.of_kind(kind)[0]


CLUSTER_POLICY = """\
apiVersion: nvidia.com/v1
kind: ClusterPolicy
metadata: {name: cluster-policy}
spec:
  driver:
    upgradePolicy:
      autoUpgrade: true
      maxParallelUpgrades: 0
      drain: {enable: true, timeoutSeconds: 0}
      waitForCompletion: {}
"""


def test_cluster_policy_fields_are_defaulted_inside_written_sections():
    policy = upgrade_policy(first(load(CLUSTER_POLICY), "ClusterPolicy"))
    assert policy is not None
    parallel = policy.setting("", "maxParallelUpgrades")
    assert (parallel.value, parallel.explicit) == (0, True)
    assert format_path(parallel.path) == (
        "spec.driver.upgradePolicy.maxParallelUpgrades"
    )
    unavailable = policy.setting("", "maxUnavailable")
    assert (unavailable.value, unavailable.explicit) == ("25%", False)
    assert unavailable.describe() == "maxUnavailable: 25% (default)"
    drain = policy.setting(DRAIN, "timeoutSeconds")
    assert drain.describe() == "drain.timeoutSeconds: 0"
    assert policy.setting(DRAIN, "deleteEmptyDir").value is False
    assert policy.setting(WAIT_FOR_COMPLETION, "timeoutSeconds").value == 0
    assert policy.setting(POD_DELETION, "timeoutSeconds").value == 300
    assert policy.pod_deletion_missing
    assert policy.describe() == "ClusterPolicy cluster-policy"


@pytest.mark.parametrize(
    ("driver", "in_force"),
    [
        pytest.param("upgradePolicy: {autoUpgrade: true}", True, id="on"),
        pytest.param("upgradePolicy: {autoUpgrade: false}", False, id="off"),
        pytest.param("upgradePolicy: {maxParallelUpgrades: 2}", False, id="unset"),
        pytest.param("version: '570'", False, id="no-policy"),
        pytest.param("upgradePolicy: {autoUpgrade: 'true'}", False, id="string"),
        pytest.param("upgradePolicy: [autoUpgrade]", False, id="list"),
        pytest.param(
            "{enabled: false, upgradePolicy: {autoUpgrade: true}}", False, id="disabled"
        ),
        pytest.param(
            "{useNvidiaDriverCRD: true, upgradePolicy: {autoUpgrade: true}}",
            False,
            id="nvidia-driver-crd",
        ),
    ],
)
def test_when_a_cluster_policy_policy_is_in_force(driver, in_force):
    text = (
        "apiVersion: nvidia.com/v1\nkind: ClusterPolicy\nmetadata: {name: c}\n"
        f"spec:\n  driver: {driver}\n"
        if driver.startswith("{")
        else "apiVersion: nvidia.com/v1\nkind: ClusterPolicy\nmetadata: {name: c}\n"
        f"spec:\n  driver:\n    {driver}\n"
    )
    policy = upgrade_policy(first(load(text), "ClusterPolicy"))
    assert (policy is not None) == in_force


def test_sandbox_workloads_turn_the_policy_off():
    text = CLUSTER_POLICY.replace(
        "spec:\n", "spec:\n  sandboxWorkloads: {enabled: true}\n"
    )
    assert upgrade_policy(first(load(text), "ClusterPolicy")) is None


def test_nvidia_driver_defaults_and_its_cluster_policy():
    driver = """\
apiVersion: nvidia.com/v1alpha1
kind: NVIDIADriver
metadata: {name: pool}
spec: {}
"""
    alone = load(driver)
    policy = upgrade_policy(first(alone, "NVIDIADriver"))
    assert policy is not None
    assert not policy.pod_deletion_missing
    assert format_path(policy.path) == "spec.upgradePolicy"
    assert policy_in_force(first(alone, "NVIDIADriver"), alone) is policy
    keeps = load(driver + "---\n" + CLUSTER_POLICY)
    assert policy_in_force(first(keeps, "NVIDIADriver"), keeps) is None
    hands_over = load(
        driver
        + "---\napiVersion: nvidia.com/v1\nkind: ClusterPolicy\nmetadata: {name: c}\n"
        "spec: {driver: {useNvidiaDriverCRD: true}}\n"
    )
    assert policy_in_force(first(hands_over, "NVIDIADriver"), hands_over) is not None
    off = load(
        driver.replace("spec: {}", "spec: {upgradePolicy: {autoUpgrade: false}}")
    )
    assert upgrade_policy(first(off, "NVIDIADriver")) is None


def test_cluster_upgrade_policy_uses_the_first_gpu_operator_cluster_policy():
    kyverno = (
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: k}\n"
        "spec: {driver: {upgradePolicy: {autoUpgrade: true}}}\n---\n"
    )
    graph = load(kyverno + CLUSTER_POLICY)
    policy = cluster_upgrade_policy(graph)
    assert policy is not None
    assert policy.owner.name == "cluster-policy"
    assert not is_gpu_operator_policy(first(graph, "ClusterPolicy"))
    assert cluster_upgrade_policy(load(kyverno)) is None


@pytest.mark.parametrize(
    ("value", "number", "share", "accepted"),
    [
        (0, 0, None, True),
        (300.0, 300, None, True),
        (True, None, None, False),
        ("25%", None, 25, True),
        ("-5%", None, -5, True),
        ("25", None, None, False),
        ("12.5%", None, None, False),
        (" 25%", None, None, False),
        (None, None, None, False),
        ([25], None, None, False),
    ],
)
def test_numbers_as_the_controller_reads_them(value, number, share, accepted):
    assert as_int(value) == number
    assert percent(value) == share
    assert is_int_or_percent(value) is accepted


PODS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: server}
spec:
  template:
    spec:
      initContainers:
        - {name: init, resources: {limits: {nvidia.com/gpu: 1}}}
      containers:
        - {name: main, resources: {requests: {nvidia.com/mig-1g.10gb: 1}}}
      volumes:
        - {name: shm, emptyDir: {medium: Memory}}
        - {name: data, persistentVolumeClaim: {claimName: d}}
        - {name: odd, emptyDir: null}
        - "scratch"
        - {emptyDir: {}}
---
apiVersion: v1
kind: Pod
metadata:
  name: owned
  ownerReferences: [{kind: ReplicaSet, name: r, controller: true}]
spec:
  initContainers:
    - {name: init, resources: {limits: {nvidia.com/gpu: 1}}}
  containers:
    - {name: main, resources: {limits: {amd.com/gpu: 1, nvidia.com/gpu.shared: 0}}}
---
apiVersion: v1
kind: Pod
metadata: {name: bare, ownerReferences: [{kind: Node, name: n}, "x"]}
spec:
  containers:
    - {name: main, resources: {limits: {amd.com/gpu: 1}}}
"""


def test_pods_the_upgrade_deletes_and_their_local_storage():
    graph = load(PODS)
    server = first(graph, "Deployment")
    template = server.templates[0]
    assert deleted_for_driver_upgrade(template)
    volumes = empty_dir_volumes(template)
    assert [v.name for v in volumes] == ["shm", ""]
    assert format_path(volumes[0].path) == "spec.template.spec.volumes[0].emptyDir"
    owned, bare = graph.of_kind("Pod")
    assert deleted_for_driver_upgrade(owned.templates[0])  # any quantity counts
    assert not deleted_for_driver_upgrade(bare.templates[0])
    assert has_controller(owned)
    assert not has_controller(bare)
