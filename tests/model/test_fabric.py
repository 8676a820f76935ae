from __future__ import annotations

from typing import Any

import pytest
import yaml

from kubernai.load.files import LoadResult, load_text
from kubernai.model.fabric import is_fabric_resource, rdma_signal


def signal(spec: dict[str, Any], annotations: dict[str, str] | None = None) -> str:
    document = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "annotations": annotations or {}},
        "spec": spec,
    }
    loaded = LoadResult()
    load_text(yaml.safe_dump(document), "p.yaml", result=loaded)
    return rdma_signal(loaded.resources[0].templates[0])


def container(**fields: Any) -> dict[str, Any]:
    return {"name": "c", "image": "i", **fields}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("vpc.amazonaws.com/efa", True),
        ("rdma/ib", True),
        ("rdma/rdma_shared_device_a", True),
        ("networking.gke.io.networks/rdma-0", True),
        ("nvidia.com/hostdev", True),
        ("openshift.io/sriov_ib", True),
        ("nvidia.com/gpu", False),
        ("amd.com/gpu", False),
        ("example.com/default", False),
        ("hugepages-2Mi", False),
    ],
)
def test_is_fabric_resource(name: str, expected: bool) -> None:
    assert is_fabric_resource(name) is expected


def test_no_signal_on_a_plain_gpu_pod() -> None:
    limits = {"resources": {"limits": {"nvidia.com/gpu": 8}}}
    assert signal({"containers": [container(**limits)]}) == ""


@pytest.mark.parametrize(
    ("spec", "annotations", "expected"),
    [
        pytest.param(
            {"containers": [container(resources={"limits": {"rdma/ib": 1}})]},
            None,
            "container 'c' requests rdma/ib",
            id="resource",
        ),
        pytest.param(
            {"hostNetwork": True, "containers": [container()]},
            None,
            "hostNetwork: true",
            id="host-network",
        ),
        pytest.param(
            {"containers": [container()]},
            {"k8s.v1.cni.cncf.io/networks": "ib0"},
            "annotation k8s.v1.cni.cncf.io/networks",
            id="multus",
        ),
        pytest.param(
            {"containers": [container()]},
            {"devices.gke.io/container.tcpxo-daemon": "..."},
            "annotation devices.gke.io/container.tcpxo-daemon",
            id="tcpxo",
        ),
        pytest.param(
            {"containers": [container(securityContext={"privileged": True})]},
            None,
            "container 'c' is privileged",
            id="privileged",
        ),
        pytest.param(
            {"containers": [container(env=[{"name": "FI_PROVIDER", "value": "efa"}])]},
            None,
            "container 'c' sets FI_PROVIDER",
            id="libfabric",
        ),
        pytest.param(
            {"resourceClaims": [{"name": "nic"}], "containers": [container()]},
            None,
            "spec.resourceClaims (DRA devices)",
            id="dra",
        ),
    ],
)
def test_signals(
    spec: dict[str, Any], annotations: dict[str, str] | None, expected: str
) -> None:
    assert signal(spec, annotations) == expected


def test_ib_disable_is_not_a_fabric() -> None:
    env = [{"name": "NCCL_IB_DISABLE", "value": "1"}]
    assert signal({"containers": [container(env=env)]}) == ""
