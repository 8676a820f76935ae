"""``load/cluster.py`` with the real kubernetes client over HTTP, against a fake API server.

The fake server (threaded ``http.server`` on 127.0.0.1, port 0) answers from
responses recorded from a kube-apiserver (v1.30): discovery, paginated lists
with ``continue`` tokens, a 403, 500s, a 410 and a request that never answers.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from kubernai.errors import ClusterError
from kubernai.load import cluster
from kubernai.load.cluster import (
    TARGETS,
    ReadOptions,
    keep_configmap,
    read_cluster,
    snapshot_document,
    to_load_result,
)
from kubernai.load.files import LoadResult, load_text
from kubernai.model.workload import WORKLOADS

# --- recorded discovery --------------------------------------------------------


def _resource(name: str, kind: str, *, namespaced: bool = True, verbs=None) -> dict:
    return {
        "name": name,
        "singularName": kind.lower(),
        "namespaced": namespaced,
        "kind": kind,
        "verbs": verbs
        or [
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ],
    }


CORE_V1 = {
    "kind": "APIResourceList",
    "groupVersion": "v1",
    "resources": [
        _resource("configmaps", "ConfigMap"),
        _resource("events", "Event"),
        _resource("limitranges", "LimitRange"),
        _resource("namespaces", "Namespace", namespaced=False),
        _resource("namespaces/status", "Namespace", namespaced=False, verbs=["get"]),
        _resource("nodes", "Node", namespaced=False),
        _resource("nodes/proxy", "NodeProxyOptions", namespaced=False, verbs=["get"]),
        _resource("persistentvolumeclaims", "PersistentVolumeClaim"),
        _resource("persistentvolumes", "PersistentVolume", namespaced=False),
        _resource("pods", "Pod"),
        _resource("pods/log", "Pod", verbs=["get"]),
        _resource("pods/exec", "PodExecOptions", verbs=["create", "get"]),
        _resource("podtemplates", "PodTemplate"),
        _resource("replicationcontrollers", "ReplicationController"),
        _resource("resourcequotas", "ResourceQuota"),
        _resource("secrets", "Secret"),
        _resource("serviceaccounts", "ServiceAccount"),
        _resource("services", "Service"),
        _resource("bindings", "Binding", verbs=["create"]),
    ],
}


def _group(name: str, *versions: str) -> dict:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


API_GROUPS = {
    "kind": "APIGroupList",
    "apiVersion": "v1",
    "groups": [
        _group("apps", "v1"),
        _group("batch", "v1"),
        _group("autoscaling", "v2", "v1"),
        _group("policy", "v1"),
        _group("networking.k8s.io", "v1"),
        _group("scheduling.k8s.io", "v1"),
        _group("storage.k8s.io", "v1"),
        _group("node.k8s.io", "v1"),
        _group("rbac.authorization.k8s.io", "v1"),
        _group("metrics.k8s.io", "v1beta1"),
        _group("kubeflow.org", "v1"),
        _group("ray.io", "v1"),  # advertised, but its version answers 404
    ],
}
GROUP_RESOURCES = {
    "apps/v1": [
        _resource("deployments", "Deployment"),
        _resource("deployments/scale", "Scale", verbs=["get", "patch", "update"]),
        _resource("replicasets", "ReplicaSet"),
        _resource("statefulsets", "StatefulSet"),
        _resource("daemonsets", "DaemonSet"),
        _resource("controllerrevisions", "ControllerRevision"),
    ],
    "batch/v1": [_resource("jobs", "Job"), _resource("cronjobs", "CronJob")],
    "autoscaling/v2": [
        _resource("horizontalpodautoscalers", "HorizontalPodAutoscaler")
    ],
    "autoscaling/v1": [
        _resource("horizontalpodautoscalers", "HorizontalPodAutoscaler")
    ],
    "policy/v1": [_resource("poddisruptionbudgets", "PodDisruptionBudget")],
    "networking.k8s.io/v1": [
        _resource("ingresses", "Ingress"),
        _resource("ingressclasses", "IngressClass", namespaced=False),
        _resource("networkpolicies", "NetworkPolicy"),
    ],
    "scheduling.k8s.io/v1": [
        _resource("priorityclasses", "PriorityClass", namespaced=False)
    ],
    "storage.k8s.io/v1": [
        _resource("storageclasses", "StorageClass", namespaced=False),
        _resource("csidrivers", "CSIDriver", namespaced=False),
    ],
    "node.k8s.io/v1": [_resource("runtimeclasses", "RuntimeClass", namespaced=False)],
    "rbac.authorization.k8s.io/v1": [_resource("roles", "Role")],
    "metrics.k8s.io/v1beta1": [_resource("pods", "PodMetrics", verbs=["get", "list"])],
    "kubeflow.org/v1": [
        _resource("pytorchjobs", "PyTorchJob"),
        _resource("pytorchjobs/status", "PyTorchJob", verbs=["get", "patch", "update"]),
        _resource("tfjobs", "TFJob"),
    ],
}

# --- recorded objects (as list items: no apiVersion or kind) --------------------

MANAGED = [{"manager": "kubectl", "operation": "Update", "apiVersion": "v1"}]


def _meta(name: str, namespace: str = "", **extra) -> dict:
    meta = {"name": name, "uid": f"uid-{name}", "resourceVersion": "1001"}
    if namespace:
        meta["namespace"] = namespace
    meta.update(extra)
    return meta


GPU_POD_SPEC = {
    "containers": [
        {
            "name": "trainer",
            "image": "nvcr.io/nvidia/pytorch:24.07-py3",
            "resources": {"limits": {"nvidia.com/gpu": "8"}},
            "volumeMounts": [{"name": "cfg", "mountPath": "/etc/train"}],
        }
    ],
    "volumes": [{"name": "cfg", "configMap": {"name": "train-config"}}],
}
OBJECTS: dict[str, list[dict]] = {
    "/api/v1/namespaces": [
        {"metadata": _meta("default")},
        {"metadata": _meta("ml", labels={"team": "research"})},
    ],
    "/api/v1/nodes": [
        {
            "metadata": _meta(
                "gpu-node-1", labels={"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
            ),
            "status": {"allocatable": {"nvidia.com/gpu": "8"}},
        }
    ],
    "/api/v1/pods": [
        {
            "metadata": _meta(f"trainer-{i}", "ml", managedFields=MANAGED),
            "spec": GPU_POD_SPEC,
            "status": {"phase": "Running"},
        }
        for i in range(5)
    ],
    "/apis/apps/v1/deployments": [
        {
            "metadata": _meta("web", "default"),
            "spec": {"template": {"spec": {"containers": [{"name": "web"}]}}},
        }
    ],
    "/apis/kubeflow.org/v1/pytorchjobs": [
        {
            "apiVersion": "kubeflow.org/v1",
            "kind": "PyTorchJob",
            "metadata": _meta("llama", "ml"),
            "spec": {"pytorchReplicaSpecs": {}},
        }
    ],
    "/api/v1/events": [
        {
            "metadata": _meta("trainer-0.17c", "ml"),
            "involvedObject": {"kind": "Pod", "name": "trainer-0", "namespace": "ml"},
            "reason": "BackOff",
            "type": "Warning",
        }
    ],
    "/api/v1/configmaps": [
        {
            "metadata": _meta("ds-config", "ml"),
            "data": {"ds.json": json.dumps({"train_batch_size": 64})},
        },
        {
            "metadata": _meta("train-config", "ml"),
            "data": {"run.yaml": "max_seq_len: 8"},
        },
        {
            "metadata": _meta("app-settings", "default"),
            "data": {"DATABASE_PASSWORD": "hunter2"},
        },
        {"metadata": _meta("kube-root-ca.crt", "default"), "data": {"ca.crt": "---"}},
    ],
}
KINDS = {
    "/api/v1/namespaces": ("v1", "NamespaceList"),
    "/api/v1/nodes": ("v1", "NodeList"),
    "/api/v1/pods": ("v1", "PodList"),
    "/api/v1/events": ("v1", "EventList"),
    "/api/v1/configmaps": ("v1", "ConfigMapList"),
    "/apis/apps/v1/deployments": ("apps/v1", "DeploymentList"),
    "/apis/kubeflow.org/v1/pytorchjobs": ("kubeflow.org/v1", "PyTorchJobList"),
}


def status(code: int, reason: str, message: str) -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


FORBIDDEN = status(
    403,
    "Forbidden",
    'networkpolicies.networking.k8s.io is forbidden: User "system:serviceaccount:'
    'kubernai:kubernai" cannot list resource "networkpolicies" in API group '
    '"networking.k8s.io" at the cluster scope',
)
INTERNAL = status(500, "InternalError", "etcdserver: request timed out")

Answer = tuple[int, dict]


class FakeApiServer:
    """A kube-apiserver stand-in: discovery, paginated lists, injected failures."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.failures: dict[str, list[Answer | str]] = {}
        """Per path, answers served before the normal one; "hang" never answers."""
        self.always: dict[str, Answer | str] = {}
        self.objects = json.loads(json.dumps(OBJECTS))
        self.release = threading.Event()
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.02,), daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeApiServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def kubeconfig(self, folder: Path, *, token: str = "test-token") -> Path:
        path = folder / "kubeconfig"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "reader", "user": {"token": token}}],
            "contexts": [
                {"name": "fake", "context": {"cluster": "fake", "user": "reader"}},
                {"name": "staging", "context": {"cluster": "fake", "user": "reader"}},
            ],
            "current-context": "fake",
        }
        path.write_text(json.dumps(config))
        return path

    def paths(self) -> list[str]:
        return [urlsplit(r).path.rstrip("/") for r in self.requests]

    # --- answers --------------------------------------------------------------

    def answer(self, target: str) -> Answer | str:
        parts = urlsplit(target)
        path, query = parts.path.rstrip("/") or "/", parse_qs(parts.query)
        with self._lock:
            queued = self.failures.get(path)
            if queued:
                return queued.pop(0)
        if path in self.always:
            return self.always[path]
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"]}
        if path == "/api/v1":
            return 200, CORE_V1
        if path == "/apis":
            return 200, API_GROUPS
        group_version = path.removeprefix("/apis/")
        if path.startswith("/apis/") and group_version in GROUP_RESOURCES:
            return 200, {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": group_version,
                "resources": GROUP_RESOURCES[group_version],
            }
        return self.list_answer(path, query)

    def list_answer(self, path: str, query: dict[str, list[str]]) -> Answer:
        namespace = ""
        segments = path.split("/")
        if "namespaces" in segments[:-1] and len(segments) > 4:
            index = segments.index("namespaces")
            namespace = segments[index + 1]
            if index + 2 == len(segments):  # GET one namespace
                for item in self.objects["/api/v1/namespaces"]:
                    if item["metadata"]["name"] == namespace:
                        return 200, {"kind": "Namespace", "apiVersion": "v1", **item}
                return 404, status(
                    404, "NotFound", f'namespaces "{namespace}" not found'
                )
            path = "/".join(segments[:index] + segments[index + 2 :])
        collection = self.collection(path)
        if collection is None:
            return 404, status(
                404, "NotFound", "the server could not find the requested resource"
            )
        items = [
            i
            for i in self.objects.get(path, [])
            if not namespace or i["metadata"].get("namespace") == namespace
        ]
        start = int(query.get("continue", ["0"])[0] or 0)
        limit = int(query.get("limit", ["0"])[0] or 0) or len(items) or 1
        page = items[start : start + limit]
        metadata = {"resourceVersion": "2002"}
        if start + limit < len(items):
            metadata["continue"] = str(start + limit)
        api_version, kind = collection
        return 200, {
            "kind": kind,
            "apiVersion": api_version,
            "metadata": metadata,
            "items": page,
        }

    @staticmethod
    def collection(path: str) -> tuple[str, str] | None:
        if path in KINDS:
            return KINDS[path]
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 3:
            version, plural = parts[1], parts[2]
        elif parts[0] == "apis" and len(parts) == 4:
            version, plural = f"{parts[1]}/{parts[2]}", parts[3]
        else:
            return None
        resources = (
            CORE_V1["resources"]
            if version == "v1"
            else GROUP_RESOURCES.get(version, [])
        )
        for resource in resources:
            if resource["name"] == plural:
                return version, resource["kind"] + "List"
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append(self.path)
                    server.headers.append(dict(self.headers))
                answer = server.answer(self.path)
                if answer == "hang":
                    server.release.wait(5)
                    return
                code, body = answer
                data = json.dumps(body).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    if code == 429:
                        self.send_header("Retry-After", "0")
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


FAST = ReadOptions(
    page_size=2, connect_timeout_s=1, read_timeout_s=0.2, attempts=3, backoff_s=0
)


def fast(**changes: Any) -> ReadOptions:
    from dataclasses import replace

    return replace(FAST, **changes)


@pytest.fixture
def api():
    with FakeApiServer() as server:
        yield server


@pytest.fixture(scope="module")
def troubled(tmp_path_factory):
    """One read of a cluster with a 403, 500s, a 429, a hang and an absent CRD group."""
    with FakeApiServer() as server:
        server.always["/apis/networking.k8s.io/v1/networkpolicies"] = (403, FORBIDDEN)
        server.always["/api/v1/services"] = (500, INTERNAL)
        server.failures["/api/v1/events"] = [(500, INTERNAL), (503, INTERNAL)]
        server.failures["/api/v1/nodes"] = [
            (429, status(429, "TooManyRequests", "slow down"))
        ]
        server.always["/api/v1/limitranges"] = "hang"
        kubeconfig = server.kubeconfig(tmp_path_factory.mktemp("kube"))
        start = time.perf_counter()
        read = read_cluster(fast(kubeconfig=str(kubeconfig)))
        elapsed = time.perf_counter() - start
        yield server, read, elapsed


def names(read, kind: str) -> list[str]:
    return [o.raw["metadata"]["name"] for o in read.objects if o.raw["kind"] == kind]


# --- reading -------------------------------------------------------------------


def test_lists_follow_continue_tokens(troubled):
    server, read, _ = troubled
    assert names(read, "Pod") == [f"trainer-{i}" for i in range(5)]
    pod_requests = [r for r in server.requests if r.startswith("/api/v1/pods")]
    assert len(pod_requests) == 3
    assert all("limit=2" in r for r in pod_requests)
    assert "continue=2" in pod_requests[1]
    assert "continue=4" in pod_requests[2]


def test_items_get_api_version_and_kind_like_kubectl(troubled):
    _, read, _ = troubled
    pod = next(o for o in read.objects if o.raw["kind"] == "Pod")
    assert list(pod.raw)[:2] == ["apiVersion", "kind"]
    assert pod.raw["apiVersion"] == "v1"
    assert "managedFields" not in pod.raw["metadata"]
    assert pod.path == "/api/v1/namespaces/ml/pods/trainer-0"
    deployment = next(o for o in read.objects if o.raw["kind"] == "Deployment")
    assert deployment.raw["apiVersion"] == "apps/v1"
    job = next(o for o in read.objects if o.raw["kind"] == "PyTorchJob")
    assert job.raw["apiVersion"] == "kubeflow.org/v1"
    node = next(o for o in read.objects if o.raw["kind"] == "Node")
    assert node.path == "/api/v1/nodes/gpu-node-1"


def test_forbidden_resource_is_an_error_and_the_read_goes_on(troubled):
    _, read, _ = troubled
    errors = {e.resource: e for e in read.errors}
    forbidden = errors["networkpolicies.networking.k8s.io"]
    assert forbidden.path == "/apis/networking.k8s.io/v1/networkpolicies"
    assert forbidden.message.startswith(
        "cannot list networkpolicies.networking.k8s.io: 403 Forbidden: "
        "networkpolicies.networking.k8s.io is forbidden"
    )
    assert names(read, "Deployment") == ["web"]


def test_server_errors_are_retried_with_a_bound(troubled):
    server, read, _ = troubled
    paths = server.paths()
    assert paths.count("/api/v1/events") == 3  # 500, 503, then the list
    assert names(read, "Event") == ["trainer-0.17c"]
    assert paths.count("/api/v1/services") == FAST.attempts
    errors = {e.resource: e.message for e in read.errors}
    assert errors["services"] == (
        "cannot list services: 500 Internal Server Error: etcdserver: request timed out"
    )
    assert paths.count("/api/v1/nodes") == 2  # 429 (Retry-After: 0), then the list


def test_a_request_that_never_answers_is_bounded(troubled):
    server, read, elapsed = troubled
    errors = {e.resource: e.message for e in read.errors}
    assert errors["limitranges"] == (
        "cannot list limitranges: no answer within the 0.2 s request timeout"
    )
    assert server.paths().count("/api/v1/limitranges") == FAST.attempts
    assert elapsed < 3


def test_crds_that_are_not_installed_are_skipped_silently(troubled):
    server, read, _ = troubled
    paths = server.paths()
    assert "/apis/ray.io/v1" in paths  # advertised, 404: skipped without an error
    assert not any("serving.kserve.io" in p for p in paths)  # not installed
    assert not any("metrics.k8s.io" in p or "rbac" in p for p in paths)  # not needed
    assert {e.resource for e in read.errors} == {
        "networkpolicies.networking.k8s.io",
        "services",
        "limitranges",
    }


def test_preferred_version_is_read(troubled):
    server, _, _ = troubled
    paths = server.paths()
    assert "/apis/autoscaling/v2/horizontalpodautoscalers" in paths
    assert "/apis/autoscaling/v1" not in paths


def test_secrets_are_never_requested(troubled):
    server, _, _ = troubled
    assert not any("secret" in r.lower() for r in server.requests)
    assert all(t.plural != "secrets" and t.kind != "Secret" for t in TARGETS)


@pytest.mark.parametrize(
    ("path", "secret"),
    [
        ("/api/v1/secrets", True),
        ("/api/v1/namespaces/ml/secrets", True),
        ("/api/v1/namespaces/ml/secrets/hf-token", True),
        ("/apis/example.com/v1/secrets?limit=500", True),
        ("/api/v1/namespaces/secrets/pods", False),  # a namespace may be so named
        ("/api/v1/namespaces/secrets", False),
        ("/apis/secrets.example.com/v1/things", False),
        ("/api/v1/pods", False),
    ],
)
def test_the_request_layer_refuses_secrets(path, secret):
    assert cluster._names_secrets(path) is secret
    if secret:
        session = object.__new__(cluster._Session)
        with pytest.raises(cluster._Failure, match="never reads Secrets"):
            session.get(path)


def test_the_token_of_the_kubeconfig_is_sent(troubled):
    server, read, _ = troubled
    headers = {k.lower(): v for k, v in server.headers[0].items()}
    assert headers["authorization"] == "Bearer test-token"
    assert headers["user-agent"].startswith("kubernai/")
    assert read.context == "fake"
    assert read.server == server.url


def test_configmaps_are_kept_only_when_a_rule_reads_them(troubled):
    _, read, _ = troubled
    assert sorted(names(read, "ConfigMap")) == ["ds-config", "train-config"]
    assert read.configmaps_skipped == 2


@pytest.mark.parametrize(
    ("data", "kept"),
    [
        pytest.param(
            {"ds.json": '{"zero_optimization": {"stage": 3}}'}, True, id="deepspeed"
        ),
        pytest.param(
            {"any": "version: v1\nsharing:\n  timeSlicing:\n    resources: []\n"},
            True,
            id="device-plugin",
        ),
        pytest.param(
            {
                "config.yaml": "apiVersion: kubescheduler.config.k8s.io/v1\n"
                "kind: KubeSchedulerConfiguration\nprofiles: []\n"
            },
            True,
            id="kube-scheduler",
        ),
        pytest.param(
            {
                "kubelet": "apiVersion: kubelet.config.k8s.io/v1beta1\n"
                "kind: KubeletConfiguration\n"
            },
            True,
            id="kubelet",
        ),
        pytest.param(
            {"default-counters.csv": "DCGM_FI_DEV_GPU_UTIL, gauge, util"},
            True,
            id="dcgm",
        ),
        pytest.param({"token": "abc", "url": "https://x"}, False, id="app-config"),
        pytest.param({"ds.json": "{not json"}, False, id="malformed"),
    ],
)
def test_configmap_content_tests(data, kept):
    raw = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "ml"},
        "data": data,
    }
    assert keep_configmap(raw, set()) is kept


def test_controller_configmaps_are_kept_by_name():
    for name in ("inferenceservice-config", "ingress-nginx-controller"):
        raw = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
        assert keep_configmap(raw, set())
    raw = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x", "namespace": "ml"},
    }
    assert keep_configmap(raw, {("ml", "x")})
    assert not keep_configmap(raw, {("other", "x")})


def test_namespace_option_reads_one_namespace(api, tmp_path):
    kubeconfig = api.kubeconfig(tmp_path)
    read = read_cluster(fast(kubeconfig=str(kubeconfig), namespace="ml"))
    paths = api.paths()
    assert "/api/v1/namespaces/ml/pods" in paths
    assert "/api/v1/namespaces/ml" in paths  # the namespace itself: a get
    assert "/api/v1/namespaces" not in paths
    assert "/api/v1/nodes" in paths  # cluster-scoped facts are still read
    assert names(read, "Namespace") == ["ml"]
    assert names(read, "Deployment") == []  # web lives in default
    assert read.errors == []


def test_an_expired_continue_token_restarts_the_list_once(api, tmp_path):
    expired = status(410, "Expired", "The provided continue parameter is too old")
    calls = {"n": 0}
    original = api.answer

    def answer(target: str):
        if target.startswith("/api/v1/pods") and "continue=2" in target:
            calls["n"] += 1
            if calls["n"] == 1:
                return 410, expired
        return original(target)

    api.answer = answer
    read = read_cluster(fast(kubeconfig=str(api.kubeconfig(tmp_path))))
    assert names(read, "Pod") == [f"trainer-{i}" for i in range(5)]
    assert len([r for r in api.requests if r.startswith("/api/v1/pods")]) == 5


def test_context_is_chosen_and_checked(api, tmp_path):
    kubeconfig = str(api.kubeconfig(tmp_path))
    read = read_cluster(fast(kubeconfig=kubeconfig, context="staging"), targets=[])
    assert read.context == "staging"
    with pytest.raises(ClusterError, match=r"context 'prod' is not in .*fake, staging"):
        read_cluster(fast(kubeconfig=kubeconfig, context="prod"))


# --- clusters that cannot be read ----------------------------------------------


def test_an_unreachable_cluster_is_a_cluster_error(tmp_path):
    server = FakeApiServer()
    kubeconfig = server.kubeconfig(tmp_path)
    server.httpd.server_close()  # the port is closed: connection refused
    start = time.perf_counter()
    with pytest.raises(
        ClusterError,
        match=r"cannot read the cluster at http://127\.0\.0\.1:\d+ \(context fake\): connection failed",
    ):
        read_cluster(fast(kubeconfig=str(kubeconfig)))
    assert time.perf_counter() - start < 2


def test_rejected_credentials_are_a_cluster_error(api, tmp_path):
    api.always["/api"] = (401, status(401, "Unauthorized", "Unauthorized"))
    with pytest.raises(ClusterError, match="401 Unauthorized"):
        read_cluster(fast(kubeconfig=str(api.kubeconfig(tmp_path))))
    assert api.paths() == ["/api"]  # 401 is not retried


def test_missing_kubeconfig_is_a_cluster_error(tmp_path, monkeypatch):
    with pytest.raises(ClusterError, match="kubeconfig not found"):
        read_cluster(ReadOptions(kubeconfig=str(tmp_path / "nope")))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ClusterError, match="not running in a cluster"):
        read_cluster(ReadOptions())


def test_kubeconfig_env_may_list_several_files(api, tmp_path, monkeypatch):
    kubeconfig = api.kubeconfig(tmp_path)
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'absent'}:{kubeconfig}")
    read = read_cluster(fast(), targets=[])
    assert read.context == "fake"
    assert api.paths()[0] == "/api"


def test_without_a_kubeconfig_a_pod_uses_its_service_account(tmp_path, monkeypatch):
    incluster = pytest.importorskip("kubernetes.config.incluster_config")
    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text("pod-token")
    ca.write_text("not a certificate")
    monkeypatch.setattr(incluster, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster, "SERVICE_CERT_FILENAME", str(ca))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "1")  # nothing listens there
    with pytest.raises(ClusterError) as raised:
        read_cluster(fast())
    assert "cannot read the cluster at https://127.0.0.1:1 (context in-cluster)" in str(
        raised.value
    )


@pytest.mark.parametrize(
    "text",
    [
        "apiVersion: v1\nkind: Config\ncontexts: []\n",
        "a: [\n",
        "- 1\n- 2\n",
        "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n",
    ],
    ids=["no-context", "broken-yaml", "not-a-mapping", "unknown-cluster"],
)
def test_broken_kubeconfig_is_a_cluster_error(tmp_path, text):
    path = tmp_path / "kubeconfig"
    path.write_text(text)
    with pytest.raises(ClusterError, match="cannot load the cluster credentials"):
        read_cluster(ReadOptions(kubeconfig=str(path)))


# --- outputs -------------------------------------------------------------------


def test_snapshot_is_a_kubectl_list_that_the_loader_reads(troubled):
    _, read, _ = troubled
    document = snapshot_document(read)
    assert document["kind"] == "List"
    assert document["apiVersion"] == "v1"
    loaded = LoadResult()
    load_text(json.dumps(document, indent=4), "cluster.json", result=loaded)
    assert loaded.invalid == []
    assert len(loaded.resources) == len(read.objects)


def test_live_objects_are_located_by_api_path(troubled):
    _, read, _ = troubled
    loaded = to_load_result(read)
    assert loaded.files == {"cluster fake"}
    files = {r.source.file for r in loaded.resources}
    assert "api/v1/namespaces/ml/pods/trainer-0" in files
    assert all(r.source.line == 1 for r in loaded.resources)


def test_every_workload_kind_is_read():
    read = {(t.group, t.kind) for t in TARGETS}
    assert set(WORKLOADS) <= read


def test_targets_are_unique():
    keys = [(t.group, t.kind) for t in TARGETS]
    assert len(keys) == len(set(keys))


def test_the_client_is_imported_lazily():
    import subprocess
    import sys

    code = "import sys, kubernai.cli.main, kubernai.cli.audit, kubernai.load.cluster; print('kubernetes' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
