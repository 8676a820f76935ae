"""KServe InferenceServices: deployment mode, components, autoscaling, storage URIs.

Sources (kserve/kserve; HEAD = aaac4e294, after v0.20.0; data in data/kserve.json):
- ``pkg/constants/constants.go``: the deployment-mode annotation
  ``serving.kserve.io/deploymentMode``; ``Standard`` and ``Knative`` since 0.16.0,
  when ``RawDeployment`` and ``Serverless`` became deprecated aliases
  (``ParseDeploymentMode``); the autoscaler-class annotation
  ``serving.kserve.io/autoscalerClass`` (``hpa`` by default);
- ``pkg/controller/v1beta1/inferenceservice/utils/utils.go`` ``GetDeploymentMode``:
  an annotation value that is not a known mode is ignored and the ConfigMap
  default applies; ``ValidateStorageURI`` and ``SupportedStorageURIPrefixList``;
- ``pkg/apis/serving/v1beta1/configmap.go`` ``NewDeployConfig``: the default mode
  is ``defaultDeploymentMode`` in the JSON of key ``deploy`` of ConfigMap
  ``inferenceservice-config`` in the KServe namespace; the shipped ConfigMap says
  ``Serverless``, the code's fallback is ``Standard``, so without that ConfigMap
  the mode of an unannotated InferenceService is unknown;
- ``components/predictor.go`` ``buildObjectMeta``: component annotations override
  the InferenceService's, which override the ServingRuntime's; the autoscaler
  reconciler reads the class from that union.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import (
    Path,
    Resource,
    get_map,
    get_path,
    get_str,
    is_placeholder,
    iter_maps,
)

GROUP = "serving.kserve.io"
DEPLOYMENT_MODE = "serving.kserve.io/deploymentMode"
AUTOSCALER_CLASS = "serving.kserve.io/autoscalerClass"
KNATIVE_AUTOSCALING_CLASS = "autoscaling.knative.dev/class"
KNATIVE_HPA_CLASS = "hpa.autoscaling.knative.dev"
CONFIG_MAP = "inferenceservice-config"
COMPONENTS = ("predictor", "transformer", "explainer")
CONTAINER_NAME = "kserve-container"
STORAGE_URI_ENV = "STORAGE_URI"
DEFAULT_CPU_UTILIZATION = 80
"""``DefaultCPUUtilization``: the target of the HPA KServe makes without a metric."""

_IMPLEMENTATIONS = (
    "model", "sklearn", "xgboost", "tensorflow", "pytorch", "triton", "onnx",
    "huggingface", "pmml", "lightgbm", "paddle", "art",
)  # fmt: skip
"""Keys of a component that hold a model server spec with a ``storageUri``."""


class Mode(StrEnum):
    """A deployment mode, by its name since KServe 0.16."""

    STANDARD = "Standard"
    KNATIVE = "Knative"
    MODEL_MESH = "ModelMesh"


# -- data ------------------------------------------------------------------------


@cache
def _data() -> Mapping[str, Any]:
    text = resources.files("kubernai").joinpath("data/kserve.json").read_text("utf-8")
    data: Mapping[str, Any] = json.loads(text)
    return data


@cache
def _modes() -> dict[str, tuple[Mode, bool]]:
    return {
        item["value"]: (Mode(item["means"]), bool(item.get("legacy")))
        for item in _data()["deployment_modes"]
    }


def parse_mode(value: str) -> Mode | None:
    """The mode an annotation value selects (legacy names included), else None.

    KServe compares exactly: ``rawDeployment`` or ``standard`` select nothing.
    """
    known = _modes().get(value)
    return known[0] if known else None


def is_legacy_mode(value: str) -> bool:
    """``RawDeployment`` or ``Serverless``: the names KServe 0.16 deprecated."""
    known = _modes().get(value)
    return bool(known and known[1])


def known_mode_values() -> tuple[str, ...]:
    """Every value KServe accepts for the deployment-mode annotation."""
    return tuple(_modes())


@cache
def autoscaler_classes() -> tuple[str, ...]:
    """Values the webhook accepts for ``serving.kserve.io/autoscalerClass``."""
    return tuple(item["value"] for item in _data()["autoscaler_classes"])


@cache
def storage_uri_prefixes() -> tuple[str, ...]:
    """The storageUri prefixes a default KServe install downloads from."""
    return tuple(item["value"] for item in _data()["storage_uri_prefixes"])


# -- deployment mode -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeploymentMode:
    """The mode an InferenceService runs in, and where that was read.

    ``mode`` is None when it depends on a cluster setting the input lacks.
    ``written`` is the annotation value as written ("" when absent).
    """

    mode: Mode | None
    written: str
    origin: str
    """``annotation`` or ``ConfigMap <ns>/inferenceservice-config``, else ""."""

    @property
    def standard(self) -> bool:
        """Whether the InferenceService runs as a Deployment (Standard mode)."""
        return self.mode is Mode.STANDARD

    @property
    def knative(self) -> bool:
        """Whether it runs as a Knative Service."""
        return self.mode is Mode.KNATIVE

    def describe(self) -> str:
        """How messages name the mode and its origin."""
        if self.written and self.origin == "annotation":
            return f"{self.mode} mode ({DEPLOYMENT_MODE}: {self.written})"
        return f"{self.mode} mode (defaultDeploymentMode in {self.origin})"


ANNOTATION_PATH: Path = ("metadata", "annotations", DEPLOYMENT_MODE)


def default_mode(graph: ObjectGraph) -> tuple[Mode | None, str]:
    """The cluster's default mode from ``inferenceservice-config`` in the input.

    Unknown (None) when no such ConfigMap names a mode, or when several
    disagree (the input then holds more than one cluster's configuration).
    """
    found: dict[Mode, str] = {}
    for config_map in graph.of_kind("ConfigMap"):
        if config_map.name != CONFIG_MAP:
            continue
        mode = parse_mode(configured_default_mode(config_map))
        if mode is not None and mode not in found:
            where = f"{config_map.namespace}/" if config_map.namespace else ""
            found[mode] = f"ConfigMap {where}{CONFIG_MAP}"
    if len(found) != 1:
        return None, ""
    ((mode, origin),) = found.items()
    return mode, origin


def configured_default_mode(config_map: Resource) -> str:
    """``defaultDeploymentMode`` in the ``deploy`` JSON of the ConfigMap, else ""."""
    text = get_str(config_map.raw, "data", "deploy")
    if not text:
        return ""
    try:
        deploy = json.loads(text)
    except ValueError:
        return ""
    return get_str(deploy, "defaultDeploymentMode")


def deployment_mode(resource: Resource, graph: ObjectGraph) -> DeploymentMode:
    """The effective mode: a known annotation value, else the ConfigMap default."""
    written = resource.annotations.get(DEPLOYMENT_MODE)
    text = written if isinstance(written, str) else ""
    mode = parse_mode(text)
    if mode is not None:
        return DeploymentMode(mode, text, "annotation")
    fallback, origin = default_mode(graph)
    return DeploymentMode(fallback, text, origin)


def is_inference_service(resource: Resource) -> bool:
    """A ``serving.kserve.io`` InferenceService of the v1beta1 shape.

    ``v1alpha2`` (``spec.default.predictor``, removed in KServe 0.7) predates
    deployment modes and is left alone.
    """
    return (
        resource.group == GROUP
        and resource.kind == "InferenceService"
        and not resource.api_version.endswith("/v1alpha2")
    )


# -- components ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Component:
    """The predictor, transformer or explainer of an InferenceService."""

    name: str
    path: Path
    spec: Mapping[str, Any]

    def field_path(self, *steps: str | int) -> Path:
        """Path of a field of the component in the object."""
        return (*self.path, *steps)

    @property
    def annotations(self) -> Mapping[str, Any]:
        """The component's own ``annotations``."""
        return get_map(self.spec, "annotations")

    def has(self, key: str) -> bool:
        """Whether the component sets ``key`` (to anything but null)."""
        return get_path(self.spec, key) is not None


def components(resource: Resource) -> Iterator[Component]:
    """The components an InferenceService sets, predictor first."""
    for name in COMPONENTS:
        spec = get_map(resource.raw, "spec", name)
        if spec:
            yield Component(name, ("spec", name), spec)


@dataclass(frozen=True, slots=True)
class AutoscalerClass:
    """``serving.kserve.io/autoscalerClass`` as it reaches the component's reconciler.

    ``value`` is "" when no level sets it (KServe then uses ``hpa``).
    """

    value: str
    path: Path
    level: str
    """``component``, ``InferenceService`` or ``ServingRuntime <name>``."""

    @property
    def hpa(self) -> bool:
        """Whether KServe makes an HPA for the component (``hpa`` or unset)."""
        return self.value in ("", "hpa")


def autoscaler_class(
    resource: Resource, component: Component, graph: ObjectGraph
) -> AutoscalerClass:
    """The class from component > InferenceService > ServingRuntime annotations.

    A runtime that is not in the input adds nothing (unknown, assumed unset).
    """
    value = component.annotations.get(AUTOSCALER_CLASS)
    if isinstance(value, str):
        path = component.field_path("annotations", AUTOSCALER_CLASS)
        return AutoscalerClass(value, path, "component")
    value = resource.annotations.get(AUTOSCALER_CLASS)
    if isinstance(value, str):
        path = ("metadata", "annotations", AUTOSCALER_CLASS)
        return AutoscalerClass(value, path, "InferenceService")
    runtime = _runtime(resource, component, graph)
    if runtime is not None:
        value = get_map(runtime.raw, "spec", "annotations").get(AUTOSCALER_CLASS)
        if isinstance(value, str):
            return AutoscalerClass(value, (), f"{runtime.kind} {runtime.name}")
    return AutoscalerClass("", (), "")


def _runtime(
    resource: Resource, component: Component, graph: ObjectGraph
) -> Resource | None:
    name = get_str(component.spec, "model", "runtime")
    if component.name != "predictor" or not name:
        return None
    found = graph.get("ServingRuntime", resource.namespace, name)
    return found or graph.get("ClusterServingRuntime", "", name)


# -- storage URIs --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StorageUri:
    """A ``storageUri`` of a component and where it is written."""

    uri: str
    path: Path
    component: str


def storage_uris(resource: Resource) -> Iterator[StorageUri]:
    """Every single ``storageUri`` KServe validates (``storageUris`` lists aside).

    Model server specs carry it as ``storageUri``; custom containers as the
    ``STORAGE_URI`` env of the ``kserve-container`` (``CustomPredictor``).
    """
    for component in components(resource):
        for key in _IMPLEMENTATIONS:
            uri = get_path(component.spec, key, "storageUri")
            if isinstance(uri, str) and uri and not is_placeholder(uri):
                path = component.field_path(key, "storageUri")
                yield StorageUri(uri, path, component.name)
        for index, container in iter_maps(component.spec, "containers"):
            if get_str(container, "name") != CONTAINER_NAME:
                continue
            for env_index, env in iter_maps(container, "env"):
                value = env.get("value")
                if env.get("name") != STORAGE_URI_ENV or not isinstance(value, str):
                    continue
                if value and not is_placeholder(value):
                    path = component.field_path(
                        "containers", index, "env", env_index, "value"
                    )
                    yield StorageUri(value, path, component.name)
            break


_SCHEME = re.compile(r"\w+?://", re.ASCII)
_AZURE_BLOB = re.compile(r"https://(.+?).blob.core.windows.net/(.+)")


def storage_uri_supported(uri: str, formats: tuple[UriFormat, ...] = ()) -> bool:
    """Whether ``ValidateStorageURI`` passes ``uri`` (plus extra storage containers).

    Local paths (no ``scheme://``) pass; Azure blob URLs must match
    ``https://<account>.blob.core.windows.net/<path>``; anything else needs a
    known prefix or a matching ClusterStorageContainer format.
    """
    if any(f.matches(uri) for f in formats):
        return True
    if not _SCHEME.search(uri):
        return True
    if "blob.core.windows.net" in uri:
        return _AZURE_BLOB.search(uri) is not None
    return uri.startswith(storage_uri_prefixes())


@cache
def _scheme_mistakes() -> dict[str, str]:
    return {
        item["value"]: item["use"]
        for item in _data()["storage_scheme_mistakes"]["schemes"]
    }


def storage_uri_hint(uri: str) -> str:
    """What to write instead, when ``uri`` is a known slip; else "".

    Known slips: an Azure blob URL without a container and path, a built-in
    scheme in other letter case (``S3://``), and schemes that other storage
    libraries read (``s3a://``, ``gcs://``, ``abfs://``; data/kserve.json).
    """
    if "blob.core.windows.net" in uri:
        return "https://<account>.blob.core.windows.net/<container>/<path>"
    scheme, separator, _ = uri.partition("://")
    if not separator:
        return ""
    lowered = scheme.lower()
    if lowered != scheme and f"{lowered}://" in storage_uri_prefixes():
        return f"{lowered}://"
    return _scheme_mistakes().get(lowered, "")


@dataclass(frozen=True, slots=True)
class UriFormat:
    """One ``supportedUriFormats`` entry of a ClusterStorageContainer."""

    prefix: str = ""
    regex: str = ""

    def matches(self, uri: str) -> bool:
        """Go's ``strings.HasPrefix`` or ``regexp.MatchString`` (unanchored)."""
        if self.prefix:
            return uri.startswith(self.prefix)
        if self.regex:
            compiled = _compile(self.regex)
            return compiled is None or compiled.search(uri) is not None
        return False


@cache
def _compile(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None  # a pattern Python cannot read: assume it matches


def storage_container_formats(graph: ObjectGraph) -> tuple[UriFormat, ...]:
    """URI formats of the enabled init-container ClusterStorageContainers in input."""
    found: list[UriFormat] = []
    for container in graph.of_kind("ClusterStorageContainer"):
        if container.group != GROUP or get_path(container.raw, "spec", "disabled"):
            continue
        workload = get_path(container.raw, "spec", "workloadType")
        if workload not in (None, "initContainer"):
            continue
        for _, item in iter_maps(container.raw, "spec", "supportedUriFormats"):
            prefix, regex = get_str(item, "prefix"), get_str(item, "regex")
            if prefix or regex:
                found.append(UriFormat(prefix, regex))
    return tuple(found)
