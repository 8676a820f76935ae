"""Ingress controllers and proxies: which one serves a route, and its timeouts.

Which workloads a route reaches is ``model/route_backends.py``. Controller facts
used here, with their sources:

- ingress-nginx: ``proxy-read-timeout`` / ``proxy-send-timeout`` default 60 and
  ``proxy-buffering`` default ``"off"`` (``internal/ingress/controller/config/
  config.go``); timeout annotations are parsed with ``strconv.Atoi`` and fall
  back to the controller default when that fails (``internal/ingress/
  annotations/proxy/main.go``, ``parser/main.go``).
- AWS Load Balancer Controller: ``alb.ingress.kubernetes.io/load-balancer-
  attributes`` is a comma-separated ``key=value`` list; IngressClassParams
  ``spec.loadBalancerAttributes`` take precedence (``docs/guide/ingress/
  ingress_class.md``). An ALB's idle timeout defaults to 60 s.
- GKE Ingress (ingress-gce): classes come from the ``kubernetes.io/ingress.class``
  annotation only (``pkg/utils/utils.go`` ``IsGCEIngress``); a Service picks a
  BackendConfig with ``cloud.google.com/backend-config`` (JSON ``default`` and
  ``ports``, port name before number, ``pkg/backendconfig/utils.go``); without
  ``timeoutSec`` the backend service keeps Google Cloud's 30 s default.
- Gateway API: ``Duration`` is ``^([0-9]{1,5}(h|m|s|ms)){1,4}$`` (GEP-2257,
  ``apis/v1/shared_types.go``).
- Istio: ``VirtualService`` ``http[].timeout`` is off unless set.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import (
    Path,
    Resource,
    get_list,
    get_map,
    get_path,
    get_str,
    iter_maps,
)

LLM_RESPONSE_SECONDS = 300
"""Below this a proxy timeout is reported for an LLM route: a 4,096-token
completion at 20 tokens/s takes about 200 s before any queueing, and the
OpenAI API answers in one piece (``stream`` off) unless the client asks."""

NGINX_PREFIX = "nginx.ingress.kubernetes.io/"
NGINX_DEFAULTS = {"proxy-read-timeout": "60", "proxy-send-timeout": "60"}
"""ingress-nginx ConfigMap defaults (config.go NewDefault)."""
NGINX_TIMEOUTS = ("proxy-read-timeout", "proxy-send-timeout", "proxy-connect-timeout")
ALB_IDLE_DEFAULT_SECONDS = 60
ALB_IDLE_KEY = "idle_timeout.timeout_seconds"
ALB_ATTRIBUTES = "alb.ingress.kubernetes.io/load-balancer-attributes"
ALB_GROUP = "alb.ingress.kubernetes.io/group.name"
GCE_BACKEND_TIMEOUT_DEFAULT_SECONDS = 30
GCE_CLASSES = frozenset({"gce", "gce-internal", "gce-regional-external"})
CLASS_ANNOTATION = "kubernetes.io/ingress.class"

_ATOI = re.compile(r"[+-]?[0-9]+")
_DURATION = re.compile(r"([0-9]{1,5}(h|m|s|ms)){1,4}")
_DURATION_PART = re.compile(r"([0-9]{1,5})(ms|h|m|s)")
_UNIT_SECONDS = {"h": Fraction(3600), "m": Fraction(60), "s": Fraction(1)}
_UNIT_SECONDS["ms"] = Fraction(1, 1000)
_NGINX_CONTROLLER_CONFIGMAPS = ("ingress-nginx-controller", "nginx-configuration")
_GO_DURATION = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:h|m|s|ms|us|µs|ns))+")
_GO_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|us|µs|ns|h|m|s)")
_GO_UNIT_SECONDS = {
    "h": Fraction(3600),
    "m": Fraction(60),
    "s": Fraction(1),
    "ms": Fraction(1, 10**3),
    "us": Fraction(1, 10**6),
    "µs": Fraction(1, 10**6),
    "ns": Fraction(1, 10**9),
}


class Controller(StrEnum):
    """The controller that serves an Ingress, as far as the input tells."""

    INGRESS_NGINX = "ingress-nginx"
    ALB = "alb"
    GCE = "gce"
    UNKNOWN = "unknown"


# -- which controller ---------------------------------------------------------------


def ingress_class(ingress: Resource) -> str:
    """``spec.ingressClassName``, else the legacy class annotation, else ``""``."""
    return get_str(ingress.raw, "spec", "ingressClassName") or get_str(
        ingress.annotations, CLASS_ANNOTATION
    )


def _has_prefix(ingress: Resource, prefix: str) -> bool:
    return any(isinstance(k, str) and k.startswith(prefix) for k in ingress.annotations)


def ingress_controller(ingress: Resource, graph: ObjectGraph) -> Controller:
    """Which controller serves the Ingress, from its class and annotations.

    An IngressClass in the input decides by ``spec.controller``; otherwise the
    class name does (``alb``, ``gce``…, a name containing ``nginx``); an
    Ingress without a known class that carries ``nginx.ingress.kubernetes.io/``
    annotations is taken to be meant for ingress-nginx.
    """
    legacy = get_str(ingress.annotations, CLASS_ANNOTATION)
    if legacy in GCE_CLASSES:
        return Controller.GCE
    name = ingress_class(ingress)
    declared = graph.get("IngressClass", "", name) if name else None
    if declared is not None:
        controller = get_str(declared.raw, "spec", "controller")
        if controller == "k8s.io/ingress-nginx":
            return Controller.INGRESS_NGINX
        if controller == "ingress.k8s.aws/alb":
            return Controller.ALB
        return Controller.UNKNOWN
    nginx_inc = _has_prefix(ingress, "nginx.org/")
    if name == "alb":
        return Controller.ALB
    if name in GCE_CLASSES:
        return Controller.UNKNOWN  # spec.ingressClassName: ingress-gce ignores it
    if "nginx" in name and not nginx_inc:
        return Controller.INGRESS_NGINX
    if _has_prefix(ingress, NGINX_PREFIX) and not nginx_inc:
        return Controller.INGRESS_NGINX
    return Controller.UNKNOWN


# -- ingress-nginx ------------------------------------------------------------------


def nginx_annotation(ingress: Resource, name: str) -> tuple[Any, Path] | None:
    """The value of ``nginx.ingress.kubernetes.io/<name>`` and its path, if set."""
    key = NGINX_PREFIX + name
    if key not in ingress.annotations:
        return None
    return ingress.annotations[key], ("metadata", "annotations", key)


def nginx_seconds(value: Any) -> int | None:
    """An ingress-nginx timeout as the controller reads it (``strconv.Atoi``).

    ``None`` when the controller would reject it and use its default instead.
    """
    if not isinstance(value, str) or not _ATOI.fullmatch(value):
        return None
    number = int(value)
    return number if -(2**63) <= number < 2**63 else None


def nginx_is_canary(ingress: Resource) -> bool:
    """A canary Ingress: its other nginx annotations are ignored (annotations.md)."""
    return get_str(ingress.annotations, NGINX_PREFIX + "canary") == "true"


def nginx_snippets(ingress: Resource) -> str:
    """The text of the snippet annotations, which may set any nginx directive."""
    return "\n".join(
        get_str(ingress.annotations, NGINX_PREFIX + name)
        for name in ("configuration-snippet", "server-snippet")
    )


@dataclass(frozen=True, slots=True)
class NginxSetting:
    """A controller-wide ingress-nginx setting and where it came from."""

    value: str | None
    source: str
    """``ConfigMap ns/name``, or ``""`` when no controller ConfigMap is in the input."""


def _controller_configmaps(graph: ObjectGraph) -> tuple[Resource, ...]:
    found = []
    for configmap in graph.of_kind("ConfigMap"):
        labels = configmap.labels
        if configmap.name in _NGINX_CONTROLLER_CONFIGMAPS or (
            labels.get("app.kubernetes.io/name") == "ingress-nginx"
            and labels.get("app.kubernetes.io/component") == "controller"
        ):
            found.append(configmap)
    return tuple(found)


def nginx_global(graph: ObjectGraph, key: str) -> NginxSetting:
    """The controller ConfigMap's value for ``key`` (its default when unset).

    ``value`` is ``None`` when the input's controller ConfigMaps disagree or
    hold a value that is not a string.
    """
    configmaps = graph.derived("ingress.nginx-configmaps", _controller_configmaps)
    default = NGINX_DEFAULTS.get(key)
    if not configmaps:
        return NginxSetting(default, "")
    values: set[str | None] = set()
    for configmap in configmaps:
        value = get_path(configmap.raw, "data", key)
        values.add(
            default if value is None else value if isinstance(value, str) else ""
        )
    source = ", ".join(
        f"ConfigMap {c.namespace}/{c.name}" if c.namespace else f"ConfigMap {c.name}"
        for c in configmaps
    )
    only = values.pop() if len(values) == 1 else None
    return NginxSetting(only or None, source)


# -- AWS Load Balancer Controller -----------------------------------------------------


def alb_attributes(value: Any) -> dict[str, str]:
    """``key=value,key=value`` as the controller's stringMap annotations read it."""
    if not isinstance(value, str):
        return {}
    found: dict[str, str] = {}
    for item in value.split(","):
        key, equals, text = item.partition("=")
        if equals and key.strip():
            found[key.strip()] = text.strip()
    return found


def alb_class_params(
    ingress: Resource, graph: ObjectGraph
) -> tuple[Resource | None, bool]:
    """The IngressClassParams of the Ingress's class: ``(params, known)``.

    ``(None, True)`` when the class names none or is not in the input (the
    chart's default class has none); ``(None, False)`` when it names one that
    is not in the input.
    """
    name = ingress_class(ingress)
    declared = graph.get("IngressClass", "", name) if name else None
    if declared is None:
        return None, True
    params = get_map(declared.raw, "spec", "parameters")
    if get_str(params, "kind") != "IngressClassParams":
        return None, True
    wanted = get_str(params, "name")
    for candidate in graph.of_kind("IngressClassParams"):
        if candidate.name == wanted:
            return candidate, True
    return None, False


def alb_params_attributes(params: Resource) -> dict[str, tuple[str, Path]]:
    """``spec.loadBalancerAttributes`` of IngressClassParams: key → (value, path)."""
    found: dict[str, tuple[str, Path]] = {}
    for index, item in iter_maps(params.raw, "spec", "loadBalancerAttributes"):
        key = get_str(item, "key")
        value = item.get("value")
        if key:
            text = str(value) if isinstance(value, str | int) else ""
            path: Path = ("spec", "loadBalancerAttributes", index, "value")
            found[key] = (text, path)
    return found


def alb_group(ingress: Resource, params: Resource | None) -> str:
    """The IngressGroup: IngressClassParams ``spec.group.name``, else the annotation."""
    if params is not None:
        name = get_str(params.raw, "spec", "group", "name")
        if name:
            return name
    return get_str(ingress.annotations, ALB_GROUP)


def whole_seconds(text: str) -> int | None:
    """A plain decimal number of seconds, else ``None``."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


# -- GKE Ingress ----------------------------------------------------------------------


def gce_backend_config_name(
    service: Resource, port: int | str | None
) -> tuple[str | None, bool]:
    """The BackendConfig a Service port uses: ``(name, known)``.

    ``(None, True)``: the Service names none, so the 30 s default applies.
    ``(None, False)``: the annotation cannot be read as the controller reads it.
    """
    value: Any = None
    for key in (
        "cloud.google.com/backend-config",
        "beta.cloud.google.com/backend-config",
    ):
        if key in service.annotations:
            value = service.annotations[key]
            break
    if value is None:
        return None, True
    try:
        configs = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return None, False
    if not isinstance(configs, dict):
        return None, False
    ports = configs.get("ports") or {}
    default = configs.get("default") or ""
    if not isinstance(ports, dict) or not isinstance(default, str):
        return None, False
    name, number = _service_port(service, port)
    for key in (name, number):
        chosen = ports.get(key) if key else None
        if isinstance(chosen, str) and chosen:
            return chosen, True
    return default or None, True


def _service_port(service: Resource, port: int | str | None) -> tuple[str, str]:
    """The name and number (as text) of the Service port a route names."""
    for _, item in iter_maps(service.raw, "spec", "ports"):
        number = item.get("port")
        name = get_str(item, "name")
        if port is not None and port in (number, name):
            return name, str(number) if isinstance(number, int) else ""
    ports = get_list(service.raw, "spec", "ports")
    if port is None and len(ports) == 1 and isinstance(ports[0], Mapping):
        number = ports[0].get("port")
        return get_str(ports[0], "name"), str(number) if isinstance(number, int) else ""
    return ("", str(port)) if isinstance(port, int) else (port or "", "")


# -- Gateway API ----------------------------------------------------------------------


def gateway_duration(value: Any) -> Fraction | None:
    """Seconds of a Gateway API Duration (GEP-2257), ``None`` if it is not one."""
    if not isinstance(value, str) or not _DURATION.fullmatch(value):
        return None
    return sum(
        (int(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(value)),
        Fraction(0),
    )


def format_seconds(seconds: Fraction | int) -> str:
    """``90`` → ``90 s``; fractions keep three decimals."""
    if isinstance(seconds, int) or seconds.denominator == 1:
        return f"{int(seconds)} s"
    return f"{float(seconds):.3f} s"


# -- Istio VirtualService -------------------------------------------------------------


def go_duration(value: Any) -> Fraction | None:
    """Seconds of a Go-style duration (``30s``, ``1m30s``, ``0.5s``), else ``None``."""
    if not isinstance(value, str) or not _GO_DURATION.fullmatch(value):
        return None
    return sum(
        (
            Fraction(n) * _GO_UNIT_SECONDS[unit]
            for n, unit in _GO_DURATION_PART.findall(value)
        ),
        Fraction(0),
    )
