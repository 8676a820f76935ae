"""NVIDIA's DCGM exporter: its settings, its counters lists and the fields it exports.

The exporter (``nvcr.io/nvidia/k8s/dcgm-exporter``) reads its settings from
flags, then from environment variables (NVIDIA/dcgm-exporter
``pkg/cmd/app.go``, urfave/cli: a flag wins over its variable):

- ``-f`` / ``--collectors`` / ``DCGM_EXPORTER_COLLECTORS``: the counters CSV,
  default ``/etc/dcgm-exporter/default-counters.csv`` (the image also ships
  ``dcp-metrics-included.csv``);
- ``-m`` / ``--configmap-data`` / ``DCGM_EXPORTER_CONFIGMAP_DATA``:
  ``NAMESPACE:NAME`` of a ConfigMap whose ``metrics`` key is the CSV, read
  through the API instead of the file;
- ``-k`` / ``--kubernetes`` / ``DCGM_EXPORTER_KUBERNETES``: pod mapping,
  default false;
- ``--pod-resources-kubelet-socket`` / ``DCGM_POD_RESOURCES_KUBELET_SOCKET``:
  default ``/var/lib/kubelet/pod-resources/kubelet.sock``;
- ``-o`` / ``--use-old-namespace``: 1.x metric names instead of the field names.

The GPU Operator's ClusterPolicy runs it with ``DCGM_EXPORTER_COLLECTORS``
``/etc/dcgm-exporter/dcp-metrics-included.csv``, or, with
``spec.dcgmExporter.config.name``, the ConfigMap's ``dcgm-metrics.csv`` key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache, partial
from importlib import resources
from typing import Any

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Path, Resource, get_map, get_str, iter_maps
from kubernai.model.servers import command_tokens
from kubernai.model.taints import gpu_agent_component
from kubernai.model.workload import Container, PodTemplate, memoised

EXPORTER_COMPONENT = "DCGM exporter"
"""The component name ``gpu_agent_component`` gives the exporter's image."""
DEFAULT_COLLECTORS = "/etc/dcgm-exporter/default-counters.csv"
DEFAULT_SOCKET = "/var/lib/kubelet/pod-resources/kubelet.sock"
CONFIGMAP_KEY = "metrics"
"""The key ``-m NAMESPACE:NAME`` reads (counters/counter_config.go)."""
OPERATOR_CONFIGMAP_KEY = "dcgm-metrics.csv"
OPERATOR_COLLECTORS = "/etc/dcgm-exporter/dcp-metrics-included.csv"
METRIC_TYPES = frozenset({"gauge", "counter", "histogram", "summary"})
"""CSV types that make a metric; ``label`` fields become labels of the others."""
FIELD_PREFIXES = ("DCGM_FI_", "DCGM_EXP_")

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
"""Go's strconv.ParseBool, which urfave/cli uses for boolean flags and variables."""
_VERSION = re.compile(r"(\d+\.\d+\.\d+-\d+\.\d+\.\d+)")


# --- data ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Field:
    """A DCGM field as the exporter exports it."""

    name: str
    type: str
    unit: str


@dataclass(frozen=True, slots=True)
class Unit:
    """The plausible values of a unit.

    A threshold above ``max``, or above 0 and below ``least_nonzero``, was
    written in another unit.
    """

    name: str
    max: float
    least_nonzero: float
    too_high: str
    """What a threshold above ``max`` most likely is."""
    too_low: str
    """What a threshold between 0 and ``least_nonzero`` most likely is."""


@cache
def _data() -> dict[str, Any]:
    text = (resources.files("kubernai") / "data" / "dcgm_fields.json").read_text(
        "utf-8"
    )
    data: dict[str, Any] = json.loads(text)
    return data


def field(name: str) -> Field | None:
    """What the catalog knows of a DCGM field, or ``None``."""
    entry = _data()["fields"].get(name)
    if entry is None:
        return None
    return Field(name, entry["type"], entry["unit"])


def unit(name: str) -> Unit | None:
    """The plausible range of a unit (``%``, ``ratio``, ``MiB`` ...), or ``None``."""
    entry = _data()["units"].get(name)
    if entry is None:
        return None
    return Unit(
        name,
        float(entry["max"]),
        float(entry["least_nonzero"]),
        entry["too_high"],
        entry["too_low"],
    )


def builtin_file(path: str) -> str:
    """The image's counters file at ``path`` (``default-counters.csv``), or ``""``."""
    name: str = _data()["builtin_files"].get(path, "")
    return name


@cache
def builtin_counters(file: str, version: str) -> frozenset[str]:
    """Metrics a built-in counters file enables in an exporter release.

    ``version`` is ``DCGM-EXPORTER`` (``3.3.9-3.6.1``); for a release the
    catalog does not list, every metric any listed release enables.
    """
    groups = _data()["builtin_counters"]
    for group in groups:
        if version in group["versions"]:
            return frozenset(group.get(file, ()))
    return frozenset(name for group in groups for name in group.get(file, ()))


def exporter_version(image: str) -> str:
    """The release in an image tag: ``3.3.9-3.6.1`` from ``...:3.3.9-3.6.1-ubi9``."""
    ref = image.split("@", 1)[0]
    slash, colon = ref.rfind("/"), ref.rfind(":")
    if colon <= slash:
        return ""
    match = _VERSION.match(ref[colon + 1 :])
    return match.group(1) if match else ""


def is_dcgm_metric(name: str) -> bool:
    """A metric named after a DCGM field (``DCGM_FI_*``) or an exporter field."""
    return name.startswith(FIELD_PREFIXES)


# --- counters CSV ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Counters:
    """A parsed counters CSV: enabled metrics by type, and the first bad line."""

    metrics: Mapping[str, str]
    """Enabled fields that become metrics, with their Prometheus type."""
    malformed_line: int | None = None
    """1-based line the exporter refuses (it then does not start)."""


def parse_counters(text: str) -> Counters:
    """Read a counters CSV as the exporter does (encoding/csv, ``#`` comments).

    A record is ``FIELD, TYPE, HELP``; blank lines and lines that start with
    ``#`` are skipped; fields are trimmed of spaces.
    """
    metrics: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        record = [part.strip() for part in line.split(",")]
        if len(record) != 3 or record[1] not in (*METRIC_TYPES, "label"):
            return Counters(metrics, number)
        if record[1] in METRIC_TYPES:
            metrics[record[0]] = record[1]
    return Counters(metrics)


def counters_in(configmap: Resource, key: str) -> Counters | None:
    """The counters CSV under ``key`` of a ConfigMap, or ``None``."""
    text = get_map(configmap.raw, "data").get(key)
    return parse_counters(text) if isinstance(text, str) else None


# --- the exporter container --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting of the exporter: its value, where it was set, and how."""

    value: str | None
    """``None``: set from somewhere the input does not show (valueFrom, envFrom)."""
    path: Path = ()
    """Path of the flag or variable; empty for the default."""
    how: str = ""
    """``flag --kubernetes=false``, ``env DCGM_EXPORTER_KUBERNETES='false'``; empty
    for the default."""


@dataclass(frozen=True, slots=True)
class Exporter:
    """A DCGM exporter container and its settings."""

    container: Container
    image: str
    kubernetes: Setting
    collectors: Setting
    configmap_data: Setting
    socket: Setting
    old_namespace: Setting

    @property
    def version(self) -> str:
        """The release from the image tag (``3.3.9-3.6.1``), or ``""``."""
        return exporter_version(self.image)


_FLAGS: dict[str, tuple[str, bool]] = {
    "k": ("kubernetes", True),
    "kubernetes": ("kubernetes", True),
    "f": ("collectors", False),
    "collectors": ("collectors", False),
    "m": ("configmap_data", False),
    "configmap-data": ("configmap_data", False),
    "pod-resources-kubelet-socket": ("socket", False),
    "o": ("old_namespace", True),
    "use-old-namespace": ("old_namespace", True),
}
"""Flag (either spelling, Go's flag package takes ``-x`` and ``--x``) → setting,
boolean."""
_ENV = {
    "DCGM_EXPORTER_KUBERNETES": "kubernetes",
    "DCGM_EXPORTER_COLLECTORS": "collectors",
    "DCGM_EXPORTER_CONFIGMAP_DATA": "configmap_data",
    "DCGM_POD_RESOURCES_KUBELET_SOCKET": "socket",
    "DCGM_EXPORTER_USE_OLD_NAMESPACE": "old_namespace",
}
_DEFAULTS = {
    "kubernetes": "false",
    "collectors": DEFAULT_COLLECTORS,
    "configmap_data": "none",
    "socket": DEFAULT_SOCKET,
    "old_namespace": "false",
}


def exporters(template: PodTemplate) -> Iterator[Exporter]:
    """The DCGM exporter containers of a pod template, with their settings."""
    for container in template.containers:
        image = get_str(container.raw, "image")
        if image and gpu_agent_component(image) == EXPORTER_COMPONENT:
            yield memoised(container, "dcgm_exporter", partial(_read, container))


def _read(container: Container) -> Exporter:
    settings = {key: Setting(value) for key, value in _DEFAULTS.items()}
    if container.raw.get("envFrom"):
        settings = {key: Setting(None) for key in settings}
    for index, env in iter_maps(container.raw, "env"):
        key = _ENV.get(get_str(env, "name"))
        if key is None:
            continue
        path: Path = (*container.path, "env", index)
        value = env.get("value")
        if "valueFrom" in env or (value is not None and not isinstance(value, str)):
            settings[key] = Setting(None, path, f"env {env.get('name')}")
        else:
            text = value or ""
            settings[key] = Setting(
                text, (*path, "value"), f"env {env.get('name')}={text!r}"
            )
    tokens = command_tokens(container)
    position = 0
    while position < len(tokens):
        token = tokens[position]
        position += 1
        if not token.text.startswith("-") or token.text in ("-", "--"):
            continue
        name, equals, value = token.text.lstrip("-").partition("=")
        entry = _FLAGS.get(name)
        if entry is None:
            continue
        key, boolean = entry
        if not equals:
            if boolean:
                value = "true"
            elif position < len(tokens):
                value = tokens[position].text
                position += 1
            else:
                continue
        settings[key] = Setting(value, token.path, f"flag {token.text}")
    return Exporter(
        container=container,
        image=get_str(container.raw, "image"),
        kubernetes=settings["kubernetes"],
        collectors=settings["collectors"],
        configmap_data=settings["configmap_data"],
        socket=settings["socket"],
        old_namespace=settings["old_namespace"],
    )


def parse_bool(value: str | None) -> bool | None:
    """A boolean as urfave/cli reads it (Go's ParseBool; ``""`` is false)."""
    if value is None:
        return None
    if value == "" or value in _FALSE:
        return False
    return True if value in _TRUE else None


@dataclass(frozen=True, slots=True)
class Mount:
    """The volume mount that holds a file, and the volume behind it."""

    path: Path
    mount: Mapping[str, Any]
    volume: Mapping[str, Any] | None


def mount_of(template: PodTemplate, container: Container, file: str) -> Mount | None:
    """The mount of ``container`` that ``file`` lies in (the deepest one)."""
    best: tuple[int, Path, Mapping[str, Any]] | None = None
    for index, mount in iter_maps(container.raw, "volumeMounts"):
        where = get_str(mount, "mountPath").rstrip("/")
        inside = where and (file == where or file.startswith(where + "/"))
        if inside and (best is None or len(where) > best[0]):
            best = (len(where), (*container.path, "volumeMounts", index), mount)
    if best is None:
        return None
    name = get_str(best[2], "name")
    volume = next(
        (v for _, v in iter_maps(template.spec, "volumes") if v.get("name") == name),
        None,
    )
    return Mount(best[1], best[2], volume)


# --- what the exporters of the input export ------------------------------------


@dataclass(frozen=True, slots=True)
class ExportedMetrics:
    """The metrics one exporter of the input exports.

    ``metrics`` is ``None`` when that depends on something the input lacks.
    """

    source: str
    """The exporter and its counters list, for messages."""
    metrics: frozenset[str] | None


def exported_metrics(graph: ObjectGraph) -> tuple[ExportedMetrics, ...]:
    """One entry per DCGM exporter of the input (DaemonSets, ClusterPolicies)."""
    return graph.derived("dcgm-exported-metrics", lambda g: tuple(_exported(g)))


def _exported(graph: ObjectGraph) -> Iterator[ExportedMetrics]:
    for daemonset in graph.of_kind("DaemonSet"):
        for template in daemonset.templates:
            for exporter in exporters(template):
                yield _container_metrics(graph, daemonset, template, exporter)
    for policy in graph.of_kind("ClusterPolicy"):
        if policy.group == "nvidia.com":
            found = _policy_metrics(graph, policy)
            if found is not None:
                yield found


def _container_metrics(
    graph: ObjectGraph, owner: Resource, template: PodTemplate, exporter: Exporter
) -> ExportedMetrics:
    where = f"{owner.display()} ({exporter.image}"
    if parse_bool(exporter.old_namespace.value) is not False:
        return ExportedMetrics(f"{where}, 1.x metric names)", None)
    configmap = exporter.configmap_data.value
    if configmap is None:
        return ExportedMetrics(f"{where})", None)
    if configmap != "none":
        namespace, _, name = configmap.partition(":")
        found = graph.get("ConfigMap", namespace, name)
        counters = counters_in(found, CONFIGMAP_KEY) if found else None
        return ExportedMetrics(
            f"{where}, ConfigMap {configmap} key {CONFIGMAP_KEY})", _known(counters)
        )
    path = exporter.collectors.value
    if path is None:
        return ExportedMetrics(f"{where})", None)
    source = f"{where}, {path})"
    mount = mount_of(template, exporter.container, path)
    if mount is None:
        file = builtin_file(path)
        if not file:
            return ExportedMetrics(source, None)
        return ExportedMetrics(source, builtin_counters(file, exporter.version))
    key, configmap_name = _projected_key(mount, path)
    if not key:
        return ExportedMetrics(source, None)
    found = graph.get("ConfigMap", owner.namespace, configmap_name)
    counters = counters_in(found, key) if found else None
    return ExportedMetrics(
        f"{where}, {path} from ConfigMap {configmap_name} key {key})",
        _known(counters),
    )


def _projected_key(mount: Mount, path: str) -> tuple[str, str]:
    """(ConfigMap key, ConfigMap name) of the file at ``path``, else empties."""
    volume = get_map(mount.volume, "configMap") if mount.volume else {}
    name = get_str(volume, "name")
    if not name:
        return "", ""
    where = get_str(mount.mount, "mountPath").rstrip("/")
    sub = get_str(mount.mount, "subPath")
    relative = sub if path == where and sub else path[len(where) + 1 :]
    if sub and path != where:
        relative = f"{sub.rstrip('/')}/{relative}"
    items = list(iter_maps(volume, "items"))
    if not items:
        return relative, name
    for _, item in items:
        if get_str(item, "path") == relative:
            return get_str(item, "key"), name
    return "", ""


def _policy_metrics(graph: ObjectGraph, policy: Resource) -> ExportedMetrics | None:
    spec = get_map(policy.raw, "spec", "dcgmExporter")
    if spec.get("enabled") is False or str(spec.get("enabled")).lower() == "false":
        return None
    version = exporter_version(f"x:{get_str(spec, 'version')}")
    where = f"{policy.display()} (dcgm-exporter {get_str(spec, 'version') or '?'}"
    config = get_str(get_map(spec, "config"), "name")
    if config:
        found = [c for c in graph.of_kind("ConfigMap") if c.name == config]
        counters = counters_in(found[0], OPERATOR_CONFIGMAP_KEY) if found else None
        return ExportedMetrics(
            f"{where}, ConfigMap {config} key {OPERATOR_CONFIGMAP_KEY})",
            _known(counters),
        )
    path = OPERATOR_COLLECTORS
    for _, env in iter_maps(spec, "env"):
        if get_str(env, "name") == "DCGM_EXPORTER_COLLECTORS":
            path = get_str(env, "value")
    file = builtin_file(path)
    metrics = builtin_counters(file, version) if file else None
    return ExportedMetrics(f"{where}, {path or '?'})", metrics)


def _known(counters: Counters | None) -> frozenset[str] | None:
    if counters is None or counters.malformed_line is not None:
        return None
    return frozenset(counters.metrics)


def configmap_metrics(graph: ObjectGraph) -> frozenset[str]:
    """Metrics enabled by any counters CSV held in a ConfigMap of the input."""

    def build(graph: ObjectGraph) -> frozenset[str]:
        found: set[str] = set()
        for configmap in graph.of_kind("ConfigMap"):
            for text in get_map(configmap.raw, "data").values():
                if isinstance(text, str) and "DCGM_" in text:
                    counters = parse_counters(text)
                    if counters.malformed_line is None:
                        found.update(counters.metrics)
        return frozenset(found)

    return graph.derived("dcgm-configmap-metrics", build)


def every_builtin_metric() -> frozenset[str]:
    """Every metric some release's built-in counters files enable."""
    return frozenset(
        name
        for group in _data()["builtin_counters"]
        for file in _data()["builtin_files"].values()
        for name in group.get(file, ())
    )
