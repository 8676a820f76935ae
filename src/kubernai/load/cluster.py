"""Read a live cluster, read-only: the one module of kubernai that uses the network.

``read_cluster`` connects with a kubeconfig (``--kubeconfig``, ``$KUBECONFIG``
or ``~/.kube/config``; ``--context``) or, when there is none, with the pod's
service account; asks the API server which of the resources in ``TARGETS`` it
serves (``/api``, ``/apis``, ``/apis/<group>/<version>``: a CRD that is not
installed is skipped without a word); and lists each of them with the official
``kubernetes`` client:

- lists are paginated (``limit`` and ``continue``; an expired token restarts
  the list once); every request has a connect and a read timeout; 429, 5xx,
  timeouts and dropped connections are retried a bounded number of times with
  exponential backoff (``Retry-After`` is honoured, up to the same cap);
- objects keep the JSON the API server sent, as ``kubectl get -o json`` prints
  it: ``apiVersion`` and ``kind`` are set on list items (lists leave them out)
  and ``metadata.managedFields`` is dropped (kubectl hides it too);
- a resource that is forbidden or keeps failing becomes a ``ReadError`` and the
  read goes on; a cluster that cannot be reached raises ``ClusterError``;
- Secrets are never requested: no target names them, and the request layer
  refuses any path that does.

ConfigMaps hold application settings, and now and then credentials that
belong in Secrets, so they are not copied wholesale: ``keep_configmap`` keeps
the ones a rule reads (DeepSpeed, device-plugin, kube-scheduler and kubelet
configs found by their content; the KServe and ingress-nginx controller
ConfigMaps; DCGM exporter counter lists) and those mounted by pods that request
an accelerator (training and serving configs such as llm-foundry YAML). The
rest are counted in ``ClusterRead.configmaps_skipped``.

The client is imported on first use, so ``kubernai check`` never loads it.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import yaml

from kubernai._version import __version__
from kubernai.errors import ClusterError
from kubernai.load.files import LoadResult
from kubernai.model.gpu import requests_accelerator
from kubernai.model.kserve import CONFIG_MAP as KSERVE_CONFIG_MAP
from kubernai.model.kubelet_config import kubelet_configs
from kubernai.model.resource import (
    Resource,
    Source,
    get_list,
    get_map,
    get_str,
    iter_maps,
)
from kubernai.model.scheduler_config import configs_in as scheduler_configs_in
from kubernai.model.sharing import plugin_configs_in
from kubernai.model.training import deepspeed_configs

Progress = Callable[[int, int, str, int], None]
"""Called with (resources done, resources in all, the resource, objects so far)."""

SECRETS = "secrets"
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
IN_CLUSTER = "in-cluster"
_DEFAULT_KUBECONFIG = "~/.kube/config"
_OBJECT_REPR = re.compile(r"^<[^>]*>:\s*")
_NGINX_CONTROLLER_CONFIGMAPS = frozenset(
    {"ingress-nginx-controller", "nginx-configuration"}  # as model/ingress.py
)
_DCGM_FIELD = "DCGM_FI_"


@dataclass(frozen=True, slots=True)
class Target:
    """A resource the audit reads: its API group, kind and plural resource name.

    The plural is the name RBAC grants (``deploy/rbac.yaml``); the version,
    the scope and the served plural come from discovery.
    """

    group: str
    kind: str
    plural: str

    @property
    def label(self) -> str:
        """``deployments.apps``, as kubectl and RBAC errors name a resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _targets(*rows: tuple[str, str, str]) -> tuple[Target, ...]:
    return tuple(Target(group, kind, plural) for group, kind, plural in rows)


TARGETS = _targets(
    # cluster-scoped facts first
    ("", "Namespace", "namespaces"),
    ("", "Node", "nodes"),
    ("", "PersistentVolume", "persistentvolumes"),
    ("scheduling.k8s.io", "PriorityClass", "priorityclasses"),
    ("storage.k8s.io", "StorageClass", "storageclasses"),
    ("node.k8s.io", "RuntimeClass", "runtimeclasses"),
    ("networking.k8s.io", "IngressClass", "ingressclasses"),
    ("nvidia.com", "ClusterPolicy", "clusterpolicies"),
    ("karpenter.sh", "NodePool", "nodepools"),
    ("kueue.x-k8s.io", "ResourceFlavor", "resourceflavors"),
    ("scheduling.volcano.sh", "Queue", "queues"),
    # workloads (the workload table) and the objects around them
    ("", "Pod", "pods"),
    ("", "PodTemplate", "podtemplates"),
    ("", "ReplicationController", "replicationcontrollers"),
    ("apps", "Deployment", "deployments"),
    ("apps", "ReplicaSet", "replicasets"),
    ("apps", "StatefulSet", "statefulsets"),
    ("apps", "DaemonSet", "daemonsets"),
    ("batch", "Job", "jobs"),
    ("batch", "CronJob", "cronjobs"),
    ("kubeflow.org", "PyTorchJob", "pytorchjobs"),
    ("kubeflow.org", "TFJob", "tfjobs"),
    ("kubeflow.org", "MPIJob", "mpijobs"),
    ("kubeflow.org", "PaddleJob", "paddlejobs"),
    ("kubeflow.org", "XGBoostJob", "xgboostjobs"),
    ("kubeflow.org", "JAXJob", "jaxjobs"),
    ("trainer.kubeflow.org", "TrainJob", "trainjobs"),
    ("trainer.kubeflow.org", "TrainingRuntime", "trainingruntimes"),
    ("trainer.kubeflow.org", "ClusterTrainingRuntime", "clustertrainingruntimes"),
    ("serving.kserve.io", "InferenceService", "inferenceservices"),
    ("serving.kserve.io", "ServingRuntime", "servingruntimes"),
    ("serving.kserve.io", "ClusterServingRuntime", "clusterservingruntimes"),
    ("serving.kserve.io", "LLMInferenceService", "llminferenceservices"),
    ("serving.kserve.io", "ClusterStorageContainer", "clusterstoragecontainers"),
    ("ray.io", "RayCluster", "rayclusters"),
    ("ray.io", "RayJob", "rayjobs"),
    ("ray.io", "RayService", "rayservices"),
    ("leaderworkerset.x-k8s.io", "LeaderWorkerSet", "leaderworkersets"),
    ("batch.volcano.sh", "Job", "jobs"),
    ("scheduling.volcano.sh", "PodGroup", "podgroups"),
    ("jobset.x-k8s.io", "JobSet", "jobsets"),
    ("serving.knative.dev", "Service", "services"),
    ("", "Service", "services"),
    ("networking.k8s.io", "Ingress", "ingresses"),
    ("gateway.networking.k8s.io", "HTTPRoute", "httproutes"),
    ("autoscaling", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
    ("keda.sh", "ScaledObject", "scaledobjects"),
    ("policy", "PodDisruptionBudget", "poddisruptionbudgets"),
    ("networking.k8s.io", "NetworkPolicy", "networkpolicies"),
    ("", "ResourceQuota", "resourcequotas"),
    ("", "LimitRange", "limitranges"),
    ("", "PersistentVolumeClaim", "persistentvolumeclaims"),
    ("", "Event", "events"),
    # last: which ConfigMaps to keep depends on the workloads read before
    ("", "ConfigMap", "configmaps"),
)
"""Every resource the audit and ``kubernai snapshot`` read, in reading order."""


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """Where the cluster is and how patiently to read it."""

    kubeconfig: str = ""
    """Kubeconfig path(s); ``""`` for ``$KUBECONFIG`` or ``~/.kube/config``."""
    context: str = ""
    namespace: str = ""
    """Read namespaced resources of this namespace only (``""``: all)."""
    page_size: int = 500
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    attempts: int = 4
    """Tries per request, the first included."""
    backoff_s: float = 0.5
    """Wait after the first failed try; doubled after each next one."""
    max_backoff_s: float = 8.0


@dataclass(frozen=True, slots=True)
class ReadError:
    """A resource that could not be read, and why."""

    resource: str
    """``deployments.apps``."""
    path: str
    """The request path, ``/apis/apps/v1/deployments``."""
    message: str


@dataclass(frozen=True, slots=True)
class ClusterObject:
    """An object as the API server sent it, with its API path."""

    path: str
    """``/apis/apps/v1/namespaces/ml/deployments/vllm``."""
    raw: dict[str, Any]


@dataclass(slots=True)
class ClusterRead:
    """Everything read from one cluster."""

    context: str
    server: str
    objects: list[ClusterObject] = field(default_factory=list)
    errors: list[ReadError] = field(default_factory=list)
    resources: int = 0
    """Resources listed (the served targets)."""
    configmaps_skipped: int = 0
    """ConfigMaps left out because no rule reads them (see ``keep_configmap``)."""


@dataclass(frozen=True, slots=True)
class _Served:
    """A target the API server serves: the version, plural and scope it has."""

    target: Target
    version: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        group = self.target.group
        return f"{group}/{self.version}" if group else self.version

    def path(self, namespace: str = "") -> str:
        group = self.target.group
        base = f"/apis/{group}/{self.version}" if group else f"/api/{self.version}"
        if namespace and self.namespaced:
            base += f"/namespaces/{namespace}"
        return f"{base}/{self.plural}"


class _Failure(Exception):
    """A request that failed for good: the HTTP status (0: no answer) and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --- connecting ----------------------------------------------------------------


def _kubeconfig(explicit: str) -> str:
    if explicit:
        return explicit
    if os.environ.get("KUBECONFIG"):
        return os.environ["KUBECONFIG"]
    try:
        return str(FsPath(_DEFAULT_KUBECONFIG).expanduser())
    except RuntimeError:  # no home directory (a container user without one)
        return _DEFAULT_KUBECONFIG


def _exists(paths: str) -> bool:
    return any(FsPath(p).is_file() for p in paths.split(os.pathsep) if p)


def _connect(options: ReadOptions) -> tuple[Any, str, str]:
    """An ApiClient (the client is untyped here: ``Any``), the context, the server."""
    config: Any = importlib.import_module("kubernetes.config")
    client: Any = importlib.import_module("kubernetes.client.api_client")
    configuration_module: Any = importlib.import_module(
        "kubernetes.client.configuration"
    )
    config_error: type[Exception] = importlib.import_module(
        "kubernetes.config.config_exception"
    ).ConfigException
    configuration = type.__call__(configuration_module.Configuration)  # a fresh one
    paths = _kubeconfig(options.kubeconfig)
    if options.kubeconfig and not _exists(paths):
        raise ClusterError(f"{options.kubeconfig}: kubeconfig not found")
    try:
        if not _exists(paths):
            if options.context or not os.environ.get("KUBERNETES_SERVICE_HOST"):
                raise ClusterError(
                    f"no kubeconfig at {paths} and not running in a cluster: pass "
                    "--kubeconfig (or set KUBECONFIG), or audit a saved file with "
                    "--snapshot"
                )
            config.load_incluster_config(client_configuration=configuration)
            context = IN_CLUSTER
        else:
            contexts, current = config.list_kube_config_contexts(paths)
            names = [get_str(c, "name") for c in contexts or ()]
            if options.context and options.context not in names:
                raise ClusterError(
                    f"context {options.context!r} is not in {paths} "
                    f"(contexts: {', '.join(names) or 'none'})"
                )
            context = options.context or get_str(current, "name")
            config.load_kube_config(
                config_file=paths,
                context=options.context or None,
                client_configuration=configuration,
                persist_config=False,
            )
    except (
        config_error,
        yaml.YAMLError,
        OSError,
        ValueError,
        KeyError,
        TypeError,
    ) as exc:
        where = IN_CLUSTER if not _exists(paths) else paths
        raise ClusterError(
            f"{where}: cannot load the cluster credentials: {exc}"
        ) from exc
    configuration.retries = False  # one try per call: _Session retries with backoff
    api_client = client.ApiClient(configuration)
    api_client.user_agent = f"kubernai/{__version__}"  # names kubernai in audit logs
    return api_client, context, str(configuration.host)


# --- requests ------------------------------------------------------------------


def _names_secrets(path: str) -> bool:
    """Whether a request path names the Secrets resource (of any group)."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    rest = parts[2:] if parts[0] == "api" else parts[3:]
    if len(rest) >= 3 and rest[0] == "namespaces":
        rest = rest[2:]
    return bool(rest) and rest[0] == SECRETS


def _text(body: Any) -> str:
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")
    return body if isinstance(body, str) else ""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _status_message(status: int, reason: str, body: Any) -> str:
    """``403 Forbidden: <the message of the API server's Status>``."""
    if status == 0:  # the client's own failure (TLS, a proxy): no HTTP answer
        return _one_line(reason) or "no answer"
    head = f"{status} {_one_line(reason)}".strip()
    text = _text(body).strip()
    if not text:
        return head
    try:
        detail = get_str(json.loads(text), "message")
    except ValueError:
        detail = text.splitlines()[0][:200]
    return f"{head}: {_one_line(detail)}" if detail else head


def _network_message(exc: BaseException, options: ReadOptions) -> str:
    errors: Any = importlib.import_module("urllib3.exceptions")
    reason = getattr(exc, "reason", None)  # MaxRetryError wraps the cause
    cause = reason if isinstance(reason, BaseException) else exc
    if not isinstance(cause, errors.NewConnectionError):  # refused is no timeout
        if isinstance(cause, errors.ConnectTimeoutError):
            return f"no connection within the {options.connect_timeout_s:g} s timeout"
        if isinstance(cause, errors.TimeoutError | TimeoutError):
            return f"no answer within the {options.read_timeout_s:g} s request timeout"
    text = _OBJECT_REPR.sub("", _one_line(str(cause))) or type(cause).__name__
    return f"connection failed: {text}"


def _retry_after_s(headers: Any) -> float | None:
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


Query = list[tuple[str, str | int]]


class _Session:
    """GET requests through the client's ApiClient: auth, timeouts, retries, JSON.

    The ApiClient adds the credentials of the kubeconfig (refreshing exec and
    OIDC tokens); the typed API classes are not used, for they import every
    model class of the client (seconds) and decode into models, not raw JSON.
    """

    def __init__(self, api_client: Any, options: ReadOptions) -> None:
        urllib3_errors: Any = importlib.import_module("urllib3.exceptions")
        self.api_client = api_client
        self.options = options
        self._api_exception: type[Exception] = importlib.import_module(
            "kubernetes.client.exceptions"
        ).ApiException
        self._network_errors: tuple[type[BaseException], ...] = (
            urllib3_errors.HTTPError,
            OSError,
        )
        # A refused connection (or an unknown host) fails at once, as in kubectl;
        # timeouts and connections dropped mid-answer are retried.
        self._refused: tuple[type[BaseException], ...] = (
            urllib3_errors.NewConnectionError,
            ConnectionRefusedError,
        )
        self._timeout = (options.connect_timeout_s, options.read_timeout_s)
        # kubernetes >= 31 (openapi-generator "python") builds requests with
        # param_serialize; older clients ("python-legacy") take them in call_api.
        self._serialize = hasattr(api_client, "param_serialize")

    def _send(self, path: str, query: Query) -> tuple[int, str, Any, bytes]:
        """Status, reason, headers and body of one GET."""
        api = self.api_client
        headers = {"Accept": "application/json"}
        if self._serialize:
            request = api.param_serialize(
                "GET",
                path,
                query_params=query,
                header_params=headers,
                auth_settings=["BearerToken"],
            )
            response = api.call_api(*request, _request_timeout=self._timeout)
            raw = response.response
        else:
            raw = api.call_api(
                path,
                "GET",
                query_params=query,
                header_params=headers,
                auth_settings=["BearerToken"],
                _return_http_data_only=True,
                _preload_content=False,
                _request_timeout=self._timeout,
            )
        try:
            body = raw.data
        finally:
            raw.release_conn()
        return int(raw.status), str(raw.reason or ""), raw.headers, body

    def get(self, path: str, query: Query | None = None) -> Any:
        """The decoded JSON of one GET, retried on 429, 5xx and timeouts."""
        if _names_secrets(path):
            raise _Failure(0, "refused: kubernai never reads Secrets")
        attempts = max(1, self.options.attempts)
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            try:
                status, reason, headers, body = self._send(path, query or [])
            except self._api_exception as exc:  # older clients raise on non-2xx
                status = int(getattr(exc, "status", 0) or 0)
                reason = str(getattr(exc, "reason", "") or "")
                headers = getattr(exc, "headers", None)
                body = _text(getattr(exc, "body", None)).encode()
            except self._network_errors as exc:
                if last or isinstance(exc, self._refused):  # refused: kubectl's way
                    message = _network_message(exc, self.options)
                    raise _Failure(0, message) from exc
                time.sleep(self._backoff_s(attempt, None))
                continue
            if 200 <= status < 300:
                try:
                    return json.loads(body)
                except ValueError as exc:
                    raise _Failure(status, f"the answer is not JSON: {exc}") from exc
            if status not in RETRIED_STATUSES or last:
                raise _Failure(status, _status_message(status, reason, body))
            time.sleep(self._backoff_s(attempt, _retry_after_s(headers)))
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff_s(self, attempt: int, retry_after_s: float | None) -> float:
        options = self.options
        delay: float = options.backoff_s * float(2 ** (attempt - 1))
        if retry_after_s is not None:
            delay = max(delay, retry_after_s)
        return max(0.0, min(delay, options.max_backoff_s))


# --- discovery -----------------------------------------------------------------


def _served_in(
    document: Any, group: str, version: str, wanted: Mapping[str, Target]
) -> dict[str, _Served]:
    """The wanted kinds an APIResourceList serves (not subresources, not unlistable)."""
    found: dict[str, _Served] = {}
    for _, resource in iter_maps(document, "resources"):
        name, kind = get_str(resource, "name"), get_str(resource, "kind")
        verbs = resource.get("verbs")
        if (
            not name
            or "/" in name
            or name == SECRETS
            or kind not in wanted
            or kind in found
            or (isinstance(verbs, list) and "list" not in verbs)
        ):
            continue
        namespaced = resource.get("namespaced") is True
        found[kind] = _Served(wanted[kind], version, name, namespaced)
    return found


def _versions(group: Mapping[str, Any]) -> list[str]:
    preferred = get_str(group, "preferredVersion", "version")
    versions = [get_str(v, "version") for _, v in iter_maps(group, "versions")]
    ordered = [preferred, *versions] if preferred else versions
    return [v for v in dict.fromkeys(ordered) if v]


def _discover(
    session: _Session, read: ClusterRead, targets: list[Target]
) -> list[_Served]:
    """The targets the cluster serves, in ``targets`` order."""
    by_group: dict[str, dict[str, Target]] = {}
    for target in targets:
        by_group.setdefault(target.group, {})[target.kind] = target
    try:
        versions = session.get("/api")
    except _Failure as failure:
        raise ClusterError(
            f"cannot read the cluster at {read.server} (context {read.context}): "
            f"{failure.message}"
        ) from failure
    served: dict[tuple[str, str], _Served] = {}
    if "v1" in get_list(versions, "versions") and "" in by_group:
        document = _discovery_document(session, read, "/api/v1")
        for kind, found in _served_in(document, "", "v1", by_group[""]).items():
            served[("", kind)] = found
    groups = _discovery_document(session, read, "/apis")
    for _, group in iter_maps(groups, "groups"):
        name = get_str(group, "name")
        missing = dict(by_group.get(name, {}))
        for version in _versions(group) if name and missing else ():
            path = f"/apis/{name}/{version}"
            document = _discovery_document(session, read, path)
            for kind, found in _served_in(document, name, version, missing).items():
                served[(name, kind)] = found
                del missing[kind]
            if not missing:
                break
    return [s for t in targets if (s := served.get((t.group, t.kind))) is not None]


def _discovery_document(session: _Session, read: ClusterRead, path: str) -> Any:
    """A discovery document; ``None`` when not served (404) or failing (recorded)."""
    try:
        return session.get(path)
    except _Failure as failure:
        if failure.status != 404:  # 404: an API group that went away, not an error
            message = f"cannot discover {path}: {failure.message}"
            read.errors.append(ReadError(path.removeprefix("/"), path, message))
        return None


# --- listing -------------------------------------------------------------------


def _as_object(item: Mapping[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    """A list item as ``kubectl get -o json`` prints it."""
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
    obj.update(item)
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and "managedFields" in metadata:
        obj["metadata"] = {k: v for k, v in metadata.items() if k != "managedFields"}
    return obj


def _object_path(served: _Served, obj: Mapping[str, Any]) -> str:
    metadata = get_map(obj, "metadata")
    namespace = get_str(metadata, "namespace") if served.namespaced else ""
    return f"{served.path(namespace)}/{get_str(metadata, 'name')}"


def _list(session: _Session, served: _Served, namespace: str) -> list[ClusterObject]:
    """Every object of one resource, page by page."""
    kind = served.target.kind
    if kind == "Namespace" and namespace:  # one namespace: get it, do not list
        path = f"{served.path()}/{namespace}"
        obj = _as_object(get_map(session.get(path)), served.api_version, kind)
        return [ClusterObject(path, obj)]
    path = served.path(namespace)
    objects: list[ClusterObject] = []
    token = ""
    restarted = False
    while True:
        query: Query = [("limit", session.options.page_size)]
        if token:
            query.append(("continue", token))
        try:
            page = session.get(path, query)
        except _Failure as failure:
            if failure.status == 410 and token and not restarted:
                restarted = True  # the continue token expired: list again, once
                objects, token = [], ""
                continue
            raise
        api_version = get_str(page, "apiVersion") or served.api_version
        for _, item in iter_maps(page, "items"):
            obj = _as_object(item, api_version, kind)
            objects.append(ClusterObject(_object_path(served, obj), obj))
        token = get_str(page, "metadata", "continue")
        if not token:
            return objects


# --- ConfigMaps ----------------------------------------------------------------


def accelerator_configmaps(
    objects: Iterable[Mapping[str, Any]],
) -> set[tuple[str, str]]:
    """(namespace, name) of the ConfigMaps that pods requesting accelerators mount."""
    found: set[tuple[str, str]] = set()
    for raw in objects:
        resource = Resource(raw, Source("", 1))
        for template in resource.templates:
            if not requests_accelerator(template):
                continue
            for _, volume in iter_maps(template.spec, "volumes"):
                sources = [get_map(volume, "configMap")]
                sources += [
                    get_map(projected, "configMap")
                    for _, projected in iter_maps(volume, "projected", "sources")
                ]
                for source in sources:
                    name = get_str(source, "name")
                    if name:
                        found.add((resource.namespace, name))
    return found


def keep_configmap(raw: Mapping[str, Any], mounted: set[tuple[str, str]]) -> bool:
    """Whether a snapshot keeps a ConfigMap: a rule reads it, or a GPU pod mounts it.

    Kept: ConfigMaps mounted by pods (or pod templates) that request an
    accelerator; ConfigMaps whose content a rule recognises (DeepSpeed JSON,
    NVIDIA device-plugin configs, KubeSchedulerConfiguration,
    KubeletConfiguration); KServe's ``inferenceservice-config``; the
    ingress-nginx controller ConfigMap; DCGM exporter counter lists. Every
    other ConfigMap is left out: no rule reads it, and its data may be private.
    """
    resource = Resource(raw, Source("", 1))
    if resource.kind != "ConfigMap":
        return False
    if (resource.namespace, resource.name) in mounted:
        return True
    labels = resource.labels
    if (
        resource.name == KSERVE_CONFIG_MAP
        or resource.name in _NGINX_CONTROLLER_CONFIGMAPS
        or (
            labels.get("app.kubernetes.io/name") == "ingress-nginx"
            and labels.get("app.kubernetes.io/component") == "controller"
        )
    ):
        return True
    data = get_map(raw, "data")
    if any(isinstance(v, str) and _DCGM_FIELD in v for v in data.values()):
        return True
    return bool(
        next(deepspeed_configs(resource), None)
        or plugin_configs_in(resource)
        or scheduler_configs_in(resource)
        or next(kubelet_configs(resource), None)
    )


# --- the whole read ------------------------------------------------------------


def read_cluster(
    options: ReadOptions | None = None,
    *,
    targets: Iterable[Target] = TARGETS,
    progress: Progress | None = None,
) -> ClusterRead:
    """Read ``targets`` from the cluster that ``options`` name.

    Raises:
        ClusterError: no credentials, or the API server cannot be reached or
            refuses discovery. A single resource that fails is a ``ReadError``.
    """
    options = options or ReadOptions()
    api_client, context, server = _connect(options)
    read = ClusterRead(context=context, server=server)
    try:
        session = _Session(api_client, options)
        served = _discover(session, read, list(targets))
        read.resources = len(served)
        for done, resource in enumerate(served):
            if progress is not None:
                progress(done, len(served), resource.target.label, len(read.objects))
            _read_resource(session, read, resource, options.namespace)
        if progress is not None:
            progress(len(served), len(served), "", len(read.objects))
    finally:
        api_client.close()
    return read


def _read_resource(
    session: _Session, read: ClusterRead, served: _Served, namespace: str
) -> None:
    try:
        objects = _list(session, served, namespace)
    except _Failure as failure:
        one = served.target.kind == "Namespace" and bool(namespace)
        path = f"{served.path()}/{namespace}" if one else served.path(namespace)
        verb = "get" if one else "list"
        message = f"cannot {verb} {served.target.label}: {failure.message}"
        read.errors.append(ReadError(served.target.label, path, message))
        return
    if served.target.group == "" and served.target.kind == "ConfigMap":
        mounted = accelerator_configmaps(o.raw for o in read.objects)
        kept = [o for o in objects if keep_configmap(o.raw, mounted)]
        read.configmaps_skipped += len(objects) - len(kept)
        objects = kept
    read.objects.extend(objects)


def snapshot_document(read: ClusterRead) -> dict[str, Any]:
    """The read as ``kubectl get ... -o json`` prints several resources: a List."""
    return {
        "apiVersion": "v1",
        "items": [o.raw for o in read.objects],
        "kind": "List",
        "metadata": {"resourceVersion": ""},
    }


def to_load_result(read: ClusterRead) -> LoadResult:
    """The objects as Resources; each one's file is its API path, line 1."""
    result = LoadResult()
    result.files.add(f"cluster {read.context}")
    for obj in read.objects:
        source = Source(file=obj.path.removeprefix("/"), line=1)
        result.resources.append(Resource(obj.raw, source))
    return result
